"""The models, as estimator classes (``Model().fit(...)`` returns the model with ``params_``).

Purchases: BG/NBD and MBG/NBD (`beta_geo`), Pareto/NBD (`pareto`); spend per purchase: Gamma-Gamma
(`gamma_gamma`); what they share and the guard before a fit (`base`); the setting's name of a model, and
the penalizer retries and fallback to another model (`robust_fit`)."""
