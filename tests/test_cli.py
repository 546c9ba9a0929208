"""The `workbook` command's smaller verbs: validate, sample-data, bench --small."""

from __future__ import annotations

from pathlib import Path

from helpers.pipeline import cli

CORPUS = Path(__file__).parent / "data" / "intake"


def test_validate_reports_counts_for_good_files(small_agency_dir, capsys):
    files = [str(small_agency_dir / name) for name in ("transactions.csv", "accounts.csv", "service_map.csv")]
    assert cli.main(["validate", *files]) == 0
    report = capsys.readouterr().out
    for name in ("transactions.csv", "accounts.csv", "service_map.csv"):
        assert name in report


def test_validate_fails_with_the_file_and_the_fix(tmp_path, capsys):
    bad = tmp_path / "export.csv"
    bad.write_text("Kunde;Betrag\n1;12,50\n", encoding="utf-8")
    assert cli.main(["validate", str(bad), "--table", "transactions"]) != 0
    report = capsys.readouterr().out
    assert "export.csv" in report and "date" in report and "column_mapping.yaml" in report


def test_sample_data_writes_both_data_sets(workbook_root, capsys):
    assert cli.main(["sample-data"]) == 0
    raw = workbook_root / "data" / "raw"
    assert (raw / "agency" / "transactions.csv").exists() and (raw / "cdnow" / "transactions.csv").exists()
    assert "agency" in capsys.readouterr().out


def test_bench_small_prints_the_comparison_table(capsys):
    assert cli.main(["bench", "--small", "--repeats", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    assert header[:3] == ["stage", "customers", "rows"] and "speedup" in header and "max_diff" in header
    stages = [" ".join(line.split()[:2]) for line in lines[1:]]
    assert stages[:4] == ["customer summary", "BG/NBD fit", "Gamma-Gamma fit", "CLTV prediction"]
    assert "CLTV intervals" in stages


def test_bench_results_agree_with_the_reference():
    from helpers.pipeline import bench

    table = bench.run_benchmark(1_500, 12_000, repeats=1, seed=3)
    # the same numbers as lifetimes, not just faster: summary to float noise, fits and CLTV to 1e-6 relative
    assert table.loc[table["stage"] == "customer summary", "max_diff"].item() < 1e-9
    compared = table[table["diff_kind"] != "-"]  # stages lifetimes has an equivalent for
    assert (compared["max_diff"] < 1e-6).all(), table[["stage", "max_diff"]]
    assert (compared[["lifetimes_s", "ours_s"]] > 0).all().all() and (table["ours_s"] > 0).all()


def test_backfill_runs_every_month_in_order(small_agency_dir, monkeypatch, capsys):
    from helpers.pipeline import runner

    seen = []

    def record(month, parameters, notebooks=None, log=print, history=False):
        seen.append((month, parameters["month"], parameters["language"], history))
        return runner.RunResult(month=month, report_dir=Path("reports") / month)

    monkeypatch.setattr(runner, "run_notebooks", record)
    code = cli.main(["run", "--transactions", str(small_agency_dir / "transactions.csv"),
                     "--from", "2025-10", "--to", "2026-01", "--language", "de"])
    assert code == 0
    # the month before the first is built as history first (the data cover it), so that 2025-10 has a comparison
    assert seen == [("2025-09", "2025-09", "de", True)] + [
        (m, m, "de", False) for m in ("2025-10", "2025-11", "2025-12", "2026-01")]
    arguments = ["run", "--transactions", str(small_agency_dir / "transactions.csv"), "--from", "2025-10"]
    assert cli.main(arguments) == 2  # --from without --to
    assert "--from and --to go together" in capsys.readouterr().err
