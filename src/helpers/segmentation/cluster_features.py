"""The clustering's features: what it reads of each customer and how the numbers are scaled and encoded.

- :func:`build_features` joins the behaviour (rfm.parquet: ``recency_days``, ``frequency``, ``monetary``;
  cltv.parquet: ``cltv``, ``p_alive``) and, where present, the account signals (accounts.parquet:
  ``industry``, ``funnel_type``, ``employees``, ``marketing_budget``, ``yoy_growth``) into one row per
  customer of the RFM table.
- :func:`feature_pipeline` is the one scikit-learn ColumnTransformer that scales and encodes them:
  skewed non-negative amounts and counts get a (sign-preserving) log1p, every number is standardised, missing
  numbers take the median, categories are one-hot encoded (``handle_unknown="ignore"``), missing categories
  become "unknown".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

BEHAVIOUR = ("recency_days", "frequency", "monetary")
VALUE = ("cltv", "p_alive")
ACCOUNT_NUMERIC = ("employees", "marketing_budget", "yoy_growth")
ACCOUNT_CATEGORICAL = ("industry", "funnel_type")
# funnel maturity 0-100 (helpers.potential.funnel.maturity_table, computed by notebook 03 from the service map)
MATURITY = ("funnel_maturity",)
# skewed, non-negative (in principle: refunds can make revenue negative, hence the signed log)
LOG_SCALED = ("recency_days", "frequency", "monetary", "cltv", "employees", "marketing_budget")
PLAIN_SCALED = ("p_alive", "yoy_growth", "funnel_maturity")
NUMERIC = BEHAVIOUR + VALUE + ACCOUNT_NUMERIC + MATURITY
CATEGORICAL = ACCOUNT_CATEGORICAL
# What the clustering reads of rfm.parquet and cltv.parquet (both always hold these): reading only them
# takes a tenth of the time on a million customers. accounts.parquet is read whole (its columns vary).
INPUT_COLUMNS: dict[str, list[str]] = {"rfm": ["customer_id", *BEHAVIOUR], "cltv": ["customer_id", *VALUE]}


def build_features(
    rfm: pd.DataFrame, cltv: pd.DataFrame | None = None, accounts: pd.DataFrame | None = None,
    maturity: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per customer of ``rfm`` (same order): customer_id and the clustering features present;
    ``maturity``: the funnel maturity per customer (customer_id as column or index, ``funnel_maturity``).

    Customers missing from ``cltv`` or ``accounts`` keep empty values (the pipeline imputes them); columns
    that are empty for every customer are left out."""
    missing = [c for c in ("customer_id", *BEHAVIOUR) if c not in rfm]
    if missing:
        raise KeyError(f"rfm lacks the column(s) {missing}")
    ids = rfm["customer_id"].astype(str).reset_index(drop=True)
    if not ids.is_unique:
        raise ValueError("rfm holds customers more than once: expected one row per customer")
    # the columns gathered first and made into a frame at once; ids stay Arrow strings (no million Python
    # strings made and turned back)
    data: dict[str, Any] = {"customer_id": ids.array}
    for column in BEHAVIOUR:
        data[column] = pd.to_numeric(rfm[column], errors="coerce").astype("float64").to_numpy()
    if maturity is not None and "customer_id" not in maturity:
        maturity = maturity.reset_index()
    for extra, columns in ((cltv, VALUE), (accounts, ACCOUNT_NUMERIC + ACCOUNT_CATEGORICAL), (maturity, MATURITY)):
        if extra is None or "customer_id" not in extra:
            continue
        present = [c for c in columns if c in extra]
        if not present:
            continue
        extra_ids = extra["customer_id"].astype(str).reset_index(drop=True)
        if extra_ids.equals(ids):
            # the same customers in the same order (cltv.parquet follows the summary, as rfm does): take the
            # columns as they are instead of matching a million ids
            lookup = extra.reset_index(drop=True)[present]
        else:
            lookup = extra.assign(customer_id=extra_ids.to_numpy()).drop_duplicates("customer_id")
            lookup = lookup.set_index("customer_id")[present].reindex(ids)
        for column in present:
            values = lookup[column]
            if column in CATEGORICAL:
                data[column] = np.array([v if isinstance(v, str) and v else np.nan for v in values], dtype=object)
            else:
                data[column] = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    out = pd.DataFrame(data)
    empty = [c for c in out.columns if c != "customer_id" and out[c].isna().all()]
    return out.drop(columns=empty)


def signed_log1p(values: Any) -> np.ndarray:
    """log(1 + x) for x >= 0, mirrored for negative x (a refund surplus), so that nothing becomes NaN."""
    array = np.asarray(values, dtype="float64")
    # in place on one new array: fresh memory is the dear part on a million rows
    out = np.abs(array)
    np.log1p(out, out=out)
    return np.copysign(out, array, out=out)


class MedianImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Missing numbers take the column's median: scikit-learn's ``SimpleImputer(strategy="median")`` for
    dense numbers, with the medians from ``np.nanmedian`` (a partial sort) instead of a masked-array sort
    that takes a second on a million customers. The same medians (tests). A column without any value has
    no median: :func:`build_features` leaves such columns out, and here they are refused."""

    def fit(self, X: Any, y: Any = None) -> MedianImputer:
        values = validate_data(self, X, dtype="float64", ensure_all_finite="allow-nan", reset=True)
        empty = np.isnan(values).all(axis=0) if len(values) else np.ones(values.shape[1], dtype=bool)
        if empty.any():
            raise ValueError(f"no value to take the median of in feature column(s) {np.flatnonzero(empty).tolist()}")
        self.statistics_ = np.nanmedian(values, axis=0)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        values = validate_data(self, X, dtype="float64", ensure_all_finite="allow-nan", reset=False, copy=True)
        rows, columns = np.nonzero(np.isnan(values))
        values[rows, columns] = self.statistics_[columns]
        return values


def feature_columns(features: pd.DataFrame) -> dict[str, list[str]]:
    """The feature columns of ``features`` by treatment: log, plain (numbers), categorical."""
    return {
        "log": [c for c in LOG_SCALED if c in features],
        "plain": [c for c in PLAIN_SCALED if c in features],
        "categorical": [c for c in CATEGORICAL if c in features],
    }


def feature_pipeline(features: pd.DataFrame) -> Pipeline:
    """The unfitted scaling and encoding of the columns present in ``features``."""
    columns = feature_columns(features)
    parts = []
    if columns["log"]:
        parts.append((
            "log",
            Pipeline([
                ("impute", MedianImputer()),
                ("log1p", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
                ("scale", StandardScaler()),
            ]),
            columns["log"],
        ))
    if columns["plain"]:
        parts.append((
            "plain",
            Pipeline([("impute", MedianImputer()), ("scale", StandardScaler())]),
            columns["plain"],
        ))
    if columns["categorical"]:
        parts.append((
            "categorical",
            Pipeline([
                ("impute", SimpleImputer(strategy="constant", fill_value="unknown")),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]),
            columns["categorical"],
        ))
    if not parts:
        raise ValueError("no clustering feature present")
    return Pipeline([("features", ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False))])


def model_input(features: pd.DataFrame) -> pd.DataFrame:
    """The columns :func:`feature_pipeline` takes, in its order, categories as Python objects."""
    columns = feature_columns(features)
    frame = features[columns["log"] + columns["plain"] + columns["categorical"]].copy()
    for column in columns["categorical"]:
        frame[column] = frame[column].astype(object)
    return frame
