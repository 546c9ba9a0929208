"""Potential: the 2x2 matrix of upsell and growth potential.

Funnel maturity from the service map (`funnel`), the scores, quadrants and reasons (`scoring`) and the
B2B qualification of accounts (`qualification`). Imports `core`, `data`, `features` and `clv`."""
