"""The CDNOW data set (Fader, Hardie and Lee, 2005), read from the files shipped inside `lifetimes`.

Two files exist:

- ``CDNOW_master.txt``: the whole cohort of 23,570 customers who first bought in Q1 1997, 69,659 rows,
  with a header line and the columns customer id, date (yyyymmdd), number of CDs and dollar value.
- ``CDNOW_sample.txt``: the published 1/10 sample, 2,357 customers, 6,919 rows, without a header and the
  columns master id, sample id (1..2357), date, CDs and dollars. As in the published Fader/Hardie summary
  (and lifetimes' ``cdnow_customers_summary.csv``), the sample id is the customer id.

Both are returned in the transactions contract: customer_id (str, no leading zeros), date (datetime64),
amount (float), quantity (float) and currency ("USD").
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import pandas as pd

Kind = Literal["master", "sample"]

FILES: dict[str, str] = {"master": "CDNOW_master.txt", "sample": "CDNOW_sample.txt"}
CONTRACT_COLUMNS = ["customer_id", "date", "amount", "quantity", "currency"]


def cdnow_path(kind: Kind = "master") -> Path:
    """Path of a CDNOW file inside the installed lifetimes package."""
    if kind not in FILES:
        raise ValueError(f"kind must be one of {sorted(FILES)}, got {kind!r}")
    ref = resources.files("lifetimes.datasets").joinpath(FILES[kind])
    return Path(str(ref))


def summary_path() -> Path:
    """Path of lifetimes' ``cdnow_customers_summary.csv`` (the published per-customer summary)."""
    return Path(str(resources.files("lifetimes.datasets").joinpath("cdnow_customers_summary.csv")))


def _strip_id(values: pd.Series) -> pd.Series:
    # "00004" -> "4"; int round trip keeps ids identical to the integer IDs of the published summary
    return values.astype("int64").astype(str)


def read_cdnow(kind: Kind = "master") -> pd.DataFrame:
    """Read CDNOW transactions (one row per purchase line) in the transactions contract."""
    path = cdnow_path(kind)
    if kind == "master":
        raw = pd.read_csv(
            path,
            sep=r"\s+",
            skiprows=1,
            header=None,
            names=["customer_id", "date", "quantity", "amount"],
            dtype={"customer_id": str, "date": str},
        )
    else:
        raw = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            names=["master_id", "customer_id", "date", "quantity", "amount"],
            dtype={"master_id": str, "customer_id": str, "date": str},
        )
    out = pd.DataFrame(
        {
            "customer_id": _strip_id(raw["customer_id"]).astype(str),
            "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["amount"].astype("float64"),
            "quantity": raw["quantity"].astype("float64"),
            "currency": "USD",
        }
    )
    out["date"] = out["date"].astype("datetime64[ns]")
    return out[CONTRACT_COLUMNS].reset_index(drop=True)


def write_cdnow(target_dir: str | Path, kind: Kind = "master") -> Path:
    """Write ``transactions.csv`` (contract format, ISO dates) into ``target_dir``; return its path."""
    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    df = read_cdnow(kind)
    path = target / "transactions.csv"
    df.to_csv(path, index=False, date_format="%Y-%m-%d", encoding="utf-8", lineterminator="\n")
    return path
