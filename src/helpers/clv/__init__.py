"""Customer lifetime value.

The models as estimator classes (`models/`: BG/NBD, Pareto/NBD, MBG/NBD, Gamma-Gamma, the robust fit),
their fast exact fitters (`fitting/`), the quick agency formula (`quick`), the probabilistic valuation
with discounting and the "likely gone" rule (`valuation`), the model checks (`diagnostics`), the checked
model inputs (`inputs`) and every call into lifetimes
(`lifetimes_bridge`). Imports `core`, `data` and `features`."""
