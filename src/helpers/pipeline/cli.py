"""The `workbook` command: run the monthly pipeline, validate input files, prepare sample data, benchmark, project
contract retention."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from pathlib import Path

from helpers import __version__
from helpers.core import paths, periods
from helpers.core.errors import UsageError, WorkbookError


def _add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="agency", help="bundled data set: agency (default) or cdnow")
    parser.add_argument("--transactions", default="", help="transactions file (CSV, Parquet or Excel)")
    parser.add_argument("--accounts", default="", help="accounts file (optional)")
    parser.add_argument("--service-map", default="", help="service map file (optional)")
    parser.add_argument("--config", default="", help="settings file (default config/settings.yaml)")
    parser.add_argument(
        "--name", default="",
        help="the data set's name: its months are published apart from other data sets' (default: the bundled "
             "data set's name, or one taken from the transactions file)",
    )


def _run(args: argparse.Namespace) -> int:
    from helpers.core import config
    from helpers.data import inputs
    from helpers.pipeline import preparation, runner

    settings = config.load_settings(args.config or None)
    files = inputs.resolve_inputs(args.dataset, args.transactions, args.accounts, args.service_map, args.engine)
    if args.name:
        files = dataclasses.replace(files, name=inputs.dataset_name(given=args.name))
    if args.from_month or args.to_month:
        if not (args.from_month and args.to_month):
            raise UsageError("--from and --to go together (e.g. --from 2025-01 --to 2025-12)")
        months = periods.month_range(args.from_month, args.to_month)
    elif args.month:
        months = [inputs.resolve_month(args.month, None)]
    else:
        months = []
    # which months the accepted rows cover, before any notebook runs: a month outside them is refused
    covered = preparation.data_months(files, settings, args.engine, args.spark_master)
    if args.engine == "spark":
        # the notebooks start their own session; one left here would hold the cluster's cores (and the
        # Java process its memory, and an embedded metastore its lock) while they run
        from helpers.core.spark import stop_spark_session

        stop_spark_session(end_jvm=True)
    if not months:
        months = [covered.latest_complete()]
        print(f"no --month given: using the latest complete month in the data, {months[0]}")
    preparation.check_months(months, covered, files.transactions)
    failed: list[str] = []
    published: list[runner.RunResult] = []
    for position, month in enumerate(months):
        parameters = {
            "month": month,
            "name": files.name,
            "dataset": args.dataset,
            "transactions_path": str(files.transactions.resolve()) if isinstance(files.transactions, Path)
            else files.transactions,
            "accounts_path": str(files.accounts.resolve()) if files.accounts else "",
            "service_map_path": str(files.service_map.resolve()) if files.service_map else "",
            "config_path": str(settings.source.resolve()),
            "engine": args.engine,
            "spark_master": args.spark_master,
            "language": args.language,
            "pseudonymise": args.pseudonymise,
        }
        if position == 0:
            _build_history(month, parameters, covered.months)
        try:
            result = runner.run_notebooks(month, parameters)
        except runner.PipelineError as error:
            if len(months) == 1:
                raise
            # a backfill goes on with the other months (a stop signal still ends it); it fails at the end
            print(f"workbook run: {month} was not published: {error}", file=sys.stderr)
            failed.append(month)
            continue
        published.append(result)
    for result in published:
        print(f"report: {result.report}")
    if published:
        print(f"index:  {paths.reports_dir() / 'index.html'}")
    if failed:
        raise runner.PipelineError(
            f"{len(failed)} of {len(months)} months were not published: {', '.join(failed)} (the reasons are above); "
            f"the others were. Run a month again with --month once it is fixed"
        )
    return 0


def _build_history(month: str, parameters: dict, covered: list[str]) -> None:
    """A first run also builds the month before (without a report), so that its report already says who
    moved between segments and quadrants since then; when that fails, the month itself still runs."""
    from helpers.pipeline import runner

    previous = runner.history_month(month, parameters, covered)
    if previous is None:
        return
    print(f"building {previous} first, without a report, so that the report of {month} can say what changed "
          "since then ...", flush=True)
    try:
        built = runner.run_notebooks(previous, {**parameters, "month": previous}, history=True,
                                     log=lambda line: None)
        print(f"built {previous} in {sum(built.seconds.values()):.1f} s")
    except runner.PipelineError as error:
        first_line = str(error).splitlines()[0]
        print(f"workbook run: {previous} could not be built for the comparison ({first_line}); the report of "
              f"{month} will say that there is nothing to compare with yet", file=sys.stderr)


def _validate(args: argparse.Namespace) -> int:
    """Exit 0 only when every file was read and each of them has an accepted row; 1 otherwise (the report
    says which file and why); 2 for a mistake in the settings or the column mapping."""
    from helpers.core import config
    from helpers.data.intake import loader as intake

    settings = config.load_settings(args.config or None)
    analysis_end = periods.month_end(args.month) if args.month else None
    result, report = intake.validate_paths(args.paths, table=args.table, analysis_end=analysis_end, settings=settings)
    print(report)
    usable = result is not None and not result.counts.empty and bool((result.counts["accepted"] > 0).all())
    return 0 if usable else 1


def _sample_data(args: argparse.Namespace) -> int:
    from helpers.data.samples import agency as sample_data

    written = sample_data.prepare_sample_data(force=args.force)
    for name, directory in written.items():
        print(f"{name}: {directory}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from helpers.pipeline import bench

    customers, transactions = (2_000, 20_000) if args.small else (args.customers, args.transactions)
    table = bench.run_benchmark(customers, transactions, repeats=args.repeats, seed=args.seed)
    print(bench.text_table(table))
    return 0


def _retention(args: argparse.Namespace) -> int:
    from helpers.pipeline import retention_command

    survivors = retention_command.parse_survivors(args.survivors)
    result = retention_command.retention_projection(survivors, args.periods)
    if args.json:
        print(retention_command.as_json(result))
    else:
        print(retention_command.as_text(result, observed_periods=len(survivors) - 1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbook", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run every notebook for a month and publish reports/<name>/<language>/<YYYY-MM>/")
    run.add_argument("--month", default="", help="analysis month YYYY-MM (default: latest complete month)")
    run.add_argument("--from", dest="from_month", default="", help="first month of a backfill")
    run.add_argument("--to", dest="to_month", default="", help="last month of a backfill")
    run.add_argument(
        "--engine", choices=["duckdb", "spark"], default="duckdb",
        help="where the transactions are condensed per customer: duckdb (embedded) or spark",
    )
    run.add_argument(
        "--spark-master", default="",
        help="with --engine spark: the cluster's master URL (spark://host:7077, yarn, k8s://...); default: the "
             "setting spark.master, else Spark's own configuration, else a local session",
    )
    run.add_argument("--language", choices=["en", "de"], default="en", help="language of the stakeholder report")
    run.add_argument(
        "--pseudonymise", action="store_true", help="replace customer names and ids in the HTML reports by aliases"
    )
    _add_input_arguments(run)
    run.set_defaults(handler=_run)

    validate = commands.add_parser("validate", help="check input files against the data contract")
    validate.add_argument("paths", nargs="+", help="files to check")
    validate.add_argument("--table", choices=["transactions", "accounts", "service_map"], default=None)
    validate.add_argument("--month", default="", help="flag transactions after this month")
    validate.add_argument("--config", default="")
    validate.set_defaults(handler=_validate)

    sample = commands.add_parser("sample-data", help="prepare the bundled data sets in data/raw/")
    sample.add_argument("--force", action="store_true", help="write them again even if present")
    sample.set_defaults(handler=_sample_data)

    bench = commands.add_parser("bench", help="time our customer summary against lifetimes' (prints a table)")
    bench.add_argument("--customers", type=int, default=1_000_000)
    bench.add_argument("--transactions", type=int, default=10_000_000)
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--seed", type=int, default=7)
    bench.add_argument("--small", action="store_true", help="a tiny size that only proves the command works")
    bench.set_defaults(handler=_bench)

    retention = commands.add_parser(
        "retention", help="fit the sBG retention model to a cohort's survivors and project the next periods"
    )
    retention.add_argument(
        "--survivors", required=True,
        help="the cohort size, then the survivors after each period, comma-separated (e.g. 1000,631,468,382)",
    )
    retention.add_argument("--periods", type=int, default=5, help="periods to project after the last (default 5)")
    retention.add_argument("--json", action="store_true", help="print only a JSON object (gamma, delta, ...)")
    retention.set_defaults(handler=_retention)
    return parser


def _stop_on_sigterm() -> None:
    """A scheduler stops a run with SIGTERM: turn it into SystemExit, so that the runner's clean-up runs
    (the half-built month goes to reports/.failed/, the month's lock is released)."""

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _stop_on_sigterm()
    try:
        return args.handler(args)
    except (WorkbookError, FileNotFoundError) as error:  # the user's mistake: one clear line, no traceback
        print(f"workbook {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
