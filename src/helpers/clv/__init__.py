"""Customer lifetime value.

The quick formula and the probabilistic valuation (`valuation`), the purchase and spend models
(`purchase_models`) and their fast exact fitters (`fast_fit`). Imports `core`, `data` and `features`."""
