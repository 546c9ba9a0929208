"""Typed settings: the shipped file is the one statement of defaults; mistakes are named, never ignored."""

from __future__ import annotations

import dataclasses

import pytest

from helpers.core import config
from helpers.pipeline import cli


def write(tmp_path, text: str):
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_gives_every_section_typed():
    settings = config.load_settings()
    assert settings.currency == "EUR"
    assert settings.cltv == config.CltvSettings(horizon_months=12, discount_rate=0.10, margin=0.4, model="auto",
                                                pareto_max_customers=None, setting="auto",
                                                contract_gap_months=2, interval=0.9, likely_lost_below=0.5)
    assert settings.abc.cutoffs == (0.80, 0.95) and settings.summary.unit_days == 7.0
    assert settings.clustering.k is None and settings.potential.backtest_months == 12
    assert settings.source == config.shipped_settings_file()


def test_a_user_file_needs_only_the_keys_it_changes(tmp_path):
    settings = config.load_settings(write(tmp_path, "currency: USD\ncltv:\n  horizon_months: 24\n"))
    assert settings.currency == "USD" and settings.cltv.horizon_months == 24
    assert settings.cltv.margin == 0.4  # from the shipped file
    assert settings.resolve("column_mapping.yaml") == tmp_path / "column_mapping.yaml"


@pytest.mark.parametrize(("text", "message"), [
    ("curency: USD\n", "unknown key 'curency'; did you mean 'currency'?"),
    ("cltv:\n  horizon_month: 6\n", "unknown key 'cltv.horizon_month'; did you mean 'horizon_months'?"),
    ("potential:\n  quadrants:\n    maintian:\n      hours_per_month: 2\n",
     "unknown key 'potential.quadrants.maintian'; did you mean 'maintain'?"),
    ("colours: {}\n", "unknown key 'colours'; known keys: "),
])
def test_an_unknown_key_is_an_error_with_a_suggestion(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(config.ConfigError) as raised:
        config.load_settings(path)
    assert str(raised.value).startswith(f"{path}: {message}")


def test_a_key_written_twice_is_an_error_naming_both_lines(tmp_path):
    path = write(tmp_path, "currency: EUR\ncltv:\n  margin: 0.3\n  margin: 0.5\n")
    with pytest.raises(config.ConfigError, match=r"key 'margin' is written twice \(lines 3 and 4\); keep one"):
        config.load_settings(path)


@pytest.mark.parametrize(("key", "bad"), [
    ("horizon_months", 0), ("horizon_months", 1.5), ("discount_rate", -0.1), ("margin", 0), ("margin", 1.5),
    ("model", "gamma"), ("pareto_max_customers", -1), ("horizon_months", True),
    ("setting", "subscription"), ("contract_gap_months", 0), ("contract_gap_months", 1.5),
    ("interval", 0), ("interval", 1), ("interval", 1.2), ("interval", "90%"),
])
def test_cltv_values_are_checked(key, bad):
    with pytest.raises(ValueError, match=f"cltv.{key}"):
        config.settings_with({"cltv": {key: bad}})


@pytest.mark.parametrize(("changes", "key"), [
    ({"intake": {"refunds": "keep"}}, "intake.refunds"),
    ({"intake": {"engine": "spark"}}, "intake.engine"),
    ({"summary": {"unit_days": 0}}, "summary.unit_days"),
    ({"potential": {"growth_range": [0.4, -0.2]}}, "potential.growth_range"),
    ({"potential": {"maturity": {"kind_weights": {"operations": 0, "consulting": 0}}}}, "potential.maturity"),
    ({"qualification": {"rules": "employees >= 10"}}, "qualification.rules"),
    ({"currency": ""}, "currency"),
    ({"spark": {"master": "spark//host:7077"}}, "spark.master"),
    ({"spark": {"master": "cluster-1"}}, "spark.master"),
    ({"spark": {"accepted_rows_dir": "s3a://bucket/workbook"}}, "spark.accepted_rows_dir"),
])
def test_other_values_are_checked(changes, key):
    with pytest.raises(config.ConfigError, match=key):
        config.settings_with(changes)


def test_settings_are_frozen_and_changed_only_into_a_new_checked_object():
    settings = config.load_settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.cltv.horizon_months = 6
    with pytest.raises(TypeError):
        settings.potential.quadrants["develop"]["hours_per_month"] = 1
    changed = settings.with_changes({"intake": {"refunds": "quarantine"}}, currency="USD")
    assert (changed.intake.refunds, changed.currency) == ("quarantine", "USD")
    assert settings.intake.refunds == "net" and settings.currency == "EUR"
    with pytest.raises(config.ConfigError, match="did you mean 'refunds'"):
        settings.with_changes({"intake": {"refund": "net"}})


def test_the_command_line_names_a_settings_mistake_and_exits_2(tmp_path, capsys):
    path = write(tmp_path, "cltv:\n  horizon_month: 6\n")
    assert cli.main(["run", "--config", str(path), "--month", "2025-12"]) == 2
    error = capsys.readouterr().err
    assert "unknown key 'cltv.horizon_month'; did you mean 'horizon_months'?" in error
    assert "Traceback" not in error


def test_the_intake_limits_are_typed_and_checked():
    import datetime as dt

    intake = config.load_settings().intake
    assert (intake.max_amount, intake.min_date, intake.max_field_length) == (1e9, dt.date(1990, 1, 1), 200)
    assert config.settings_with({"intake": {"min_date": "1997-01-01"}}).intake.min_date == dt.date(1997, 1, 1)
    for changes, key in [({"max_amount": 0}, "max_amount"), ({"max_amount": "1e9"}, "max_amount"),
                         ({"min_date": "01.01.1990"}, "min_date"), ({"min_date": "1200-01-01"}, "min_date"),
                         ({"max_field_length": 0}, "max_field_length"), ({"max_field_length": 2.5}, "max_field_length")]:
        with pytest.raises(config.ConfigError, match=f"intake.{key}"):
            config.settings_with({"intake": changes})


def test_a_section_that_is_not_a_mapping_is_named(tmp_path):
    path = write(tmp_path, "intake: quarantine\n")
    with pytest.raises(config.ConfigError, match=r"'intake' must be a mapping of keys to values \(refunds, "):
        config.load_settings(path)


def test_a_minimal_settings_file_in_another_folder_uses_the_shipped_files(tmp_path, monkeypatch, capsys):
    """--config /elsewhere/settings.yaml with only `cltv: {horizon_months: 9}`: the column mapping and the
    RFM segments it does not name are the shipped ones, from any working directory."""
    elsewhere = tmp_path / "x"
    elsewhere.mkdir()
    path = elsewhere / "settings.yaml"
    path.write_text("cltv: {horizon_months: 9}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = config.load_settings(path)
    shipped = config.shipped_settings_file().parent
    assert settings.cltv.horizon_months == 9 and settings.source == path
    assert settings.resolve(settings.intake.column_mapping) == shipped / "column_mapping.yaml"
    assert settings.resolve(settings.rfm.segments_file) == shipped / "rfm_segments.yaml"
    assert config.load_column_mapping(settings)["transactions"]["Kundennummer"] == "customer_id"
    data = tmp_path / "t.csv"
    data.write_text("Kundennummer;Rechnungsdatum;Betrag\n1;05.01.2024;10,00\n", encoding="utf-8")
    assert cli.main(["validate", str(data), "--config", str(path)]) == 0
    assert "Total: read 1 = accepted 1 + rejected 0" in capsys.readouterr().out

    # a file the user's settings name is looked for next to them, and a missing one is named
    (elsewhere / "mine.yaml").write_text("transactions:\n  Kdnr: customer_id\n", encoding="utf-8")
    path.write_text("intake: {column_mapping: mine.yaml}\n", encoding="utf-8")
    assert config.load_column_mapping(config.load_settings(path)) == {"transactions": {"Kdnr": "customer_id"}}
    path.write_text("intake: {column_mapping: missing.yaml}\n", encoding="utf-8")
    with pytest.raises(config.ConfigError, match=r"intake.column_mapping names .*x/missing.yaml, which does not"):
        config.load_column_mapping(config.load_settings(path))


def test_spark_masters_and_the_shared_folder_are_read_as_written():
    for master in ("", "spark://10.0.0.5:7077", "yarn", "k8s://https://k8s.example:443", "local[4]", "local[*]"):
        assert config.settings_with({"spark": {"master": master}}).spark.master == master
    shared = config.settings_with({"spark": {"accepted_rows_dir": "file:///mnt/shared/workbook"}}).spark
    assert shared.accepted_rows_dir == "/mnt/shared/workbook"
