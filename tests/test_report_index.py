"""Key figures of a month and the index page of all published months."""

import json

import pandas as pd

from helpers.core import artifacts as processed
from helpers.core.config import settings_with
from helpers.reporting import report_index


def _month(root, month, with_rfm=True):
    summary = pd.DataFrame({
        "customer_id": ["C1", "C2", "C3"], "total_revenue": [800.0, 150.0, 50.0],
        "first_purchase": pd.to_datetime(["2025-01-01"] * 3), "last_purchase": pd.to_datetime(["2025-12-01"] * 3),
    })
    processed.write_artifact(summary, month, "customer_summary")
    processed.write_artifact(pd.DataFrame({"customer_id": ["C1", "C2"], "date": pd.to_datetime(["2025-12-03",
                             "2025-11-03"]), "amount": [100.0, 40.0]}), month, "transactions")
    if with_rfm:
        processed.write_artifact(pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "monetary": [800.0, 150.0, 50.0],
                                               "abc_class": ["A", "B", "C"],
                                               "rfm_segment": ["Champions", "Loyal", "Lost"]}), month, "rfm")
        processed.write_artifact(pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "cltv": [90.0, 10.0, 2.0],
                                               "p_alive": [0.9, 0.6, 0.1], "cltv_model": ["bgnbd+gamma_gamma"] * 3}),
                                 month, "cltv")
        processed.write_artifact(pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "quadrant": ["Stars", "Stars", "Low"],
                                               "service_level": ["QBR", "QBR", "Newsletter"]}), month,
                                 "customer_segments")
    processed.write_run_info(month, {"month": month, "cutoff": f"{month}-28"})


def test_key_figures_from_the_artifacts(workbook_root):
    _month(workbook_root, "2025-12")
    figures = report_index.key_figures("2025-12", settings_with(currency="EUR"))
    assert figures["customers"] == 3 and figures["revenue"] == 1000.0
    assert figures["revenue_month"] == 100.0 and figures["active_customers_month"] == 1
    assert figures["a_customers"] == 1 and figures["a_revenue_share"] == 0.8
    assert figures["mean_cltv"] == 34.0 and figures["likely_lost"] == 1
    assert figures["cltv_model"] == "BG/NBD + Gamma-Gamma"
    assert figures["quadrants"] == {"Stars": 2, "Low": 1} and figures["service_levels"]["Stars"] == "QBR"
    json.dumps(figures)  # plain JSON types only


def test_key_figures_count_live_clients_in_the_quadrants_and_the_likely_lost_apart(workbook_root):
    """quadrants (live clients only) plus likely_lost add up to the customers; the hours per attention group."""
    _month(workbook_root, "2025-12")
    processed.write_artifact(pd.DataFrame({
        "customer_id": ["C1", "C2", "C3"], "quadrant": ["Maintain", "Develop", "Win back"],
        "likely_lost": [False, False, True], "attention": ["Protect", "Develop", "Win back"],
        "service_level": ["Review; 4 h/month", "QBR; 8 h/month", "Call; 0.5 h/month"],
        "hours_per_month": [4.0, 8.0, 0.5],
    }), "2025-12", "customer_segments")
    figures = report_index.key_figures("2025-12", settings_with(currency="EUR"))
    assert figures["quadrants"] == {"Maintain": 1, "Develop": 1} and figures["likely_lost"] == 1
    assert sum(figures["quadrants"].values()) + figures["likely_lost"] == figures["customers"]
    assert figures["hours_per_month"] == {"Protect": 4.0, "Develop": 8.0, "Win back": 0.5}
    assert figures["service_levels"]["Protect"] == "Review; 4 h/month"


def test_key_figures_leave_out_what_is_missing_and_the_summary_says_so(workbook_root):
    _month(workbook_root, "2025-11", with_rfm=False)
    figures = report_index.key_figures("2025-11")
    assert "a_customers" not in figures and "quadrants" not in figures
    lines = report_index.summary_lines(figures, "de")
    assert lines[0].startswith("**3 Kunden** brachten") and "1.000 €" in lines[0]
    assert "noch nicht verfügbar" in lines[-1]


def test_index_lists_months_newest_first_with_figures_escaped_and_self_contained(workbook_root, tmp_path):
    _month(workbook_root, "2025-12")
    reports = tmp_path / "reports"
    for month in ("2025-10", "2025-12"):
        (reports / month / "notebooks").mkdir(parents=True)
        (reports / month / "notebooks" / "05_report.html").write_text("<html></html>")
    (reports / "2025-12" / "report.html").write_text("<html></html>")
    report_index.write_key_figures("2025-12", reports / "2025-12", settings_with(currency="EUR"))
    figures = json.loads((reports / "2025-12" / "key_figures.json").read_text())
    figures["quadrants"] = {"<script>alert(1)</script>": 1}
    (reports / "2025-12" / "key_figures.json").write_text(json.dumps(figures))
    (reports / "2025-11").mkdir()  # no report: not published
    (reports / ".staging").mkdir()
    page = report_index.build_index(reports).read_text(encoding="utf-8")
    assert page.index("December 2025") < page.index("October 2025") and "November 2025" not in page
    assert 'href="2025-12/report.html"' in page and 'href="2025-10/notebooks/05_report.html"' in page
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "€1,000" in page and "80%" in page
    german = report_index.build_index(reports, language="de").read_text(encoding="utf-8")
    assert "Dezember 2025" in german and "1.000 €" in german


def test_tiles_are_escaped_html(workbook_root):
    _month(workbook_root, "2025-12")
    tiles = report_index.tiles_html(report_index.key_figures("2025-12"), "de")
    assert "Kunden" in tiles and "34 €" in tiles
