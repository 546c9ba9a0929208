"""Segmentation: customers sorted into groups.

RFM scores and named segments (`rfm`), ABC classes by revenue or margin (`abc_analysis`), and k-means
clusters: their features (`cluster_features`), the fit, choice of k and stability (`clustering`), their
names, actions and profiles (`cluster_naming`) and notebook 03's words and tables (`cluster_views`).
Imports `core`, `data` and `features`."""
