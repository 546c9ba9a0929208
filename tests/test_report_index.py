"""Key figures of a month and the index page of all published months."""

import json

import pandas as pd

from helpers.core import artifacts as processed
from helpers.core.config import settings_with
from helpers.reporting import index_page, report_index


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


def test_index_groups_data_sets_lists_languages_and_is_wholly_in_one_language(workbook_root, tmp_path):
    """Issue 14: each data set its own section, each month its reports in every language, the page in one
    language (group names from their keys), figures escaped, nothing loaded from the network."""
    _month(workbook_root, "2025-12")
    reports = tmp_path / "reports"
    figures_folder = reports / "agency" / "en" / "2025-12"
    for name, language, month in (("agency", "en", "2025-10"), ("agency", "en", "2025-12"), ("agency", "de", "2025-12"),
                                  ("shop", "de", "1998-06")):
        (reports / name / language / month / "notebooks").mkdir(parents=True)
        (reports / name / language / month / "notebooks" / "05_report.html").write_text("<html></html>")
        (reports / name / language / month / "report.html").write_text("<html></html>")
    report_index.write_key_figures("2025-12", figures_folder, settings_with(currency="EUR"))
    figures = json.loads((figures_folder / "key_figures.json").read_text())
    figures["groups"] = {"develop": 3, "win_back": 1}
    (figures_folder / "key_figures.json").write_text(json.dumps(figures))
    (reports / "shop" / "de" / "1998-06" / "key_figures.json").write_text(json.dumps({"currency": "<b>X</b>", "revenue": 5}))
    (reports / "agency" / "en" / "2025-11").mkdir()  # no report: not published
    (reports / ".staging").mkdir()
    page = index_page.build_index(reports).read_text(encoding="utf-8")
    assert page.index("Data set agency") < page.index("Data set shop")
    assert page.index("December 2025") < page.index("October 2025") and "November 2025" not in page
    assert 'href="agency/en/2025-12/report.html"' in page and 'href="agency/de/2025-12/report.html"' in page
    assert ">English</a> · <a" in page and ">Deutsch</a>" in page
    assert "Develop: 3<br>Win back: 1" in page
    assert "<b>X</b>" not in page and "&lt;b&gt;X&lt;/b&gt;" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "€1,000" in page and "80%" in page
    german = index_page.build_index(reports, language="de").read_text(encoding="utf-8")
    assert "Dezember 2025" in german and "1.000 €" in german and "Entwickeln: 3<br>Zurückgewinnen: 1" in german
    assert "Develop" not in german and "Data set" not in german


def test_tiles_are_escaped_html(workbook_root):
    _month(workbook_root, "2025-12")
    tiles = report_index.tiles_html(report_index.key_figures("2025-12"), "de")
    assert "Kunden" in tiles and "34 €" in tiles
