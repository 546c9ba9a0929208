"""Fitting internals: fast exact maximum-likelihood fits with lifetimes' own objective (numpy/scipy only).

The shared optimiser (`optimiser`: L-BFGS-B from lifetimes' start, Newton steps to the optimum), the
building blocks of the exact data reductions (`grids`), and the objectives of the BG/NBD family
(`bg_family`), of Pareto/NBD (`pareto_nbd`, also its vectorised P(alive)) and of Gamma-Gamma
(`gamma_gamma`). Used by the models in `helpers.clv.models`."""
