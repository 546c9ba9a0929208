"""Buy-till-you-die models: BG/NBD, Pareto/NBD, MBG/NBD and Gamma-Gamma.

This is the ONLY module of the workbook that imports ``lifetimes`` (0.11.3, unmaintained). Every call into
it lives here, always with plain numpy arrays (its fitters work on numpy 2 / pandas 3 that way).

What this module adds on top of lifetimes:

- **Compression**: identical (frequency, recency, T) rows are fitted once with a weight (the number of
  customers having that pattern), as Fader and Hardie do in their spreadsheets. The likelihood is the same,
  so the parameters are the same as for the plain fit; a million customers with daily data collapse into
  far fewer unique rows.
- **Published log-likelihood** (:func:`log_likelihood`): lifetimes fits on time scaled to max(T) = 1 and
  reports a *mean* negative log-likelihood of that scaled problem. We report the total log-likelihood of the
  published form on the unscaled data (Fader, Hardie and Lee 2005), which is what papers quote
  (CDNOW sample, BG/NBD: -9582.4).
- **Robustness** (:func:`fit_purchase_model`): a ``ConvergenceError`` (or a non-finite result) triggers a
  retry with a larger penalizer (0, 0.001, 0.01, 0.1), then the next model. The :class:`FitResult` says which
  model and penalizer were used and why.
- **Vectorised predictions** from the parameters alone (a fitter is rebuilt from ``FitResult.params``):
  expected purchases, P(alive), Gamma-Gamma expected spend and a discounted CLTV computed month by month.
  The expected purchases factor as P(alive) times the purchases of a customer still active
  (:func:`purchases_if_alive`), which depends on frequency and T only: that costly part is computed once per
  distinct (frequency, T) pair, on a months x pairs matrix for the CLTV. Equal to lifetimes' own formulas.
- **The distribution of repeat purchases** (:func:`repeat_purchase_probabilities`) of every model, exact
  (BG/NBD, MBG/NBD) or integrated numerically (Pareto/NBD), for the model check of the report.

Time unit: ``recency`` and ``T`` are in the unit of the summary (weeks by default, ``unit_days=7``);
horizons are given in months and converted with ``periods_per_month = (365.25 / 12) / unit_days``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.utils import ConvergenceError
from scipy.special import gammaln, hyp2f1, logsumexp

from helpers.clv import fast_fit

__all__ = [
    "MODELS",
    "MODEL_LABELS",
    "PENALIZERS",
    "ConvergenceError",
    "FitResult",
    "compress_rows",
    "fit_model",
    "fit_purchase_model",
    "fit_gamma_gamma",
    "log_likelihood",
    "gamma_gamma_log_likelihood",
    "expected_purchases",
    "probability_alive",
    "purchases_if_alive",
    "expected_average_spend",
    "gamma_gamma_population_mean",
    "discounted_cltv",
    "lifetimes_reference_cltv",
    "periods_per_month",
]

#: Purchase models in fallback order (the default first).
MODELS: tuple[str, ...] = ("bgnbd", "pareto", "mbgnbd")
MODEL_LABELS: dict[str, str] = {
    "bgnbd": "BG/NBD",
    "pareto": "Pareto/NBD",
    "mbgnbd": "MBG/NBD",
    "gamma_gamma": "Gamma-Gamma",
}
#: Penalizer schedule tried in this order when a fit does not converge.
PENALIZERS: tuple[float, ...] = (0.0, 0.001, 0.01, 0.1)

_PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "pareto": ("r", "alpha", "s", "beta"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "gamma_gamma": ("p", "q", "v"),
}
_FITTERS: dict[str, type] = {
    "bgnbd": BetaGeoFitter,
    "pareto": ParetoNBDFitter,
    "mbgnbd": ModifiedBetaGeoFitter,
    "gamma_gamma": GammaGammaFitter,
}
# compress=True fits BG/NBD, MBG/NBD and Gamma-Gamma with helpers.clv.fast_fit: lifetimes' exact objective (same
# scaling, same penalty on the scaled parameters, same start), reduced exactly to distinct x / times / rows,
# analytic gradients, optimised to a gradient of ~1e-12. A model whose entry in _FITTERS was replaced
# (tests, experiments) keeps going through that fitter.
_FAST_FITS: dict[str, Any] = {
    "bgnbd": fast_fit.fit_bgnbd,
    "mbgnbd": fast_fit.fit_mbgnbd,
    "gamma_gamma": fast_fit.fit_gamma_gamma,
}
_STOCK_FITTERS: dict[str, type] = dict(_FITTERS)


def _uses_fast_fit(model_name: str) -> bool:
    return model_name in _FAST_FITS and _FITTERS.get(model_name) is _STOCK_FITTERS.get(model_name)


# Pareto/NBD in lifetimes uses Nelder-Mead from a random start with tol=1e-4; a fixed start and a tight
# tolerance make it deterministic and make the weighted fit agree with the plain one.
_PARETO_FIT_KWARGS: dict[str, Any] = {"initial_params": np.ones(4), "tol": 1e-10, "maxiter": 10000}


@dataclass
class FitResult:
    """Which model was fitted, with what, and how it went.

    ``params`` holds the parameters by their published names (BG/NBD and MBG/NBD: r, alpha, a, b;
    Pareto/NBD: r, alpha, s, beta; Gamma-Gamma: p, q, v). ``log_likelihood`` is the total log-likelihood
    of the published form on the unscaled data. ``notes`` explains every retry and fallback in plain words.
    """

    model_name: str
    params: dict[str, float]
    penalizer: float
    log_likelihood: float
    notes: list[str] = field(default_factory=list)
    n_customers: int = 0
    n_unique_rows: int = 0

    @property
    def label(self) -> str:
        return MODEL_LABELS.get(self.model_name, self.model_name)

    def describe(self) -> str:
        """One line for a report: model, parameters, penalizer, log-likelihood."""
        pars = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        pen = f", penalizer={self.penalizer:g}" if self.penalizer else ""
        return f"{self.label}: {pars}{pen}; log-likelihood {self.log_likelihood:.1f}"


# --------------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------------
def _arr(values: Any) -> np.ndarray:
    return np.asarray(values, dtype="float64").reshape(-1)


def periods_per_month(unit_days: float = 7.0) -> float:
    """Model time units per average month (365.25/12 days): 4.348 for weeks, 30.44 for days."""
    return (365.25 / 12.0) / float(unit_days)


def compress_rows(*columns: Any) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Unique rows of the given equally long columns, in lexicographic order.

    Returns ``(unique_columns, weights, inverse)``: ``unique_columns[k][inverse]`` rebuilds column k,
    ``weights`` counts the customers per unique row.
    """
    import pandas as pd  # local, as in _fitter_from_params: the rest of the module is plain numpy

    arrays = [_arr(c) for c in columns]
    # Each column's distinct values by hashing (pandas), then sorted: a million rows hold few distinct
    # frequencies or ages, and sorting a million floats per column took most of the time.
    codes, levels = [], []
    for values in arrays:
        code, level = pd.factorize(values, sort=True, use_na_sentinel=False)
        codes.append(np.asarray(code, dtype="int64"))
        levels.append(np.asarray(level, dtype="float64"))
    sizes = [len(level) for level in levels]
    combinations = float(np.prod(np.asarray(sizes, dtype="float64")))
    if combinations >= 2.0**62:
        stacked = np.column_stack(arrays)
        unique, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
        return [unique[:, k] for k in range(unique.shape[1])], counts.astype("float64"), inverse.reshape(-1)
    # One int64 key per row from the codes (the same lexicographic order as the rows)
    key = np.zeros(len(arrays[0]), dtype="int64")
    for code, size in zip(codes, sizes, strict=True):
        key = key * size + code
    if combinations <= max(4 * len(key), 1 << 20):
        # few possible combinations (frequency x age): count them in a table instead of sorting the keys
        table = np.bincount(key, minlength=int(combinations))
        unique_keys = np.flatnonzero(table)
        position = np.zeros(int(combinations), dtype="int64")
        position[unique_keys] = np.arange(len(unique_keys))
        inverse, counts = position[key], table[unique_keys]
    else:
        unique_keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    unique_columns = []
    remainder = unique_keys
    for level, size in zip(reversed(levels), reversed(sizes), strict=True):
        unique_columns.append(level[remainder % size])
        remainder = remainder // size
    return unique_columns[::-1], counts.astype("float64"), inverse.reshape(-1)


def _check_frt(frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> None:
    if not (len(frequency) == len(recency) == len(T)):
        raise ValueError("frequency, recency and T must have the same length")
    if len(frequency) == 0:
        raise ValueError("no customers to fit")
    if not (np.isfinite(frequency).all() and np.isfinite(recency).all() and np.isfinite(T).all()):
        raise ValueError("frequency, recency and T must be finite (no NaN)")


# --------------------------------------------------------------------------------------------------
# log-likelihoods in the published form
# --------------------------------------------------------------------------------------------------
def _ll_bgnbd(params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    # Fader, Hardie and Lee (2005a), eq. (6)
    r, alpha, a, b = (params[k] for k in _PARAM_NAMES["bgnbd"])
    ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    ln_a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    ln_a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_a4 = np.where(
            x > 0,
            np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4)


def _ll_mbgnbd(params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    # Batislam, Denizel and Filiztekin (2007); the same form lifetimes minimises, on unscaled time
    r, alpha, a, b = (params[k] for k in _PARAM_NAMES["mbgnbd"])
    ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    ln_a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
    ln_a3 = -(r + x) * np.log(alpha + T)
    ln_a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return ln_a1 + ln_a2 + ln_a3 + np.logaddexp(ln_a4, 0.0)


def _ll_pareto(params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    # Fader and Hardie (2005), "A note on deriving the Pareto/NBD model and related expressions", eq. (18-20)
    r, alpha, s, beta = (params[k] for k in _PARAM_NAMES["pareto"])
    if alpha >= beta:
        big, small, second = alpha, beta, s + 1.0
    else:
        big, small, second = beta, alpha, r + x
    rsx = r + s + x
    diff = big - small
    ln_p1 = np.log(hyp2f1(rsx, second, rsx + 1.0, diff / (big + t_x))) - rsx * np.log(big + t_x)
    ln_p2 = np.log(hyp2f1(rsx, second, rsx + 1.0, diff / (big + T))) - rsx * np.log(big + T)
    # A0 = p1 - p2 >= 0 (t_x <= T); equal when t_x == T
    ln_a0 = logsumexp(np.vstack([ln_p1, ln_p2]), axis=0, b=np.vstack([np.ones_like(x), -np.ones_like(x)]))
    ln_first = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    ln_second = np.log(s) - np.log(rsx) + ln_a0
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return head + np.logaddexp(ln_first, ln_second)


_LL = {"bgnbd": _ll_bgnbd, "pareto": _ll_pareto, "mbgnbd": _ll_mbgnbd}


def log_likelihood(
    model_name: str,
    params: dict[str, float],
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any | None = None,
) -> float:
    """Total log-likelihood of a purchase model in the published form on the unscaled data.

    ``model_name`` is one of ``bgnbd``, ``pareto``, ``mbgnbd``; ``params`` by published names. On the CDNOW
    1/10 sample (weeks, calibration to 1997-09-30) BG/NBD with r=0.243, alpha=4.414, a=0.793, b=2.426 gives
    -9582.4 (Fader, Hardie and Lee 2005a). ``weights`` (customers per row) allow compressed input.
    """
    if model_name not in _LL:
        raise ValueError(f"unknown purchase model {model_name!r}; use one of {list(_LL)}")
    x, t_x, T_ = _arr(frequency), _arr(recency), _arr(T)
    ll = _LL[model_name](params, x, t_x, T_)
    w = np.ones_like(x) if weights is None else _arr(weights)
    return float(np.sum(w * ll))


def gamma_gamma_log_likelihood(
    params: dict[str, float], frequency: Any, monetary_value: Any, weights: Any | None = None
) -> float:
    """Total Gamma-Gamma log-likelihood (Fader, Hardie and Lee 2005b; Hardie's note 025, eq. 1a).

    Like lifetimes (and the published spreadsheet) it omits the per-customer constant that does not
    depend on the parameters, so values are comparable between fits on the same data only.
    """
    p, q, v = (params[k] for k in _PARAM_NAMES["gamma_gamma"])
    x, m = _arr(frequency), _arr(monetary_value)
    ll = (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + (p * x) * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )
    w = np.ones_like(x) if weights is None else _arr(weights)
    return float(np.sum(w * ll))


# --------------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------------
def _new_fitter(model_name: str, penalizer: float = 0.0) -> Any:
    if model_name not in _FITTERS:
        raise ValueError(f"unknown model {model_name!r}; use one of {list(_FITTERS)}")
    return _FITTERS[model_name](penalizer_coef=penalizer)


def _fitter_from_params(model_name: str, params: dict[str, float]) -> Any:
    """A lifetimes fitter carrying the given parameters (for its prediction formulas)."""
    import pandas as pd  # local: only needed to hand lifetimes its params_ Series

    fitter = _new_fitter(model_name)
    names = _PARAM_NAMES[model_name]
    fitter.params_ = pd.Series([float(params[k]) for k in names], index=list(names))
    return fitter


def _fit_model_unchecked(
    model_name: str,
    frequency: Any,
    recency: Any,
    T: Any,
    penalizer: float = 0.0,
    compress: bool = True,
) -> FitResult:
    """One fit of a purchase model; raises ``ConvergenceError`` (or ``ValueError``) as lifetimes does.

    With ``compress=True`` identical (frequency, recency, T) rows are fitted once with weights; the
    likelihood is identical, so are the parameters (to the optimiser's tolerance). BG/NBD and MBG/NBD then
    use :mod:`helpers.clv.fast_fit`: lifetimes' own objective (time scaled to max(T) = 1, mean negative
    log-likelihood plus ``penalizer * sum(params**2)`` on the scaled parameters, so a penalizer means the
    same as in lifetimes) with analytic gradients on an exact reduction of the data, optimised to the true
    optimum (lifetimes' BFGS stops at gradient norm 1e-7, within about 1e-6 relative of it). Pareto/NBD
    stays lifetimes' weighted fit. ``compress=False`` is lifetimes' plain fit on every customer (the
    reference).
    """
    if model_name not in _LL:
        raise ValueError(f"unknown purchase model {model_name!r}; use one of {list(_LL)}")
    x, t_x, T_ = _arr(frequency), _arr(recency), _arr(T)
    _check_frt(x, t_x, T_)
    if compress and _uses_fast_fit(model_name):
        try:
            fast = _FAST_FITS[model_name](x, t_x, T_, penalizer=penalizer)
        except fast_fit.FastFitError as exc:
            raise ConvergenceError(str(exc)) from exc
        return FitResult(
            model_name=model_name,
            params=fast.params,
            penalizer=float(penalizer),
            log_likelihood=fast.log_likelihood,
            notes=[],
            n_customers=len(x),
            n_unique_rows=fast.n_rows,
        )
    if compress:
        (ux, ut, uT), weights, _ = compress_rows(x, t_x, T_)
    else:
        ux, ut, uT, weights = x, t_x, T_, None
    kwargs = dict(_PARETO_FIT_KWARGS) if model_name == "pareto" else {}
    fitter = _new_fitter(model_name, penalizer)
    fitter.fit(ux, ut, uT, weights=weights, **kwargs)
    params = {k: float(fitter.params_[k]) for k in _PARAM_NAMES[model_name]}
    if not all(np.isfinite(v) and v > 0 for v in params.values()):
        raise ConvergenceError(f"{MODEL_LABELS[model_name]} returned invalid parameters {params}")
    ll = log_likelihood(model_name, params, ux, ut, uT, weights)
    if not np.isfinite(ll):
        raise ConvergenceError(f"{MODEL_LABELS[model_name]} gives a non-finite log-likelihood")
    return FitResult(
        model_name=model_name,
        params=params,
        penalizer=float(penalizer),
        log_likelihood=ll,
        notes=[],
        n_customers=len(x),
        n_unique_rows=len(ux),
    )


def fit_model(
    model_name: str,
    frequency: Any,
    recency: Any,
    T: Any,
    penalizer: float = 0.0,
    compress: bool = True,
) -> FitResult:
    """One fit of a purchase model (see :func:`_fit_model_unchecked`) that is usable: its predictions are
    finite for the customers it was fitted on. On some data the likelihood keeps rising as r and alpha
    grow together without bound (the Poisson limit); the optimum is then "at infinity" and the formulas
    overflow. That is reported as a ConvergenceError, so that the penalizer schedule (which keeps the
    parameters finite) or the next model takes over."""
    result = _fit_model_unchecked(model_name, frequency, recency, T, penalizer=penalizer, compress=compress)
    x, t_x, T_ = _arr(frequency), _arr(recency), _arr(T)
    # Runaway parameters break the formulas for (nearly) every customer, so a spread of customers plus
    # the extremes is enough to see it, at a fixed cost whatever the size of the base.
    probe = np.unique(np.concatenate([
        np.linspace(0, len(x) - 1, min(len(x), 5000)).astype("int64"),
        [int(np.argmax(x)), int(np.argmax(T_)), int(np.argmin(T_)), int(np.argmax(t_x))],
    ])) if len(x) else np.arange(0)
    with np.errstate(all="ignore"):
        horizon = float(np.max(T_)) if len(T_) else 1.0
        finite = np.isfinite(
            expected_purchases(result, horizon, x[probe], t_x[probe], T_[probe])
        ).all() and np.isfinite(probability_alive(result, x[probe], t_x[probe], T_[probe])).all()
    if not finite:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in result.params.items())
        raise ConvergenceError(
            f"{MODEL_LABELS[model_name]} parameters ({shown}) give non-finite predictions: the fit ran off "
            f"towards a limit"
        )
    return result


def _try_penalizers(fit_once: Any, label: str, penalizers: Sequence[float], notes: list[str]) -> Any:
    for pen in penalizers:
        try:
            result = fit_once(pen)
        except (ConvergenceError, FloatingPointError, np.linalg.LinAlgError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            notes.append(f"{label} with penalizer {pen:g} did not converge ({reason}).")
            continue
        if pen:
            notes.append(f"{label} converged with penalizer {pen:g}.")
        return result
    return None


def fit_purchase_model(
    frequency: Any,
    recency: Any,
    T: Any,
    model: str = "bgnbd",
    penalizers: Sequence[float] = PENALIZERS,
    fallback: bool = True,
    compress: bool = True,
) -> FitResult:
    """Fit a purchase model robustly.

    Tries ``model`` with each penalizer in ``penalizers`` (0, 0.001, 0.01, 0.1); if none converges and
    ``fallback`` is true, tries the other models in the order of :data:`MODELS` the same way. The returned
    :class:`FitResult` names the model and penalizer used; ``notes`` says why (every failed attempt).
    Raises ``ConvergenceError`` naming all attempts when nothing converges.
    """
    if model not in _LL:
        raise ValueError(f"unknown purchase model {model!r}; use one of {list(_LL)}")
    candidates = [model] + ([m for m in MODELS if m != model] if fallback else [])
    notes: list[str] = []
    for name in candidates:
        result = _try_penalizers(
            lambda pen, name=name: fit_model(name, frequency, recency, T, penalizer=pen, compress=compress),
            MODEL_LABELS[name],
            penalizers,
            notes,
        )
        if result is not None:
            if name != model:
                notes.append(
                    f"Fell back from {MODEL_LABELS[model]} to {MODEL_LABELS[name]} because "
                    f"{MODEL_LABELS[model]} did not converge with any penalizer."
                )
            elif not notes:
                notes.append(f"{MODEL_LABELS[name]} converged without penalizer.")
            result.notes = notes
            return result
    raise ConvergenceError("No purchase model converged. " + " ".join(notes))


def fit_gamma_gamma(
    frequency: Any,
    monetary_value: Any,
    penalizers: Sequence[float] = PENALIZERS,
    compress: bool = True,
) -> FitResult:
    """Fit Gamma-Gamma on the repeat buyers with positive spend.

    Rows with ``frequency == 0`` or ``monetary_value <= 0`` (or NaN) are excluded before fitting (the model
    needs at least one repeat purchase with a positive amount); ``notes`` counts them. A fit whose q <= 1
    has no finite population mean and is treated as not converged (next penalizer). Raises
    ``ConvergenceError`` when no penalizer works or no customer is left.

    ``compress=True`` uses :mod:`helpers.clv.fast_fit` (lifetimes' objective and penalty, analytic gradient and
    Hessian, rows grouped by the exact value of x*m, which is all the likelihood needs of a row);
    ``n_unique_rows`` then counts those distinct values. ``compress=False`` is lifetimes' plain fit.
    """
    x, m = _arr(frequency), _arr(monetary_value)
    keep = (x > 0) & np.isfinite(m) & (m > 0)
    notes: list[str] = []
    dropped_zero = int(np.sum(x <= 0))
    dropped_nonpos = int(np.sum((x > 0) & ~((m > 0) & np.isfinite(m))))
    notes.append(
        f"Gamma-Gamma fitted on {int(keep.sum())} repeat buyers; excluded {dropped_zero} without repeat "
        f"purchase and {dropped_nonpos} with zero/negative spend."
    )
    if keep.sum() < 2:
        raise ConvergenceError("Gamma-Gamma needs at least two repeat buyers with positive spend. " + notes[0])
    x, m = x[keep], m[keep]
    fast = compress and _uses_fast_fit("gamma_gamma")
    if compress and not fast:
        (ux, um), weights, _ = compress_rows(x, m)
    else:
        ux, um, weights = x, m, None

    def fit_fast(pen: float) -> FitResult:
        try:
            result = _FAST_FITS["gamma_gamma"](x, m, penalizer=pen)
        except fast_fit.FastFitError as exc:
            raise ConvergenceError(str(exc)) from exc
        if result.params["q"] <= 1:
            raise ConvergenceError(f"q={result.params['q']:.3g} <= 1 gives no finite mean spend")
        return FitResult(
            model_name="gamma_gamma",
            params=result.params,
            penalizer=float(pen),
            log_likelihood=result.log_likelihood,
            n_customers=len(x),
            n_unique_rows=result.n_rows,
        )

    def fit_once(pen: float) -> FitResult:
        if fast:
            return fit_fast(pen)
        fitter = _new_fitter("gamma_gamma", pen)
        fitter.fit(ux, um, weights=weights)
        params = {k: float(fitter.params_[k]) for k in _PARAM_NAMES["gamma_gamma"]}
        if not all(np.isfinite(v) and v > 0 for v in params.values()):
            raise ConvergenceError(f"invalid parameters {params}")
        if params["q"] <= 1:
            raise ConvergenceError(f"q={params['q']:.3g} <= 1 gives no finite mean spend")
        return FitResult(
            model_name="gamma_gamma",
            params=params,
            penalizer=float(pen),
            log_likelihood=gamma_gamma_log_likelihood(params, ux, um, weights),
            n_customers=len(x),
            n_unique_rows=len(ux),
        )

    result = _try_penalizers(fit_once, "Gamma-Gamma", penalizers, notes)
    if result is None:
        raise ConvergenceError("Gamma-Gamma did not converge. " + " ".join(notes))
    result.notes = notes
    return result


# --------------------------------------------------------------------------------------------------
# predictions (vectorised; the costly parts computed once per distinct history)
# --------------------------------------------------------------------------------------------------
# lifetimes' Pareto/NBD formulas take log(0) when the last purchase falls on the observation end
# (recency == T) and return NaN; the predictions are continuous there, so evaluate a hair before T.
_RECENCY_NUDGE = 1e-9


def _nudged_recency(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    return np.where((x > 0) & (t_x >= T), T - _RECENCY_NUDGE * np.maximum(T, 1.0), t_x)


def _per_unique_row(fn: Any, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    x, t_x, T_ = _arr(frequency), _arr(recency), _arr(T)
    (ux, ut, uT), _, inverse = compress_rows(x, t_x, T_)
    out = np.asarray(fn(ux, _nudged_recency(ux, ut, uT), uT), dtype="float64")
    return out[..., inverse] if out.ndim == 1 else out[:, inverse]


def probability_alive(fit: FitResult, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """P(customer still active) given the history, for each customer (lifetimes' formula)."""
    fitter = _fitter_from_params(fit.model_name, fit.params)

    def alive(x: np.ndarray, t_x: np.ndarray, T_: np.ndarray) -> np.ndarray:
        return np.clip(fitter.conditional_probability_alive(x, t_x, T_), 0.0, 1.0)

    if fit.model_name == "pareto":
        # two hypergeometric functions per customer: worth finding the distinct histories first
        return _per_unique_row(alive, frequency, recency, T)
    # BG/NBD and MBG/NBD: a few array operations, cheaper than finding the distinct histories
    x, t_x, T_ = _arr(frequency), _arr(recency), _arr(T)
    return np.asarray(alive(x, _nudged_recency(x, t_x, T_), T_), dtype="float64").reshape(-1)


def purchases_if_alive(fit: FitResult, t: Any, frequency: Any, T: Any) -> np.ndarray:
    """Expected purchases in the next ``t`` time units of a customer who is still active, after
    ``frequency`` repeat purchases over the age ``T`` (numpy broadcasting over t, frequency, T).

    The conditional expectation of every model here factors as P(alive | x, t_x, T) times this term, which
    does not depend on the recency (Fader, Hardie and Lee 2005a, eq. 10; Batislam et al. 2007; Fader and
    Hardie 2005 for Pareto/NBD). The term is the costly part (a hypergeometric function for BG/NBD and
    MBG/NBD), and a million customers have a few ten thousand distinct (frequency, T) pairs but hundreds of
    thousands of distinct (frequency, recency, T) rows. The arithmetic is lifetimes' own numerator
    (``conditional_expected_number_of_purchases_up_to_time``), including its fallback for BG/NBD when the
    hypergeometric function overflows.
    """
    r, alpha = fit.params["r"], fit.params["alpha"]
    x, T_ = np.asarray(frequency, dtype="float64"), np.asarray(T, dtype="float64")
    t_ = np.asarray(t, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if fit.model_name == "bgnbd":
            a, b = fit.params["a"], fit.params["b"]
            _a, _b, _c = r + x, b + x, a + b + x - 1
            z = t_ / (alpha + T_ + t_)
            _a, _b, _c, z = np.broadcast_arrays(_a, _b, _c, z)
            ln_hyp = np.log(np.asarray(hyp2f1(_a, _b, _c, z), dtype="float64"))
            overflow = np.isinf(ln_hyp)
            if overflow.any():  # lifetimes' equivalent form, only where it is needed
                a_, b_, c_, z_ = _a[overflow], _b[overflow], _c[overflow], z[overflow]
                ln_hyp[overflow] = np.log(hyp2f1(c_ - a_, c_ - b_, c_, z_)) + (c_ - a_ - b_) * np.log(1 - z_)
            second = 1 - np.exp(ln_hyp + (r + x) * np.log((alpha + T_) / (alpha + t_ + T_)))
            return (a + b + x - 1) / (a - 1) * second
        if fit.model_name == "mbgnbd":
            a, b = fit.params["a"], fit.params["b"]
            hyp = hyp2f1(r + x, b + x + 1, a + b + x, t_ / (alpha + T_ + t_))
            return (a + b + x) / (a - 1) * (1 - hyp * ((alpha + T_) / (alpha + t_ + T_)) ** (r + x))
        if fit.model_name == "pareto":
            s, beta = fit.params["s"], fit.params["beta"]
            second = np.log(r + x) + np.log(beta + T_) - np.log(alpha + T_)
            third = np.log((1 - ((beta + T_) / (beta + T_ + t_)) ** (s - 1)) / (s - 1))
            return np.exp(second + third)
    raise ValueError(f"unknown purchase model {fit.model_name!r}; use one of {list(_LL)}")


def expected_purchases(fit: FitResult, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Expected number of purchases in the next ``t`` time units for each customer: P(alive) times
    :func:`purchases_if_alive`, which is computed once per distinct (frequency, T). Equals lifetimes'
    ``conditional_expected_number_of_purchases_up_to_time`` (tests) at a fraction of its cost."""
    x, t_x, T_ = _arr(frequency), _arr(recency), _arr(T)
    if t <= 0:
        return np.zeros(len(x))
    (ux, uT), _, inverse = compress_rows(x, T_)
    return probability_alive(fit, x, t_x, T_) * purchases_if_alive(fit, float(t), ux, uT)[inverse]


def gamma_gamma_population_mean(gg: FitResult) -> float:
    """Mean spend per purchase of the population: p*v/(q-1) (finite only for q > 1)."""
    p, q, v = (gg.params[k] for k in _PARAM_NAMES["gamma_gamma"])
    return float(p * v / (q - 1.0)) if q > 1 else float("nan")


def expected_average_spend(gg: FitResult, frequency: Any, monetary_value: Any) -> np.ndarray:
    """Gamma-Gamma conditional expected spend per purchase (Hardie's note 025, eq. 5).

    A weighted average of the customer's own mean spend and the population mean, the weight
    p*x/(p*x+q-1) growing with the number of repeat purchases x; x = 0 gives the population mean.
    """
    p, q, _ = (gg.params[k] for k in _PARAM_NAMES["gamma_gamma"])
    x, m = _arr(frequency), _arr(monetary_value)
    m = np.where(np.isfinite(m), m, 0.0)
    weight = p * x / (p * x + q - 1.0)
    return (1.0 - weight) * gamma_gamma_population_mean(gg) + weight * m


def _monthly_rate(yearly_discount_rate: float) -> float:
    return (1.0 + float(yearly_discount_rate)) ** (1.0 / 12.0) - 1.0


def discounted_cltv(
    fit: FitResult,
    frequency: Any,
    recency: Any,
    T: Any,
    expected_spend: Any,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    margin: float | Any = 1.0,
    unit_days: float = 7.0,
    monthly_discount_rate: float | None = None,
    periods_per_month_: float | None = None,
) -> np.ndarray:
    """Discounted customer lifetime value over ``horizon_months``, vectorised.

    CLTV = sum over months m = 1..H of (E[purchases up to m] - E[purchases up to m-1]) x expected spend
    x margin / (1 + monthly rate)^m. ``discount_rate`` is yearly; the monthly rate is (1+d)^(1/12) - 1
    unless ``monthly_discount_rate`` is given. A month is ``periods_per_month(unit_days)`` model time units
    unless ``periods_per_month_`` is given (lifetimes uses 4.345 weeks). ``margin`` is a fraction, scalar or
    per customer. The month-by-month expectation is computed on a months x distinct (frequency, T) grid
    (:func:`purchases_if_alive`) and multiplied by each customer's P(alive).
    """
    horizon = int(horizon_months)
    if horizon < 0:
        raise ValueError("horizon_months must be >= 0")
    n = len(_arr(frequency))
    if horizon == 0:
        return np.zeros(n)
    step = periods_per_month(unit_days) if periods_per_month_ is None else float(periods_per_month_)
    rate = _monthly_rate(discount_rate) if monthly_discount_rate is None else float(monthly_discount_rate)
    months = np.arange(1, horizon + 1, dtype="float64")
    x, t_x, T_ = _arr(frequency), _arr(recency), _arr(T)
    # E[purchases up to month m] = P(alive) x purchases_if_alive(m): the month-by-month part is computed on
    # a (months, distinct (frequency, T)) grid and discounted there; P(alive) multiplies the sum
    (ux, uT), _, inverse = compress_rows(x, T_)
    cumulative = purchases_if_alive(fit, (months * step)[:, None], ux[None, :], uT[None, :])
    per_month = np.diff(cumulative, axis=0, prepend=0.0)
    discount = (1.0 + rate) ** -months
    discounted_purchases = probability_alive(fit, x, t_x, T_) * (discount @ per_month)[inverse]
    return discounted_purchases * _arr(expected_spend) * np.broadcast_to(np.asarray(margin, dtype="float64"), (n,))


def lifetimes_reference_cltv(
    fit: FitResult,
    gg: FitResult,
    frequency: Any,
    recency: Any,
    T: Any,
    monetary_value: Any,
    time: int = 12,
    monthly_discount_rate: float = 0.01,
    freq: str = "W",
) -> np.ndarray:
    """lifetimes' own ``GammaGammaFitter.customer_lifetime_value`` (a Python loop over months).

    Kept as the reference for tests and benchmarks; production uses :func:`discounted_cltv`.
    """
    import pandas as pd

    model = _fitter_from_params(fit.model_name, fit.params)
    model.predict = model.conditional_expected_number_of_purchases_up_to_time
    ggf = _fitter_from_params("gamma_gamma", gg.params)
    x = pd.Series(_arr(frequency))
    with np.errstate(divide="ignore", invalid="ignore"):  # lifetimes evaluates log(0) at t = 0
        out = ggf.customer_lifetime_value(
            model,
            x,
            pd.Series(_arr(recency)),
            pd.Series(_arr(T)),
            pd.Series(_arr(monetary_value)),
            time=time,
            discount_rate=monthly_discount_rate,
            freq=freq,
        )
    return np.asarray(out, dtype="float64")



def lifetimes_reference_summary(
    transactions: Any, observation_end: Any, unit_days: float = 7.0
) -> Any:
    """lifetimes' own customer summary (the reference our DuckDB summary is checked and timed against)."""
    from lifetimes.utils import summary_data_from_transaction_data

    return summary_data_from_transaction_data(
        transactions, "customer_id", "date", monetary_value_col="amount",
        observation_period_end=observation_end, freq="D", freq_multiplier=unit_days,
    )


def unconditional_expected_purchases(fit: FitResult, t: Any) -> np.ndarray:
    """E[X(t)]: expected repeat purchases of a *new* customer in the first ``t`` time units after the first
    purchase (no purchase history), for each t given (vectorised; t <= 0 gives 0).

    Used for the cumulative tracking plot: summed over customers at their age, it is what the model expects
    the whole base to buy.
    """
    t_ = _arr(t)
    out = np.zeros_like(t_)
    positive = t_ > 0
    if positive.any():
        fitter = _fitter_from_params(fit.model_name, fit.params)
        ages, inverse = np.unique(t_[positive], return_inverse=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.asarray(fitter.expected_number_of_purchases_up_to_time(ages), dtype="float64")
        out[positive] = values.reshape(-1)[inverse.reshape(-1)]
    return out


def repeat_purchase_probabilities(fit: FitResult, t: Any, max_count: int) -> np.ndarray:
    """The distribution of a *new* customer's repeat purchases in the first ``t`` time units after the first
    purchase: for each t, P(X(t) = n) for n = 0 .. max_count - 1 and, in the last column, P(X(t) >= max_count).

    Returns an array (len(t), max_count + 1) whose rows sum to 1. Summed over customers, row by row at each
    customer's own T, it is the expected number of customers with 0, 1, 2, ... repeat purchases, which the
    fitted model's simulations (``helpers.reporting.plots.cltv.simulate_repeat_purchases``) scatter around.

    Given the purchase rate, purchases N(t) are Poisson, so N(t) ~ NegBin(r, alpha / (alpha + t)).
    BG/NBD: the customer drops out after the G-th repeat purchase, G ~ Geometric(p) >= 1, X = min(N, G)
    (Fader, Hardie and Lee 2005a, eq. 8; lifetimes' ``probability_of_n_purchases_up_to_time``). MBG/NBD: the
    dropout can also come at the first purchase, X = min(N, G - 1) (Batislam et al. 2007). Pareto/NBD: the
    lifetime tau is Pareto II (Lomax), P(tau > u) = (beta / (beta + u))^s, and X(t) ~ NegBin at min(tau, t);
    the mixture over tau < t is integrated numerically (Gauss-Legendre in the dropout probability
    w = P(tau <= u), where the integrand is smooth).
    """
    from scipy.special import betaln
    from scipy.stats import nbinom

    m = int(max_count)
    if m < 1:
        raise ValueError("max_count must be at least 1")
    t_ = _arr(t)
    if (t_ < 0).any() or not np.isfinite(t_).all():
        raise ValueError("t must be finite and >= 0")
    ages, inverse = np.unique(t_, return_inverse=True)
    n = np.arange(m, dtype="float64")
    r, alpha = fit.params["r"], fit.params["alpha"]

    def negbin(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(N(u) = n), P(N(u) >= n) for n < m, and P(N(u) >= m), along a new last axis."""
        q = (alpha / (alpha + u))[..., None]
        return nbinom.pmf(n, r, q), nbinom.sf(n - 1, r, q), nbinom.sf(m - 1, r, q)[..., 0]

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if fit.model_name in ("bgnbd", "mbgnbd"):
            a, b = fit.params["a"], fit.params["b"]
            pmf, at_least, tail_n = negbin(ages)
            shift = 1.0 if fit.model_name == "mbgnbd" else 0.0  # MBG/NBD: G - 1 in place of G
            # X = n: N = n and the customer is still there after n repeat purchases, or drops out at the
            # n-th (n >= 1 for BG/NBD) with N >= n. Beta mixtures: E[(1-p)^k] = B(a, b + k) / B(a, b).
            survive = np.exp(betaln(a, b + n + shift) - betaln(a, b))
            drop = np.exp(betaln(a + 1, b + n - 1 + shift) - betaln(a, b))
            if fit.model_name == "bgnbd":
                drop[0] = 0.0  # BG/NBD: no dropout before the first repeat purchase
            probabilities = survive * pmf + drop * at_least
            tail = np.exp(betaln(a, b + m - 1 + shift) - betaln(a, b)) * tail_n
        elif fit.model_name == "pareto":
            s, beta = fit.params["s"], fit.params["beta"]
            alive_at_t = (beta / (beta + ages)) ** s
            dropped_by_t = 1.0 - alive_at_t
            nodes, weights = np.polynomial.legendre.leggauss(_PARETO_QUADRATURE_NODES)
            w = dropped_by_t[:, None] * (nodes[None, :] + 1.0) / 2.0  # (ages, nodes) in (0, P(tau <= t))
            lifetime = beta * ((1.0 - w) ** (-1.0 / s) - 1.0)
            pmf_t, _, tail_t = negbin(ages)
            pmf_w, _, tail_w = negbin(lifetime)
            half = (dropped_by_t / 2.0)[:, None]
            probabilities = alive_at_t[:, None] * pmf_t + half * np.einsum("k,akn->an", weights, pmf_w)
            tail = alive_at_t * tail_t + half[:, 0] * (tail_w @ weights)
        else:
            raise ValueError(f"unknown purchase model {fit.model_name!r}; use one of {list(_LL)}")
    return np.column_stack([probabilities, tail])[inverse]


# Gauss-Legendre nodes for the Pareto/NBD mixture over the lifetime: the integrand is smooth, so this many
# nodes give the probabilities to about 1e-12 (tests compare with adaptive quadrature)
_PARETO_QUADRATURE_NODES = 64
