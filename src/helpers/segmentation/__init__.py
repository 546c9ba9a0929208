"""Segmentation: customers sorted into groups.

RFM scores and named segments (`rfm`), ABC classes by revenue or margin (`abc_analysis`) and k-means
clusters with their names (`clustering`). Imports `core`, `data` and `features`."""
