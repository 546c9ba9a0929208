"""The report's texts in English and German, and numbers and dates written each language's way."""

import re

import matplotlib
import pandas as pd
import pytest
import yaml

from helpers.core import config
from helpers.reporting import i18n, report_tables

matplotlib.use("Agg")


def test_every_key_exists_in_both_languages():
    assert set(i18n.EN) == set(i18n.DE)
    assert set(i18n.TEXTS) == set(i18n.LANGUAGES)


@pytest.mark.parametrize("key", sorted(i18n.EN))
def test_every_text_has_the_same_placeholders_and_formats(key):
    assert i18n.placeholders(i18n.EN[key]) == i18n.placeholders(i18n.DE[key]), key
    values = {name: "X" for name in i18n.placeholders(i18n.EN[key])}
    for language in i18n.LANGUAGES:
        text = i18n.t(key, language, **values)
        assert text.strip() and "{" not in text and "}" not in text


def test_german_texts_are_not_left_in_english():
    same = [k for k in i18n.EN if i18n.EN[k] == i18n.DE[k] and not re.fullmatch(r"[\W\dA-Z{}a-z_]{0,6}", i18n.EN[k])]
    assert same == [], f"untranslated: {same}"


def test_unknown_key_and_language_are_refused():
    with pytest.raises(KeyError):
        i18n.t("no_such_key", "en")
    with pytest.raises(ValueError, match="en, de"):
        i18n.t("report_title", "fr", month="x")


def test_numbers_money_percent_dates():
    assert i18n.number(1234.56, "en", 2) == "1,234.56"
    assert i18n.number(1234.56, "de", 2) == "1.234,56"
    assert i18n.number(1234567, "de") == "1.234.567"
    assert i18n.money(1234.56, "EUR", "de", 2) == "1.234,56 €"
    assert i18n.money(1234.56, "EUR", "en", 2) == "€1,234.56"
    assert i18n.money(-5, "EUR", "de") == "-5 €"
    assert i18n.money(1000, "CHF", "en") == "1,000 CHF"
    assert i18n.percent(0.183, "en") == "18%"
    assert i18n.percent(0.183, "de", 1) == "18,3 %"
    assert i18n.date("2025-12-31", "de") == "31.12.2025"
    assert i18n.date(pd.Timestamp("2025-12-31"), "en") == "31 Dec 2025"
    assert i18n.month_name("2025-03", "de") == "März 2025"
    assert i18n.month_name("2025-03", "en") == "March 2025"
    assert i18n.join(["a", "b", "c"], "de") == "a, b und c"
    for missing in (None, float("nan"), float("inf")):
        assert i18n.number(missing) == "-" and i18n.money(missing) == "-" and i18n.percent(missing) == "-"


def test_config_labels_read_translated_names_and_fall_back_to_english(tmp_path):
    segments = {"segments": [
        {"name": "Champions", "label": {"en": "Champions", "de": "Spitzenkunden"}, "rules": [{"r": [1, 5]}]},
        {"name": "Lost", "rules": [{"r": [1, 5]}]},
    ]}
    (tmp_path / "segments.yaml").write_text(yaml.safe_dump(segments), encoding="utf-8")
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump({
        "rfm": {"segments_file": "segments.yaml"},
        "potential": {"quadrants": {
            "develop": {"name": {"en": "Stars", "de": "Sterne"}, "review": {"en": "QBR", "de": "Quartalsreview"}},
        }},
    }), encoding="utf-8")
    settings = config.load_settings(tmp_path / "settings.yaml")
    german = i18n.config_labels(settings, "de")
    assert german["Stars"] == "Sterne" and german["QBR"] == "Quartalsreview"
    assert german["Champions"] == "Spitzenkunden"
    assert i18n.label("Lost", german) == "Lost" and i18n.label("No such quadrant", german) == "No such quadrant"
    # both advice profiles' groups, the floor and the win-back group included
    assert german["Protect"] == "Absichern" and german["Win back"] == "Zurückgewinnen"
    assert german["Personal offers every month"] == "Persönliche Angebote jeden Monat"
    assert i18n.config_labels(settings, "en")["Stars"] == "Stars"


def test_config_labels_of_the_repository_settings_load():
    assert isinstance(i18n.config_labels(config.load_settings(), "de"), dict)


def test_format_table_formats_translates_and_renames():
    frame = pd.DataFrame({"quadrant": ["Stars"], "customers": [1234], "cltv": [1234.6], "customer_share": [0.25],
                          "change": [3]})
    out = report_tables.localised_table(frame, "de", "EUR", money_columns=["cltv"], percent_columns=["customer_share"],
                            numbers={"customers": 0}, labels={"Stars": "Sterne"}, signed=["change"])
    assert list(out.columns) == ["Quadrant", "Kunden", "CLTV", "Anteil an Kunden", "Veränderung"]
    assert out.iloc[0].tolist() == ["Sterne", "1.234", "1.235 €", "25 %", "+3"]


def test_relabel_puts_the_language_into_a_chart():
    from helpers.reporting.plots.common import new_figure

    figure, axis = new_figure()
    axis.barh([0, 1], [1, 2], label="share of customers")
    axis.set_yticks([0, 1], ["a", "b"])
    axis.legend()
    i18n.relabel(figure, title="Titel", xlabel="x-Achse", legend=["Anteil an Kunden"], yticklabels=["A", "B"])
    assert axis.get_title(loc="left") == "Titel" and axis.get_xlabel() == "x-Achse"
    assert [t.get_text() for t in axis.get_legend().get_texts()] == ["Anteil an Kunden"]
    assert [t.get_text() for t in axis.get_yticklabels()] == ["A", "B"]


def test_service_levels_of_the_potential_matrix_are_translated():
    settings = config.load_settings()
    german = i18n.config_labels(settings, "de")
    assert german.get("Develop") == "Entwickeln"
    assert any(text.endswith("h/month") for text in german), "composed service levels are translated"


def test_dollar_amounts_carry_no_dollar_sign_that_markdown_would_read_as_a_formula():
    sentence = f"brought **{i18n.money(2495983, 'USD')}**, {i18n.money(75994, 'USD')} of it in June"
    assert "$" not in sentence and "2,495,983 USD" in sentence


def test_every_group_has_one_colour_in_both_languages_and_every_chart():
    """Issue 14: one colour per quadrant everywhere (potential.colours), whatever the language of its name."""
    import matplotlib.colors as mcolors

    from helpers.reporting import report_matrix
    from helpers.reporting.plots import matrix as matrix_charts

    settings = config.load_settings()
    colours = i18n.group_colours(settings)
    develop = settings.potential.colours["develop"]
    assert colours["Develop"] == colours["Entwickeln"] == develop
    assert colours["Win back"] == colours["Zurückgewinnen"] == settings.potential.colours["win_back"]
    segments = pd.DataFrame({"customer_id": ["a", "b", "c"], "quadrant_key": ["develop", "maintain", "win_back"],
                             "upsell_score": [80.0, 20.0, 60.0], "growth_score": [80.0, 20.0, 10.0],
                             "likely_lost": [False, False, True], "revenue_12m": [10.0, 5.0, 1.0]})
    for language, name in (("de", "Entwickeln"), ("en", "Develop")):
        view = report_matrix.report_matrix_view(segments, settings, language)
        assert view.quadrant_names["develop"] == name and view.colours["develop"] == develop
        figure = matrix_charts.matrix_chart(view)
        drawn = [mcolors.to_hex(collection.get_facecolor()[0]) for collection in figure.axes[0].collections
                 if len(collection.get_offsets())]
        assert drawn[0] == develop  # the first group drawn is Develop, in its colour in both languages
    with pytest.raises(config.ConfigError, match="colours.develop"):
        config.settings_with({"potential": {"colours": {"develop": "green"}}})
