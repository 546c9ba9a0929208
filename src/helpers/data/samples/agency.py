"""A realistic, seeded sample data set: the clients of a German digital agency.

`generate_agency` builds the three contract tables from one seed, without the network and without
reading today's date:

- ``accounts``: one row per client with firmographics (industry, funnel type, employees, yearly marketing
  budget, year-over-year growth, region, business model, acquisition date) and a unique German company name.
- ``service_map``: what each client buys or bought, per See-Think-Do-Care stage x operations/consulting
  and channel. Clients start with one or two services and some add more over time (cross-sell); stopped
  services have ``active`` false, so mature and immature clients leave visible gaps (whitespace).
  Besides the contract columns (with ``started_on`` and ``ended_on``) it carries ``service`` (the service line).
- ``transactions``: the invoices. Monthly retainers for operations services (scaled by client size,
  drifting with the client's growth), lumpy consulting projects billed by the hour, and a few credit notes
  (negative amounts, order_id ``CN-<year>-<no>`` pointing at invoice ``INV-<year>-<no>``). Clients churn
  with a hazard that is higher for shrinking and immature clients, so some go silent long before the end.

`prepare_sample_data` writes these tables and the CDNOW master file under ``data/raw`` once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core import paths
from helpers.data.contract import CONTRACT, FUNNEL_TYPES, TABLES
from helpers.data.samples.agency_vocabulary import INDUSTRIES, REGIONS, company_names
from helpers.data.samples.cdnow import write_cdnow

CHANNELS = ("google", "meta", "linkedin", "seo", "email", "web")
BUSINESS_MODELS = ("B2B", "B2C", "B2B2C")

TRANSACTION_COLUMNS = CONTRACT["transactions"].column_names
ACCOUNT_COLUMNS = CONTRACT["accounts"].column_names
SERVICE_MAP_COLUMNS = [*CONTRACT["service_map"].column_names, "service"]

# service line, stage, kind, channel, monthly fee (operations, at size 1) or hourly rate (consulting),
# affinity for funnel types retail / lead_gen / business_industry
SERVICES: list[tuple[str, str, str, str, float, tuple[float, float, float]]] = [
    ("Paid social", "see", "operations", "meta", 1100.0, (3.0, 1.5, 0.5)),
    ("Display & video", "see", "operations", "google", 900.0, (1.5, 1.0, 0.5)),
    ("LinkedIn Ads", "see", "operations", "linkedin", 1000.0, (0.2, 2.0, 3.0)),
    ("SEA retainer", "think", "operations", "google", 1300.0, (3.0, 3.0, 2.0)),
    ("SEO", "think", "operations", "seo", 1200.0, (2.0, 2.5, 2.5)),
    ("Content marketing", "think", "operations", "web", 950.0, (1.0, 2.0, 2.0)),
    ("Conversion optimisation", "do", "operations", "web", 1000.0, (2.5, 1.5, 0.8)),
    ("Retargeting", "do", "operations", "meta", 700.0, (2.0, 1.0, 0.3)),
    ("CRM/email automation", "care", "operations", "email", 850.0, (2.5, 1.5, 1.0)),
    ("Community management", "care", "operations", "meta", 650.0, (1.5, 0.5, 0.3)),
    ("Strategy workshop", "see", "consulting", "web", 160.0, (1.0, 1.0, 1.2)),
    ("Social media strategy", "see", "consulting", "meta", 140.0, (1.0, 0.6, 0.3)),
    ("SEO audit", "think", "consulting", "seo", 140.0, (0.8, 1.0, 1.0)),
    ("Tracking & analytics audit", "do", "consulting", "google", 150.0, (1.0, 1.0, 0.8)),
    ("Lead generation strategy", "do", "consulting", "linkedin", 150.0, (0.2, 1.5, 1.5)),
    ("CRM strategy", "care", "consulting", "email", 150.0, (1.0, 0.8, 0.5)),
]
SERVICE_LINES = tuple(s[0] for s in SERVICES)


def _month_index(dates: np.ndarray, origin: np.datetime64) -> np.ndarray:
    """Whole months between the month of `origin` and the month of each date."""
    return (dates.astype("datetime64[M]") - np.datetime64(origin, "M")).astype(np.int64)


def _accounts(rng: np.random.Generator, n: int, start: np.datetime64, end: np.datetime64) -> pd.DataFrame:
    industry_names = list(INDUSTRIES)
    weights = np.array([INDUSTRIES[i][0] for i in industry_names])
    industries = [
        industry_names[k] for k in rng.choice(len(industry_names), size=n, p=weights / weights.sum())
    ]

    # funnel type follows the industry, with some noise (a shop that sells leads, a SaaS with a webshop)
    funnel = []
    for ind in industries:
        default = INDUSTRIES[ind][1]
        if rng.random() < 0.12:
            funnel.append(str(rng.choice([f for f in FUNNEL_TYPES if f != default])))
        else:
            funnel.append(default)

    models = [str(rng.choice(BUSINESS_MODELS, p=INDUSTRIES[ind][2])) for ind in industries]

    employees = np.clip(np.round(rng.lognormal(mean=np.log(45), sigma=1.25, size=n)), 2, 25000).astype(
        np.int64
    )
    budget_factor = np.array([INDUSTRIES[i][3] for i in industries])
    budget = 2500.0 * employees**0.75 * budget_factor * rng.lognormal(0.0, 0.45, size=n)
    budget = np.clip(np.round(budget / 1000.0) * 1000.0, 5000.0, None)

    # growth: most between shrinking and moderately growing, a fat tail of fast growers
    growth = 0.04 + 0.12 * rng.standard_t(df=4, size=n)
    growth = np.round(np.clip(growth, -0.45, 1.2), 3)

    region_names = list(REGIONS)
    rw = np.array([REGIONS[r] for r in region_names])
    regions = [region_names[k] for k in rng.choice(len(region_names), size=n, p=rw / rw.sum())]

    # acquisition: ~20% existing clients from before the start, the rest during the period (slightly
    # accelerating, as the agency grows); the last 60 days get no new clients so each can be invoiced
    existing = rng.random(n) < 0.2
    before = start - rng.integers(30, 8 * 365, size=n).astype("timedelta64[D]")
    span = int((end - start).astype(np.int64)) - 60
    during = start + (rng.beta(1.3, 1.0, size=n) * span).astype(np.int64).astype("timedelta64[D]")
    acquired = np.where(existing, before, during).astype("datetime64[D]")

    order = np.argsort(acquired, kind="stable")  # customer numbers follow acquisition, as in a CRM
    width = max(4, len(str(n)))
    names = company_names(rng, [industries[k] for k in order], employees[order])
    accounts = pd.DataFrame(
        {
            "customer_id": [f"C{i + 1:0{width}d}" for i in range(n)],
            "name": names,
            "industry": [industries[k] for k in order],
            "funnel_type": [funnel[k] for k in order],
            "employees": employees[order],
            "marketing_budget": budget[order],
            "yoy_growth": growth[order],
            "region": [regions[k] for k in order],
            "business_model": [models[k] for k in order],
            "acquired_on": pd.to_datetime(acquired[order]).astype("datetime64[ns]"),
        }
    )
    return accounts[ACCOUNT_COLUMNS]


def _services(
    rng: np.random.Generator, accounts: pd.DataFrame, start: np.datetime64, end: np.datetime64
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Service windows per client; also each client's maturity and relationship end (exclusive)."""
    n = len(accounts)
    n_services = len(SERVICES)
    kinds = np.array([s[2] for s in SERVICES])
    is_ops = kinds == "operations"
    affinity = np.array([s[5] for s in SERVICES])  # (services, 3)
    funnel_idx = accounts["funnel_type"].map({f: i for i, f in enumerate(FUNNEL_TYPES)}).to_numpy()
    growth = accounts["yoy_growth"].to_numpy()
    acquired = accounts["acquired_on"].to_numpy().astype("datetime64[D]")
    horizon_end = end + np.timedelta64(1, "D")  # exclusive end of the period

    # marketing maturity 0..1, a little higher for bigger budgets
    budget_rank = accounts["marketing_budget"].rank(pct=True).to_numpy()
    maturity = np.clip(rng.beta(2.0, 3.0, size=n) + 0.25 * (budget_rank - 0.5), 0.02, 0.98)

    # churn: monthly hazard higher for shrinking, immature and small clients
    hazard = (
        0.014 * np.exp(-2.5 * np.clip(growth, -0.4, 0.6)) * (1.7 - 1.2 * maturity) * (1.3 - 0.6 * budget_rank)
    )
    life_days = np.maximum(60.0, rng.exponential(1.0 / hazard) * 30.44).astype(np.int64)
    anchor = np.maximum(acquired, start)
    client_end = np.minimum(anchor + life_days.astype("timedelta64[D]"), horizon_end)

    rows: list[tuple[int, int, np.datetime64, np.datetime64]] = []
    for c in range(n):
        w = affinity[:, funnel_idx[c]].copy()
        w_cross = np.where(is_ops, w, 2.0 * w)  # once the client knows the agency, projects sell easier
        owned: list[int] = []
        # the first service: mostly an operations retainer (always for clients from before the start,
        # so that every client gets invoiced inside the period)
        if acquired[c] < start or rng.random() < 0.85:
            p = np.where(is_ops, w, 0.0)
        else:
            p = np.where(is_ops, 0.0, w)
        owned.append(int(rng.choice(n_services, p=p / p.sum())))
        starts = [acquired[c]]
        ends = [client_end[c]]
        if rng.random() < 0.4:  # a second service from day one
            p = w.copy()
            p[owned] = 0.0
            owned.append(int(rng.choice(n_services, p=p / p.sum())))
            starts.append(acquired[c])
            ends.append(client_end[c])
        # cross-sell over the relationship, faster for mature and growing clients
        rel_days = int((client_end[c] - acquired[c]).astype(np.int64))
        rate = (0.1 + 0.7 * maturity[c]) * (1.0 + max(growth[c], 0.0))
        n_extra = min(int(rng.poisson(rate * rel_days / 365.25)), n_services - len(owned))
        for _ in range(n_extra):
            p = w_cross.copy()
            p[owned] = 0.0
            if p.sum() <= 0:
                break
            owned.append(int(rng.choice(n_services, p=p / p.sum())))
            offset = int(rng.integers(30, max(31, rel_days)))
            s = acquired[c] + np.timedelta64(offset, "D")
            if s >= client_end[c]:
                s = client_end[c] - np.timedelta64(30, "D")
            starts.append(max(s, acquired[c]))
            ends.append(client_end[c])
        # some added services are stopped again (consulting more often than retainers)
        for k in range(1, len(owned)):
            stop_p = 0.35 if not is_ops[owned[k]] else 0.2
            if rng.random() < stop_p:
                length = int((ends[k] - starts[k]).astype(np.int64))
                if length > 60:
                    ends[k] = starts[k] + np.timedelta64(int(rng.integers(45, length)), "D")
        for k, svc in enumerate(owned):
            rows.append((c, svc, starts[k], ends[k]))

    svc = pd.DataFrame(rows, columns=["client", "service_idx", "started_on", "ended_on"])
    svc["started_on"] = svc["started_on"].astype("datetime64[ns]")
    svc["ended_on"] = svc["ended_on"].astype("datetime64[ns]")
    return svc, maturity, client_end


def _invoices(
    rng: np.random.Generator,
    accounts: pd.DataFrame,
    svc: pd.DataFrame,
    maturity: np.ndarray,
    start: np.datetime64,
    end: np.datetime64,
) -> pd.DataFrame:
    budget = accounts["marketing_budget"].to_numpy()
    growth = accounts["yoy_growth"].to_numpy()
    size = np.clip((budget / np.median(budget)) ** 0.8, 0.15, 25.0)
    n = len(accounts)
    invoice_day = rng.integers(0, 5, size=n)  # retainers are billed on the 1st..5th of the month

    s_idx = svc["service_idx"].to_numpy()
    client = svc["client"].to_numpy()
    s_start = svc["started_on"].to_numpy().astype("datetime64[D]")
    s_end = svc["ended_on"].to_numpy().astype("datetime64[D]")  # exclusive
    kinds = np.array([SERVICES[i][2] for i in s_idx])
    base = np.array([SERVICES[i][4] for i in s_idx])
    lines = np.array([SERVICES[i][0] for i in s_idx], dtype=object)
    # contribution margin per client and service line
    margin_ops = rng.uniform(0.27, 0.50, size=len(svc))
    margin_con = rng.uniform(0.40, 0.57, size=len(svc))
    margin = np.where(kinds == "operations", margin_ops, margin_con)
    fee_level = base * size[client] * rng.lognormal(0.0, 0.25, size=len(svc))

    # --- operations: one retainer invoice per active month ---------------------------------------
    ops = np.flatnonzero(kinds == "operations")
    first_m = _month_index(np.maximum(s_start[ops], start), start)
    last_m = _month_index(np.minimum(s_end[ops] - np.timedelta64(1, "D"), end), start)
    counts = np.maximum(last_m - first_m + 1, 0)
    rep = np.repeat(ops, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    month = np.repeat(first_m, counts) + offsets
    month_start = (np.datetime64(start, "M") + month.astype("timedelta64[M]")).astype("datetime64[D]")
    date = month_start + invoice_day[client[rep]].astype("timedelta64[D]")
    first_of_service = offsets == 0
    date = np.where(first_of_service, np.maximum(date, s_start[rep]), date)
    keep = (date >= s_start[rep]) & (date < s_end[rep]) & (date >= start) & (date <= end)
    rep, date = rep[keep], date[keep]
    years_in = (date - s_start[rep]).astype(np.int64) / 365.25
    drift = np.clip((1.03 + 0.5 * growth[client[rep]]) ** years_in, 0.4, 3.0)
    amount = np.round(fee_level[rep] * drift * rng.lognormal(0.0, 0.05, size=len(rep)), 2)
    ops_df = pd.DataFrame(
        {"row": rep, "date": date, "amount": amount, "quantity": np.ones(len(rep)), "margin": margin[rep]}
    )

    # --- consulting: lumpy projects billed by the hour ----------------------------------------------
    con = np.flatnonzero(kinds == "consulting")
    lo = np.maximum(s_start[con], start)
    hi = np.minimum(s_end[con], end + np.timedelta64(1, "D"))
    span = np.maximum((hi - lo).astype(np.int64), 0)
    rate = 1.1 * (0.5 + maturity[client[con]])  # projects per year
    n_proj = rng.poisson(rate * span / 365.25)
    # the project that started the service is billed at its start, if that lies inside the period
    starts_inside = (s_start[con] >= start) & (span > 0)
    n_proj = n_proj + starts_inside.astype(np.int64)
    rep_c = np.repeat(con, n_proj)
    first = np.zeros(len(rep_c), dtype=bool)
    first[np.cumsum(n_proj)[n_proj > 0] - n_proj[n_proj > 0]] = True
    first &= np.repeat(starts_inside, n_proj)
    span_r = np.repeat(span, n_proj)
    project_day = np.where(
        first, np.minimum(14, span_r - 1), (rng.random(len(rep_c)) * span_r).astype(np.int64)
    )
    date_c = np.repeat(lo, n_proj) + project_day.astype("timedelta64[D]")
    hours = np.clip(
        np.round(rng.lognormal(np.log(22.0), 0.6, size=len(rep_c)) * size[client[rep_c]] ** 0.5), 4, 400
    )
    amount_c = np.round(hours * base[rep_c], 2)
    con_df = pd.DataFrame(
        {
            "row": rep_c,
            "date": date_c,
            "amount": amount_c,
            "quantity": hours.astype(float),
            "margin": margin[rep_c],
        }
    )

    inv = pd.concat([ops_df, con_df], ignore_index=True)
    inv["margin"] = np.clip(inv["margin"] + rng.normal(0.0, 0.02, size=len(inv)), 0.26, 0.59)
    inv["cost"] = np.round(inv["amount"] * (1.0 - inv["margin"]), 2)
    inv["customer_id"] = accounts["customer_id"].to_numpy()[client[inv["row"].to_numpy()]]
    inv["category"] = lines[inv["row"].to_numpy()]
    inv["date"] = inv["date"].astype("datetime64[ns]")
    inv = inv.sort_values(["date", "customer_id", "category"], kind="stable").reset_index(drop=True)
    year = inv["date"].dt.year
    seq = inv.groupby(year).cumcount() + 1
    number = year.astype(str) + "-" + seq.map(lambda v: f"{v:05d}")
    inv["order_id"] = "INV-" + number
    inv["currency"] = "EUR"
    inv = inv[TRANSACTION_COLUMNS]

    # --- credit notes: ~0.5% of invoices are credited in full or in part, days to weeks later ---------
    n_cn = max(3, int(round(0.005 * len(inv))))
    eligible = np.flatnonzero((inv["date"] <= pd.Timestamp(end) - pd.Timedelta(days=10)).to_numpy())
    picked = np.sort(rng.choice(eligible, size=min(n_cn, len(eligible)), replace=False))
    orig = inv.iloc[picked]
    frac = np.where(rng.random(len(orig)) < 0.4, 1.0, np.round(rng.uniform(0.1, 0.5, size=len(orig)), 2))
    delay = rng.integers(3, 45, size=len(orig)).astype("timedelta64[D]").astype("timedelta64[ns]")
    cn_date = np.minimum(orig["date"].to_numpy() + delay, np.datetime64(end, "ns"))
    credit = pd.DataFrame(
        {
            "customer_id": orig["customer_id"].to_numpy(),
            "date": cn_date,
            "amount": -np.round(orig["amount"].to_numpy() * frac, 2),
            "order_id": "CN-" + orig["order_id"].str.removeprefix("INV-").to_numpy(),
            "quantity": -np.round(orig["quantity"].to_numpy() * frac, 2),
            "category": orig["category"].to_numpy(),
            "cost": -np.round(orig["cost"].to_numpy() * frac, 2),
            "currency": "EUR",
        }
    )
    out = pd.concat([inv, credit], ignore_index=True)
    out = out.sort_values(["date", "order_id"], kind="stable").reset_index(drop=True)
    out["date"] = out["date"].astype("datetime64[ns]")
    return out


def generate_agency(
    seed: int = 42, n_clients: int = 300, start: str = "2023-01-01", end: str = "2025-12-31"
) -> dict[str, pd.DataFrame]:
    """The agency's transactions, accounts and service map, fully determined by the arguments."""
    start_d = np.datetime64(start, "D")
    end_d = np.datetime64(end, "D")
    if end_d - start_d < np.timedelta64(180, "D"):
        raise ValueError("the period from start to end must cover at least 180 days")
    if n_clients < 10:
        raise ValueError("n_clients must be at least 10")
    rng = np.random.default_rng(seed)
    accounts = _accounts(rng, n_clients, start_d, end_d)
    svc, maturity, _client_end = _services(rng, accounts, start_d, end_d)
    transactions = _invoices(rng, accounts, svc, maturity, start_d, end_d)

    horizon_end = pd.Timestamp(end_d) + pd.Timedelta(days=1)
    service_map = pd.DataFrame(
        {
            "customer_id": accounts["customer_id"].to_numpy()[svc["client"].to_numpy()],
            "funnel_stage": [SERVICES[i][1] for i in svc["service_idx"]],
            "service_kind": [SERVICES[i][2] for i in svc["service_idx"]],
            "channel": [SERVICES[i][3] for i in svc["service_idx"]],
            "active": (svc["ended_on"] >= horizon_end).to_numpy(),
            "service": [SERVICES[i][0] for i in svc["service_idx"]],
            "started_on": svc["started_on"],
            "ended_on": svc["ended_on"].where(svc["ended_on"] < horizon_end),
        }
    )
    # a retainer window is half-open: the day it ended is the first day without the service; a service
    # that never got an invoice in the period is still listed (it was bought before the start)
    service_map = service_map.sort_values(["customer_id", "started_on", "service"], kind="stable")
    service_map = service_map.reset_index(drop=True)[SERVICE_MAP_COLUMNS]
    return {"transactions": transactions, "accounts": accounts, "service_map": service_map}


def _to_csv(df: pd.DataFrame, path: Path) -> None:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == bool:
            out[col] = np.where(out[col], "true", "false")
    out.to_csv(path, index=False, encoding="utf-8", date_format="%Y-%m-%d", lineterminator="\n")


def write_agency(target_dir: str | Path, **kwargs: Any) -> dict[str, Path]:
    """Generate the agency tables (kwargs go to `generate_agency`) and write them as CSV into target_dir."""
    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    tables = generate_agency(**kwargs)
    written: dict[str, Path] = {}
    for name in TABLES:
        path = target / f"{name}.csv"
        _to_csv(tables[name], path)
        written[name] = path
    return written


def prepare_sample_data(raw_dir: str | Path | None = None, force: bool = False) -> dict[str, Path]:
    """Write the bundled data sets under raw_dir (default data/raw) unless present; return their dirs.

    ``agency``: the seeded agency (transactions, accounts, service_map); ``cdnow``: the CDNOW master file
    as transactions.csv.
    """
    root = Path(raw_dir) if raw_dir is not None else paths.raw_dir()
    agency_dir = root / "agency"
    cdnow_dir = root / "cdnow"
    if force or not all((agency_dir / f"{t}.csv").is_file() for t in TABLES):
        write_agency(agency_dir)
    if force or not (cdnow_dir / "transactions.csv").is_file():
        write_cdnow(cdnow_dir, kind="master")
    return {"agency": agency_dir, "cdnow": cdnow_dir}
