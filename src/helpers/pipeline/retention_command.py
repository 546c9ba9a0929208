"""`workbook retention`: the cohort question agencies answer in spreadsheets, answered by the sBG model.

Given one cohort's survivors per period (first the cohort size, as in Fader and Hardie 2007: 1000, 631, 468,
...), fit the shifted-beta-geometric model and project the expected survivors for the next periods, in the
input's unit (clients, thousands, percent: the projection scales with it; the log-likelihood is in it too).
"""

from __future__ import annotations

import json
from typing import Any

from helpers.clv.lifetimes_bridge import ConvergenceError, quiet
from helpers.clv.models.sbg import ShiftedBetaGeometric
from helpers.core.errors import UsageError


def parse_survivors(text: str) -> list[float]:
    """``"1000,631,468"`` as numbers; a value that is no number is named."""
    parts = [part.strip() for part in str(text).split(",")]
    values = []
    for position, part in enumerate(parts):
        try:
            values.append(float(part))
        except ValueError:
            shown = f"{part!r}" if part else "an empty value"
            raise UsageError(
                f"--survivors: value {position + 1} is {shown}, not a number; give the cohort size and the "
                "survivors per period separated by commas, e.g. --survivors 1000,631,468,382"
            ) from None
    return values


def retention_projection(survivors: Any, periods: int = 5) -> dict[str, Any]:
    """The sBG fit on the survivors and the expected survivors of the ``periods`` periods after the last one
    given: {"gamma", "delta", "log_likelihood", "projected_survivors"}. Input the model cannot use is a
    :class:`UsageError` naming the problem."""
    if isinstance(periods, bool) or int(periods) != periods or periods < 1:
        raise UsageError(f"--periods must be a whole number >= 1, got {periods!r}")
    model = ShiftedBetaGeometric()
    try:
        with quiet():
            model.fit_survivors(survivors)
    except ConvergenceError:
        raise UsageError(
            "these survivors give no sBG estimate: their retention rate does not rise from period to period, so "
            "the best fit is one churn probability for every client (gamma and delta run off to infinity); a "
            "constant retention rate describes this cohort"
        ) from None
    projected = model.projected_survivors(model.cohort_size_, int(periods), after=model.observed_periods_)
    return {
        "gamma": model.params_["gamma"],
        "delta": model.params_["delta"],
        "log_likelihood": model.log_likelihood_,
        "projected_survivors": [float(value) for value in projected],
    }


def as_json(result: dict[str, Any]) -> str:
    """Exactly the four keys, as one JSON object."""
    keys = ("gamma", "delta", "log_likelihood", "projected_survivors")
    return json.dumps({key: result[key] for key in keys})


def as_text(result: dict[str, Any], observed_periods: int) -> str:
    """The fit and the projection for people: parameters, log-likelihood, one line per projected period."""
    gamma, delta = result["gamma"], result["delta"]
    lines = [
        "sBG retention model (Fader and Hardie 2007)",
        f"gamma          {gamma:.4f}",
        f"delta          {delta:.4f}",
        f"log-likelihood {result['log_likelihood']:.1f}",
        f"mean churn probability {gamma / (gamma + delta):.1%}",
        "expected survivors (in the input's unit):",
    ]
    for offset, value in enumerate(result["projected_survivors"], start=1):
        lines.append(f"  period {observed_periods + offset:>3}  {value:,.1f}")
    return "\n".join(lines)
