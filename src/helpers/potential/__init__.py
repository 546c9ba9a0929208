"""Potential: the 2x2 matrix of upsell and growth potential, and who gets how much attention.

Funnel maturity from the service map (`funnel`); the components' points, peers and thresholds (`points`);
the checked settings, quadrants and service levels (`service_levels`); the reasons in words (`reasons`);
inputs, scores and summaries (`scoring`); what the matrix chart shows (`matrix_view`); the B2B
qualification of accounts (`qualification`). Imports `core`, `data`, `features` and `clv`."""
