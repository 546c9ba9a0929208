"""Clusters described in plain words: their level on each feature, a short unique name, a suggested action
and a profile, in English or German.

How names are derived: for each feature the cluster's median is placed in the distribution of all
customers (its mid-rank percentile: the share of them below it, counting ties half; a cluster holding more
than half of all customers is placed among the customers outside it, else it would be "mid" on everything).
At or above :data:`VERY_HIGH` (0.9) the cluster is "very high" on that feature, at or above :data:`HIGH`
(2/3) "high", at or below :data:`LOW` (1/3) "low", at or below :data:`VERY_LOW` (0.1) "very low", in
between "mid". The name is built from frequency and spend ("frequent high spenders"), recency ("active",
"lapsed"; few days since the last purchase = active) and, with account data, size ("large accounts") and
growth ("growing"). Clusters that would share a name get further words (future value, P(alive), budget, a
dominant industry or funnel type, then a comparison such as "higher spend"), and as a last resort a number.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from helpers.core.language import check_language
from helpers.segmentation.cluster_features import CATEGORICAL, NUMERIC

VERY_HIGH = 0.9
HIGH = 2 / 3
LOW = 1 / 3
VERY_LOW = 0.1
DOMINANT_SHARE = 0.6  # a category names a cluster when it holds at least 60% of it ...
DOMINANT_LIFT = 1.5  # ... and at least 1.5 times its share among all customers

# the features in plain words, for tables and the picture of the clusters (English)
FEATURE_LABELS = {
    "recency_days": "days since last purchase",
    "frequency": "purchase days",
    "monetary": "revenue",
    "cltv": "CLTV",
    "p_alive": "P(alive)",
    "employees": "employees",
    "marketing_budget": "marketing budget",
    "yoy_growth": "growth y/y",
    "industry": "industry",
    "funnel_type": "funnel type",
    "funnel_maturity": "funnel maturity",
}


def feature_label(name: str) -> str:
    """Plain words for a pipeline output column ('industry_Retail' -> 'industry Retail')."""
    if name in FEATURE_LABELS:
        return FEATURE_LABELS[name]
    for prefix in ("industry", "funnel_type"):
        if name.startswith(prefix + "_"):
            return f"{FEATURE_LABELS[prefix]}: {name[len(prefix) + 1:].replace('_', ' ')}"
    return name


# Levels of a cluster's median among all customers (mid-rank percentile p):
#   very_high p >= 0.9, high p >= 2/3, mid, low p <= 1/3, very_low p <= 0.1
LEVELS = ("very_low", "low", "mid", "high", "very_high")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "frequency_very_high": "very frequent",
        "frequency_high": "frequent",
        "frequency_low": "occasional",
        "frequency_very_low": "occasional",
        "one-time": "one-time",
        "monetary_very_high": "top spenders",
        "monetary_high": "high spenders",
        "monetary_mid": "mid spenders",
        "monetary_low": "small buyers",
        "monetary_very_low": "very small buyers",
        "recency_days_very_low": "bought recently",
        "recency_days_low": "active",
        "recency_days_mid": "cooling down",
        "recency_days_high": "lapsed",
        "recency_days_very_high": "long lapsed",
        "employees_high": "large accounts",
        "employees_low": "small accounts",
        "yoy_growth_high": "growing",
        "yoy_growth_shrinking": "shrinking",
        "yoy_growth_low": "slow growth",
        "cltv_high": "high future value",
        "cltv_low": "low future value",
        "p_alive_high": "likely to stay",
        "p_alive_low": "likely gone",
        "marketing_budget_high": "big budgets",
        "marketing_budget_low": "small budgets",
        "mostly": "mostly {value}",
        "group": "group {number}",
    },
    "de": {
        "frequency_very_high": "sehr häufige",
        "frequency_high": "häufige",
        "frequency_low": "gelegentliche",
        "frequency_very_low": "gelegentliche",
        "one-time": "einmalige",
        "monetary_very_high": "Top-Käufer",
        "monetary_high": "Großkäufer",
        "monetary_mid": "Käufer mit mittlerem Umsatz",
        "monetary_low": "Kleinkäufer",
        "monetary_very_low": "sehr kleine Käufer",
        "recency_days_very_low": "kürzlich gekauft",
        "recency_days_low": "aktiv",
        "recency_days_mid": "nachlassend",
        "recency_days_high": "inaktiv",
        "recency_days_very_high": "lange inaktiv",
        "employees_high": "große Kunden",
        "employees_low": "kleine Kunden",
        "yoy_growth_high": "wachsend",
        "yoy_growth_shrinking": "schrumpfend",
        "yoy_growth_low": "langsam wachsend",
        "cltv_high": "hoher künftiger Wert",
        "cltv_low": "geringer künftiger Wert",
        "p_alive_high": "bleiben wahrscheinlich",
        "p_alive_low": "wahrscheinlich abgewandert",
        "marketing_budget_high": "große Budgets",
        "marketing_budget_low": "kleine Budgets",
        "mostly": "überwiegend {value}",
        "group": "Gruppe {number}",
    },
}
# words that tell two clusters of the same name apart: (for the higher median, for the lower median)
COMPARE: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "monetary": ("higher spend", "lower spend"),
        "frequency": ("more frequent", "less frequent"),
        "recency_days": ("less recent", "more recent"),
        "cltv": ("higher future value", "lower future value"),
        "p_alive": ("more likely to stay", "less likely to stay"),
        "employees": ("larger", "smaller"),
        "marketing_budget": ("bigger budgets", "smaller budgets"),
        "yoy_growth": ("faster growth", "slower growth"),
        "funnel_maturity": ("fuller funnel", "emptier funnel"),
    },
    "de": {
        "monetary": ("mehr Umsatz", "weniger Umsatz"),
        "frequency": ("häufiger", "seltener"),
        "recency_days": ("länger her", "kürzer her"),
        "cltv": ("höherer künftiger Wert", "geringerer künftiger Wert"),
        "p_alive": ("bleiben eher", "bleiben weniger"),
        "employees": ("größer", "kleiner"),
        "marketing_budget": ("größere Budgets", "kleinere Budgets"),
        "yoy_growth": ("schnelleres Wachstum", "langsameres Wachstum"),
        "funnel_maturity": ("vollerer Funnel", "leererer Funnel"),
    },
}

ACTIONS: dict[str, dict[str, str]] = {
    "en": {
        "keep": "Keep close: quarterly business reviews, a yearly strategy meeting, upsell proactively.",
        "win_back": "Win back now: personal contact from the account manager, find out what changed.",
        "develop": "Develop: cross-sell the next service, show what the next step of the funnel brings.",
        "nurture": "Nurture at low cost: automated reminders and offers that invite a second purchase.",
        "reactivate": "Reactivate cheaply or let go: one low-cost campaign, no personal attention.",
        "grow_with": "Grow with them: their business expands, propose services that scale with it.",
        "watch": "Watch and keep in touch: regular but light contact, check again next month.",
    },
    "de": {
        "keep": "Eng betreuen: Quartalsgespräche (QBR), jährliches Strategiegespräch, aktiv Upselling anbieten.",
        "win_back": "Jetzt zurückgewinnen: persönlicher Kontakt durch die Kundenbetreuung, Ursache klären.",
        "develop": "Entwickeln: die nächste Leistung anbieten (Cross-Selling), nächste Funnel-Stufe zeigen.",
        "nurture": "Günstig pflegen: automatische Erinnerungen und Angebote für den zweiten Kauf.",
        "reactivate": "Günstig reaktivieren oder loslassen: eine Kampagne, keine persönliche Betreuung.",
        "grow_with": "Mitwachsen: das Geschäft wächst, Leistungen anbieten, die mitwachsen.",
        "watch": "Beobachten: regelmäßiger, leichter Kontakt, im nächsten Monat erneut prüfen.",
    },
}


def midrank_percentile(values: Any, point: float) -> float:
    """Share of ``values`` (missing ones left out) below ``point``, counting values equal to it half."""
    clean = np.asarray(values, dtype="float64")
    clean = clean[~np.isnan(clean)]
    if len(clean) == 0 or not np.isfinite(point):
        return np.nan
    return float(((clean < point).sum() + 0.5 * (clean == point).sum()) / len(clean))


def level(percentile: float) -> str:
    """'very_high', 'high', 'mid', 'low' or 'very_low' for a mid-rank percentile (see :data:`LEVELS`)."""
    if not np.isfinite(percentile):
        return "mid"
    if percentile >= VERY_HIGH:
        return "very_high"
    if percentile >= HIGH:
        return "high"
    if percentile <= VERY_LOW:
        return "very_low"
    return "low" if percentile <= LOW else "mid"


def _broad(value: str) -> str:
    return value.replace("very_", "")


def describe_levels(features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Per cluster and numeric feature: its level (:func:`level` of the cluster median's mid-rank
    percentile among all customers), plus ``<feature>_percentile`` and ``<feature>_median``. A cluster
    holding more than half of all customers sets the overall medians itself and would be "mid" on everything:
    it is compared with the customers outside it instead."""
    labels = np.asarray(labels)
    records = []
    # plain arrays per feature: selecting rows of the whole frame copied every column per cluster
    columns = {c: features[c].to_numpy(dtype="float64") for c in NUMERIC if c in features}
    for cluster in np.unique(labels):
        inside = labels == cluster
        outside_only = inside.mean() > 0.5 and (~inside).any()
        record: dict[str, Any] = {"cluster": cluster}
        for column, values in columns.items():
            median = _median(values[inside])
            percentile = midrank_percentile(values[~inside] if outside_only else values, median)
            record[column] = level(percentile)
            record[f"{column}_percentile"] = percentile
            record[f"{column}_median"] = median
        records.append(record)
    return pd.DataFrame(records).set_index("cluster")


def _median(values: np.ndarray) -> float:
    """The median of the values present (NaN if none), as pandas' Series.median."""
    present = values[~np.isnan(values)]
    return float(np.median(present)) if len(present) else np.nan


def _dominant(features: pd.DataFrame, labels: np.ndarray, cluster: Any, column: str) -> str | None:
    values = features[column].fillna("unknown").astype(str)
    inside = values[np.asarray(labels) == cluster].value_counts(normalize=True)
    if inside.empty:
        return None
    top, share = inside.index[0], float(inside.iloc[0])
    overall = float((values == top).mean())
    if top != "unknown" and share >= DOMINANT_SHARE and share >= DOMINANT_LIFT * overall:
        return top.replace("_", " ")
    return None


def _parts(levels: pd.Series, language: str) -> tuple[list[str], list[str]]:
    """Core words (always in the name) and extra words (strongest first, used to tell names apart)."""
    words = WORDS[language]
    core: list[str] = []
    if "frequency_median" in levels and levels["frequency_median"] <= 1:
        frequency_word = words["one-time"]
    else:
        frequency_word = words.get(f"frequency_{levels.get('frequency', 'mid')}", "")
    core.append(f"{frequency_word} {words['monetary_' + levels.get('monetary', 'mid')]}".strip())
    recency = levels.get("recency_days", "mid")
    if recency != "mid":
        core.append(words[f"recency_days_{recency}"])
    if _broad(levels.get("employees", "mid")) != "mid":
        core.insert(0, words[f"employees_{_broad(levels['employees'])}"])
    growth = _broad(levels.get("yoy_growth", "mid"))
    if growth == "high":
        core.append(words["yoy_growth_high"])
    elif growth == "low":
        core.append(words["yoy_growth_shrinking" if levels["yoy_growth_median"] < 0 else "yoy_growth_low"])
    extras: list[tuple[float, str]] = []
    one_time = "frequency_median" in levels and levels["frequency_median"] <= 1
    for column in ("cltv", "p_alive", "marketing_budget"):
        # BG/NBD puts P(alive) at 1 for customers without a repeat purchase: no signal for one-time buyers
        if column == "p_alive" and one_time:
            continue
        if column in levels and _broad(levels[column]) != "mid":
            strength = abs(float(levels[f"{column}_percentile"]) - 0.5)
            extras.append((strength, words[f"{column}_{_broad(levels[column])}"]))
    if recency == "mid" and "recency_days" in levels:
        extras.append((0.0, words["recency_days_mid"]))
    return core, [word for _, word in sorted(extras, key=lambda item: -item[0])]


def _compare(levels: pd.DataFrame, group: list, language: str) -> dict[Any, str]:
    """For clusters sharing a name: the feature whose percentiles differ most among them, and a
    comparative word for the cluster with the highest and the one with the lowest median."""
    spreads = {
        column: float(levels.loc[group, f"{column}_percentile"].max() - levels.loc[group, f"{column}_percentile"].min())
        for column in COMPARE[language]
        if f"{column}_percentile" in levels
    }
    if not spreads:
        return {}
    column = max(spreads, key=spreads.get)
    if spreads[column] <= 0:
        return {}
    medians = levels.loc[group, f"{column}_percentile"]
    higher, lower = COMPARE[language][column]
    return {medians.idxmax(): higher, medians.idxmin(): lower}


def cluster_names(
    features: pd.DataFrame, labels: np.ndarray, language: str = "en", levels: pd.DataFrame | None = None
) -> dict[Any, str]:
    """A short, unique plain-words name per cluster (see the module docstring for the thresholds).

    Clusters that would share a name get their next distinguishing word each (a value signal, a dominant
    industry or funnel type); if they still collide, a comparative word on the feature that separates them
    most (e.g. "higher spend" / "lower spend"); as a last resort a group number. ``levels``: the
    :func:`describe_levels` of these features and labels, when already at hand."""
    check_language(language)
    labels = np.asarray(labels)
    levels = describe_levels(features, labels) if levels is None else levels
    clusters = list(levels.index)
    core, extras = {}, {}
    for cluster in clusters:
        core[cluster], extras[cluster] = _parts(levels.loc[cluster], language)
        for column in CATEGORICAL:
            if column in features:
                top = _dominant(features, labels, cluster, column)
                if top:
                    extras[cluster].append(WORDS[language]["mostly"].format(value=top))
    for cluster in clusters:  # a one-part name says too little: add the strongest extra word
        if len(core[cluster]) < 2 and extras[cluster]:
            core[cluster].append(extras[cluster].pop(0))
    names = {c: ", ".join(core[c]) for c in clusters}

    def clashes() -> dict[str, list]:
        groups: dict[str, list] = {}
        for cluster in clusters:
            groups.setdefault(names[cluster], []).append(cluster)
        return {name: group for name, group in groups.items() if len(group) > 1}

    for _ in range(3):  # extra words
        if not clashes():
            break
        for group in clashes().values():
            for cluster in group:
                if extras[cluster]:
                    names[cluster] = f"{names[cluster]}, {extras[cluster].pop(0)}"
    for _ in range(len(clusters)):  # comparative words
        if not clashes():
            break
        changed = False
        for group in clashes().values():
            for cluster, word in _compare(levels, group, language).items():
                names[cluster] = f"{names[cluster]}, {word}"
                changed = True
        if not changed:
            break
    for group in clashes().values():  # last resort
        for number, cluster in enumerate(group, start=1):
            names[cluster] = f"{names[cluster]} ({WORDS[language]['group'].format(number=number)})"
    return names


def suggested_action(levels: pd.Series, language: str = "en") -> str:
    """What to do with a cluster, from its levels: value and activity first, then growth."""
    check_language(language)
    spend, recency = _broad(levels.get("monetary", "mid")), _broad(levels.get("recency_days", "mid"))
    frequency, growth = _broad(levels.get("frequency", "mid")), _broad(levels.get("yoy_growth", "mid"))
    one_time = "frequency_median" in levels and levels["frequency_median"] <= 1
    if recency == "mid" and not one_time and _broad(levels.get("p_alive", "mid")) == "low":
        recency = "high"  # likely gone by the purchase model: treat as lapsed
    if spend == "high" and recency != "high":
        key = "keep"
    elif spend == "high":
        key = "win_back"
    elif growth == "high":
        key = "grow_with"
    elif recency == "low" and frequency != "low":
        key = "develop"
    elif recency == "low":
        key = "nurture"
    elif recency == "high":
        key = "win_back" if frequency == "high" else "reactivate"
    else:
        key = "watch"
    return ACTIONS[language][key]


# --------------------------------------------------------------------------------------------------
# profiles
# --------------------------------------------------------------------------------------------------
def profile_clusters(features: pd.DataFrame, labels: np.ndarray, language: str = "en") -> pd.DataFrame:
    """Per cluster: name, customers, share, revenue_share, the medians of the numeric raw features, the most
    frequent category per categorical feature, and a suggested action. Ordered as the clusters."""
    labels = np.asarray(labels)
    levels = describe_levels(features, labels)
    names = cluster_names(features, labels, language, levels)
    numeric = [c for c in NUMERIC if c in features]
    revenue = features["monetary"].clip(lower=0) if "monetary" in features else None
    total = float(revenue.sum()) if revenue is not None else 0.0
    records = []
    for cluster in levels.index:
        inside = labels == cluster
        record: dict[str, Any] = {
            "cluster": cluster,
            "cluster_name": names[cluster],
            "customers": int(inside.sum()),
            "share": float(inside.mean()),
            "revenue_share": float(revenue[inside].sum() / total) if total > 0 else np.nan,
        }
        for column in numeric:
            record[column] = float(levels.loc[cluster, f"{column}_median"])
        for column in CATEGORICAL:
            if column in features:
                counts = features.loc[inside, column].fillna("unknown").astype(str).value_counts()
                record[f"top_{column}"] = f"{counts.index[0]} ({counts.iloc[0] / int(inside.sum()):.0%})"
        record["action"] = suggested_action(levels.loc[cluster], language)
        records.append(record)
    return pd.DataFrame(records)
