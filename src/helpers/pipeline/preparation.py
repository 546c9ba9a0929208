"""Data preparation for one analysis month: validate the inputs, quarantine bad rows, and write the
processed files every later notebook reads (see helpers.core.artifacts for their names)."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers import __version__
from helpers.core import artifacts as processed
from helpers.core import paths, periods
from helpers.core import spark as spark_setup
from helpers.core.config import Settings, load_column_mapping
from helpers.core.errors import UsageError
from helpers.core.spark import is_remote_source
from helpers.data.inputs import InputFiles, resolve_month
from helpers.data.intake.loader import IntakeResult, load_inputs
from helpers.features import transaction_queries
from helpers.features.engines import summarise, summarise_calibration_holdout


@dataclass
class PreparedMonth:
    month: str
    cutoff: pd.Timestamp
    intake: IntakeResult
    summary: pd.DataFrame
    calibration: pd.DataFrame | None
    calibration_end: pd.Timestamp | None
    currency: str
    notes: list[str]
    transactions_file: Path  # the accepted transactions (processed artifact "transactions")


def data_currency(transactions: transaction_queries.Source, default: str, source) -> str:
    """The currency of the amounts: the one named in the data's currency column, else the configured one.
    Amounts in several currencies cannot be added up, so that stops the run. `transactions`: the accepted
    transactions' Parquet file or a DataFrame."""
    named = transaction_queries.currencies(transactions)
    if len(named) > 1:
        raise UsageError(
            f"{source}: column 'currency' holds several currencies ({', '.join(named)}); amounts in different "
            f"currencies cannot be added up: convert them to one currency before the analysis"
        )
    return named[0] if named else default


@dataclass(frozen=True)
class DataMonths:
    """The calendar months (YYYY-MM) that hold an accepted transaction, oldest first, and the last day."""

    months: list[str]
    last_date: pd.Timestamp | None

    def latest_complete(self, today=None) -> str:
        """The latest complete month of the data: never one still under way, never later than the last
        complete calendar month (whatever date a typo put in the data): the newest data month up to there."""
        if self.last_date is None:
            raise UsageError("no transaction is accepted, so there is no month to analyse")
        newest = periods.latest_complete_month(self.last_date, today)
        earlier = [m for m in self.months if m <= newest]
        return earlier[-1] if earlier else newest


def spark_session_for(settings: Settings, spark_master: str = ""):
    """The Spark session of a run: on `spark_master` (``--spark-master``), else on the settings'
    ``spark.master``, else as helpers.core.spark.session finds one."""
    return spark_setup.session(master=spark_master or settings.spark.master)


def data_months(files: InputFiles, settings: Settings, engine: str = "duckdb", spark_master: str = "") -> DataMonths:
    """Which months the accepted transactions cover (the rows checked as in a run, so a rejected row, e.g.
    one dated in the future, never makes a month). A table is checked by the executors; only the list of
    months and the last day come back."""
    if engine == "spark" and is_remote_source(files.transactions):
        from pyspark.sql import functions as F

        from helpers.data.intake import in_spark as warehouse_intake

        accepted, _ = warehouse_intake.check_table(
            str(files.transactions), load_column_mapping(settings), settings, None,
            spark_session_for(settings, spark_master), find_repeats=False,  # a repeat's twin has its month
        )
        found = accepted.agg(
            F.sort_array(F.collect_set(F.date_format("date", "yyyy-MM"))).alias("months"), F.max("date").alias("last")
        ).collect()[0]
        return DataMonths(list(found["months"]), pd.Timestamp(found["last"]) if found["last"] is not None else None)
    with tempfile.TemporaryDirectory(prefix="workbook-month-") as work:
        intake = load_inputs(files.transactions, settings=settings, workdir=work)
        accepted = intake.write_transactions(Path(work) / "all.parquet")
        table = transaction_queries.revenue_by_month(accepted)
        last = transaction_queries.overview(accepted)["last_date"]
    months = [str(month) for month, rows in table["rows"].items() if rows > 0]
    return DataMonths(months, pd.Timestamp(last) if months else None)


def latest_month(files: InputFiles, settings: Settings, engine: str = "duckdb", spark_master: str = "") -> str:
    """The latest complete month in the accepted transactions (see DataMonths.latest_complete)."""
    return data_months(files, settings, engine, spark_master).latest_complete()


def check_months(requested: list[str], covered: DataMonths, source) -> None:
    """Refuse a month with no accepted transaction in it or in the month before: its report would show
    every customer gone (a typo month, or one outside the data)."""
    months = covered.months
    present = set(months)
    empty = [m for m in requested if m not in present and periods.shift_month(m, -1) not in present]
    if empty:
        covered = f"{months[0]} to {months[-1]}" if months else "no month"
        raise UsageError(
            f"{source}: no accepted transaction in {', '.join(empty)} or the month before; the data cover "
            f"{covered}. Choose a month within the data (e.g. --month {months[-1] if months else 'YYYY-MM'}), "
            f"or check the dates in the file (`workbook validate` lists rejected rows)"
        )


def calibration_end_for(month: str, holdout_months: int, first_date) -> pd.Timestamp | None:
    """The end of the calibration window: `holdout_months` before the cut-off, or None when that would
    leave no calibration data (the holdout check is then skipped, and the report says so)."""
    if holdout_months <= 0:
        return None
    end = periods.month_end(periods.shift_month(month, -holdout_months))
    return end if pd.Timestamp(first_date) <= end else None


def prepare_month(
    files: InputFiles, month: str, settings: Settings, engine: str = "duckdb", spark_master: str = ""
) -> PreparedMonth:
    """Validate the inputs for `month` (empty: the latest complete month), write the processed files, and
    condense the accepted transactions into the customer summary on `engine` (duckdb or spark), which
    reads the accepted transactions from their Parquet file. With engine spark and a table name or a
    cluster path as the transactions, Spark's executors also check the rows (helpers.data.intake.in_spark)
    and write the accepted ones into the month's folder. Spark runs on `spark_master`, else on the
    settings' ``spark.master`` (see `spark_session_for`)."""
    notes: list[str] = []
    spark = spark_session_for(settings, spark_master) if engine == "spark" else None
    if not month:
        month = latest_month(files, settings, engine, spark_master)
        notes.append(f"No month was given: the latest complete month in the data is {month}.")
    month = resolve_month(month, None)
    if paths.staged_run() is None:
        # an analyst's session: the later notebooks open this data set's months, apart from other data sets'
        paths.use_edition(paths.Edition(files.name, "en"))
    cutoff = periods.month_end(month)
    folder = paths.processed_dir(month)
    folder.mkdir(parents=True, exist_ok=True)
    processed.unmark_published(month)
    target = processed.artifact_path(month, "transactions")
    if engine == "spark" and is_remote_source(files.transactions):
        from helpers.data.intake import in_spark as warehouse_intake

        # the executors check the rows, write the accepted ones here and condense them; only per-customer
        # results, the counts and the listed rejected rows come to this process
        accepted_rows, intake = warehouse_intake.check_table(
            str(files.transactions), load_column_mapping(settings), settings, cutoff, spark
        )
        intake = intake.merged(
            load_inputs([], files.accounts, files.service_map, analysis_end=cutoff, settings=settings)
        )
        accepted = warehouse_intake.write_accepted(
            accepted_rows, target, settings.spark.accepted_rows_dir, int(intake.counts.loc[intake.counts["table"] == "transactions", "accepted"].sum())
        )
        summary_source = accepted_rows
    else:
        # DuckDB leaves the accepted transactions as Parquet files in a work folder; they become the artifact
        work = Path(tempfile.mkdtemp(prefix=".intake-", dir=folder))
        try:
            intake = load_inputs(
                files.transactions, files.accounts, files.service_map, analysis_end=cutoff, settings=settings,
                workdir=work,
            )
            accepted = intake.write_transactions(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        # Spark's executors read the file by its URI (on YARN a bare path would be HDFS)
        summary_source = spark_setup.file_uri(accepted) if spark is not None else accepted
    seen = transaction_queries.overview(accepted)
    if seen["rows"] == 0:
        raise UsageError(
            f"{files.transactions}: no transaction is left for {month} after validation; "
            f"see rejected_rows.csv in {paths.published_processed_dir(month)} for the reasons"
        )
    currency = data_currency(accepted, settings.currency, files.transactions)
    unit_days = settings.summary.unit_days
    summary = summarise(summary_source, cutoff, unit_days=unit_days, engine=engine, spark_session=spark)
    processed.write_artifact(summary, month, "customer_summary")
    calibration_end = calibration_end_for(month, settings.summary.holdout_months, seen["first_date"])
    calibration = None
    if calibration_end is not None:
        calibration = summarise_calibration_holdout(
            summary_source, calibration_end, cutoff, unit_days=unit_days, engine=engine, spark_session=spark
        )
        processed.write_artifact(calibration, month, "calibration_holdout")
    else:
        notes.append("The data are too short for a holdout window: model validation will be skipped.")
    for name, table in (("accounts", intake.accounts), ("service_map", intake.service_map)):
        target = processed.artifact_path(month, name)
        if table is not None:
            processed.write_artifact(table, month, name)
        elif target.exists():
            target.unlink()  # a stale file from an earlier run with that input would mislead later notebooks
    processed.write_artifact(intake.counts, month, "intake_counts")
    processed.write_rejected_rows(intake.rejected, month)
    processed.write_run_info(
        month,
        {
            "month": month,
            "cutoff": cutoff.date().isoformat(),
            "inputs": {k: (str(v) if v else None) for k, v in files.as_dict().items()},
            "settings_file": str(settings.source),
            "unit_days": unit_days,
            "currency": currency,
            "engine": engine,
            "spark_master": _master_of(spark),
            "intake_engines": intake.engines,
            "calibration_end": calibration_end.date().isoformat() if calibration_end is not None else None,
            "version": __version__,
            "prepared_at": dt.datetime.now().isoformat(timespec="seconds"),
        },
    )
    return PreparedMonth(month, cutoff, intake, summary, calibration, calibration_end, currency, notes, accepted)


def _master_of(spark) -> str | None:
    if spark is None:
        return None
    try:
        return str(spark.sparkContext.master)
    except Exception:  # Spark Connect
        return "Spark Connect"
