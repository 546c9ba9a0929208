"""Funnel maturity: how much of the See-Think-Do-Care funnel a client already buys from us.

The service map lists a client's services per funnel stage (see, think, do, care) and kind (operations,
consulting). A client *covers* one of the 8 stage x kind cells when at least one **active** service sits
in it. A missing ``active`` column or an empty cell counts as active (the row says the client buys it).

**Maturity score (0-100)**::

    funnel_maturity = 100 x sum over cells(stage weight x kind weight x covered) / sum over cells(stage weight x kind weight)

With the defaults every stage weighs the same (each stage is worth 25 points) and inside a stage
operations weighs 0.6 and consulting 0.4: a client with operations in all four stages scores 60, one with
everything scores 100, one without an active service 0. The weights live in settings
``potential.maturity`` (``stage_weights``, ``kind_weights``).

:func:`heat_table` averages the coverage per cell by the client's ``funnel_type`` (retail, lead_gen,
business_industry): the share of clients of that type that buy something in that cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.config import ConfigError, Settings, default_settings

STAGES: tuple[str, ...] = ("see", "think", "do", "care")
KINDS: tuple[str, ...] = ("operations", "consulting")
CELLS: tuple[tuple[str, str], ...] = tuple((s, k) for s in STAGES for k in KINDS)
FUNNEL_TYPES: tuple[str, ...] = ("retail", "lead_gen", "business_industry")
DEFAULT_STAGE_WEIGHTS: dict[str, float] = {s: 1.0 for s in STAGES}
DEFAULT_KIND_WEIGHTS: dict[str, float] = {"operations": 0.6, "consulting": 0.4}
_TRUE_TEXTS = {"true", "1", "yes", "y", "ja", "j", "wahr", "t"}


def cell_column(stage: str, kind: str) -> str:
    """The coverage column of a cell, e.g. ``think_consulting``."""
    return f"{stage}_{kind}"


CELL_COLUMNS: tuple[str, ...] = tuple(cell_column(s, k) for s, k in CELLS)


def cell_label(column: str) -> str:
    """Readable name of a cell column: ``think_consulting`` -> ``Think/consulting``."""
    stage, kind = column.split("_", 1)
    return f"{stage.capitalize()}/{kind}"


def _active(service_map: pd.DataFrame) -> pd.Series:
    if "active" not in service_map:
        return pd.Series(True, index=service_map.index)
    values = service_map["active"]
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(True).astype(bool)
    text = values.astype("string").str.strip().str.lower()
    return text.isna() | text.isin(_TRUE_TEXTS)


def coverage(service_map: pd.DataFrame | None, customers: Iterable[Any] | None = None) -> pd.DataFrame:
    """One row per customer (index ``customer_id``), one boolean column per stage x kind cell: True when
    the customer has at least one active service there.

    ``customers`` adds customers without any (active) service as all-False rows, and fixes the order;
    without it the customers of the service map are used.
    """
    ids = None if customers is None else pd.Index(pd.Series(list(customers), dtype="string").astype(str))
    if service_map is None or service_map.empty:
        index = ids if ids is not None else pd.Index([], dtype=str)
        return pd.DataFrame(False, index=index.rename("customer_id"), columns=list(CELL_COLUMNS))
    frame = service_map.loc[_active(service_map).to_numpy(), ["customer_id", "funnel_stage", "service_kind"]]
    stage = frame["funnel_stage"].astype(str).str.strip().str.lower()
    kind = frame["service_kind"].astype(str).str.strip().str.lower()
    cells = pd.DataFrame({"customer_id": frame["customer_id"].astype(str).to_numpy(),
                          "cell": (stage + "_" + kind).to_numpy()})
    cells = cells[cells["cell"].isin(CELL_COLUMNS)].drop_duplicates()
    table = pd.crosstab(cells["customer_id"], cells["cell"]).reindex(columns=list(CELL_COLUMNS), fill_value=0) > 0
    if ids is None:
        ids = pd.Index(service_map["customer_id"].astype(str).unique())
    table = table.reindex(ids, fill_value=False).astype(bool)
    table.index.name = "customer_id"
    table.columns.name = None
    return table


def cell_weights(
    stage_weights: Mapping[str, float] | None = None, kind_weights: Mapping[str, float] | None = None
) -> pd.Series:
    """Weight of each cell = stage weight x kind weight (not normalised), indexed by cell column."""
    stage_weights = {**DEFAULT_STAGE_WEIGHTS, **(stage_weights or {})}
    kind_weights = {**DEFAULT_KIND_WEIGHTS, **(kind_weights or {})}
    weights = pd.Series(
        [float(stage_weights[s]) * float(kind_weights[k]) for s, k in CELLS], index=list(CELL_COLUMNS)
    )
    if (weights < 0).any() or weights.sum() <= 0:
        raise ConfigError("funnel maturity weights must be >= 0 and not all 0")
    return weights


def maturity_score(covered: pd.DataFrame, weights: pd.Series | None = None) -> pd.Series:
    """Weighted share of covered cells, 0-100 (see the module text)."""
    weights = cell_weights() if weights is None else weights
    values = covered[list(CELL_COLUMNS)].astype(float).to_numpy() @ weights.to_numpy() / weights.sum()
    return pd.Series(np.round(100.0 * values, 6), index=covered.index, name="funnel_maturity")


def maturity_table(
    service_map: pd.DataFrame | None,
    customers: Iterable[Any] | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Per customer: the 8 coverage columns, ``cells_covered``, ``stages_covered``, ``active_services``,
    ``channels`` (distinct channels of the active services) and ``funnel_maturity`` (0-100)."""
    maturity = (settings or default_settings()).potential.maturity
    weights = cell_weights(maturity["stage_weights"], maturity["kind_weights"])
    covered = coverage(service_map, customers)
    out = covered.copy()
    out["cells_covered"] = covered.sum(axis=1).astype("int64")
    stage_cov = np.column_stack(
        [covered[[cell_column(s, k) for k in KINDS]].any(axis=1).to_numpy() for s in STAGES]
    ) if len(covered) else np.zeros((0, len(STAGES)), dtype=bool)
    out["stages_covered"] = stage_cov.sum(axis=1).astype("int64")
    if service_map is not None and not service_map.empty:
        active = service_map[_active(service_map).to_numpy()]
        ids = active["customer_id"].astype(str)
        out["active_services"] = ids.value_counts().reindex(out.index, fill_value=0).astype("int64")
        if "channel" in active:
            channels = active.assign(_id=ids.to_numpy()).dropna(subset=["channel"]).groupby("_id")["channel"].nunique()
            out["channels"] = channels.reindex(out.index, fill_value=0).astype("int64")
        else:
            out["channels"] = 0
    else:
        out["active_services"] = 0
        out["channels"] = 0
    out["funnel_maturity"] = maturity_score(covered, weights)
    return out


def heat_table(covered: pd.DataFrame, accounts: pd.DataFrame | None) -> pd.DataFrame:
    """Mean coverage (share of clients, 0-1) per cell by funnel type.

    Rows: the funnel types present (in the order retail, lead_gen, business_industry, then "unknown" for
    clients without a funnel type), columns: the 8 cell columns and ``clients`` (how many clients)."""
    if accounts is not None and "funnel_type" in accounts:
        types = accounts.assign(customer_id=accounts["customer_id"].astype(str)).set_index("customer_id")[
            "funnel_type"
        ]
        funnel = types.reindex(covered.index).astype("object").fillna("unknown")
    else:
        funnel = pd.Series("unknown", index=covered.index)
    frame = covered[list(CELL_COLUMNS)].astype(float).assign(funnel_type=funnel.to_numpy())
    table = frame.groupby("funnel_type").mean()
    table["clients"] = frame.groupby("funnel_type").size()
    order = [t for t in (*FUNNEL_TYPES, "unknown") if t in table.index]
    order += [t for t in table.index if t not in order]
    return table.loc[order]


def maturity_by_funnel_type(maturity: pd.DataFrame, accounts: pd.DataFrame | None) -> pd.DataFrame:
    """Per funnel type: clients, mean and median maturity, share of clients with every stage covered."""
    heat = heat_table(maturity, accounts)
    frame = maturity.assign(funnel_type=None)
    if accounts is not None and "funnel_type" in accounts:
        types = accounts.assign(customer_id=accounts["customer_id"].astype(str)).set_index("customer_id")[
            "funnel_type"
        ]
        frame["funnel_type"] = types.reindex(maturity.index).astype("object").fillna("unknown").to_numpy()
    else:
        frame["funnel_type"] = "unknown"
    grouped = frame.groupby("funnel_type")
    table = pd.DataFrame(
        {
            "clients": grouped.size(),
            "mean_maturity": grouped["funnel_maturity"].mean(),
            "median_maturity": grouped["funnel_maturity"].median(),
            "full_funnel_share": grouped["stages_covered"].apply(lambda s: float((s == len(STAGES)).mean())),
        }
    )
    return table.loc[[t for t in heat.index if t in table.index]]


# --------------------------------------------------------------------------------------------------
# what the funnel charts show (English)
# --------------------------------------------------------------------------------------------------
def maturity_distribution(maturity: pd.DataFrame) -> pd.Series:
    """Clients per maturity score rounded to whole points, lowest score first."""
    return maturity["funnel_maturity"].round(0).value_counts().sort_index()


def maturity_reading(maturity: pd.DataFrame) -> str:
    """'Funnel maturity - median 45 of 100; 3 clients without an active service, 12 with every stage covered'."""
    median = maturity["funnel_maturity"].round(0).median()
    none = int((maturity["funnel_maturity"] <= 0).sum())
    full = int((maturity.get("stages_covered", pd.Series(dtype=int)) == len(STAGES)).sum())
    return (
        f"Funnel maturity - median {median:.0f} of 100; {none:,} clients without an active service, "
        f"{full:,} with every stage covered"
    )


def heat_reading(heat: pd.DataFrame) -> str:
    """The cells that most and fewest clients buy (over all funnel types), from :func:`heat_table`."""
    data = heat[list(CELL_COLUMNS)].astype(float)
    overall = (data.mul(heat["clients"], axis=0).sum() / max(heat["clients"].sum(), 1)).sort_values()
    return (
        f"Where clients buy (% with an active service) - most bought: {cell_label(overall.index[-1])}, "
        f"least: {cell_label(overall.index[0])}"
    )
