"""The stakeholder report in English and German: its texts, names from the configuration, tables and charts.

``t(key, language, **values)`` returns one heading, label or sentence of the catalogues in
:mod:`helpers.reporting.texts` with its ``{placeholders}`` filled in. Values are formatted by the caller
with :func:`number`, :func:`money`, :func:`percent` and :func:`date` before they are passed, so that
``1.234,56 €`` and ``31.12.2025`` appear in German and ``€1,234.56`` and ``31 Dec 2025`` in English.
Those formatters and the language check are :mod:`helpers.core.language`'s, reached here too.

Names that come from the configuration (RFM segments, quadrants of the potential matrix, service levels)
are translated where the configuration carries an ``{en: ..., de: ...}`` pair (see :func:`config_labels`);
otherwise they stay as written.
"""

from __future__ import annotations

import html
import string
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import yaml

from helpers.core.config import Settings, default_settings

# the report's modules and notebook 05 write values through this module: the formatters are re-exported
from helpers.core.language import LANGUAGES as LANGUAGES
from helpers.core.language import check_language as check_language
from helpers.core.language import date as date
from helpers.core.language import money as money
from helpers.core.language import month_name as month_name
from helpers.core.language import number as number
from helpers.core.language import percent as percent
from helpers.core.language import timestamp as timestamp
from helpers.potential import service_levels
from helpers.reporting.texts import DE as DE
from helpers.reporting.texts import EN as EN
from helpers.reporting.texts import TEXTS


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def t(key: str, language: str = "en", **values: Any) -> str:
    """The text ``key`` in ``language`` with its placeholders filled from ``values``."""
    texts = TEXTS[check_language(language)]
    if key not in texts:
        raise KeyError(f"no text {key!r} in the report texts (helpers/reporting/texts.py)")
    return texts[key].format(**values)


def join(items: Iterable[str], language: str = "en") -> str:
    """a, b and c / a, b und c."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    word = " und " if language == "de" else " and "
    return ", ".join(items[:-1]) + word + items[-1]


# --------------------------------------------------------------------------------------------------
# names from the configuration
# --------------------------------------------------------------------------------------------------
def _pairs(node: Any, found: dict[str, dict[str, str]]) -> None:
    """Collect every {en: ..., de: ...} pair below ``node``, keyed by its English text."""
    if isinstance(node, Mapping):
        if isinstance(node.get("en"), str) and isinstance(node.get("de"), str):
            found.setdefault(node["en"], {"en": node["en"], "de": node["de"]})
        for key, value in node.items():
            # a named entry whose name is plain text but which carries a translated label: name -> label
            if isinstance(value, Mapping):
                label = value.get("label") or value.get("names") or value.get("title")
                if isinstance(label, Mapping) and isinstance(label.get("de"), str):
                    found.setdefault(str(key), {"en": str(label.get("en", key)), "de": label["de"]})
                name = value.get("name")
                if isinstance(name, str) and isinstance(label, Mapping) and isinstance(label.get("de"), str):
                    found.setdefault(name, {"en": str(label.get("en", name)), "de": label["de"]})
            _pairs(value, found)
    elif isinstance(node, list):
        for item in node:
            _pairs(item, found)


def config_labels(settings: Settings | None = None, language: str = "en") -> dict[str, str]:
    """English text -> text in ``language`` for every translated name the configuration carries.

    Read from the ``potential`` section of the settings (quadrant names, service levels, actions given as
    ``{en: ..., de: ...}``) and from the RFM segment table (a segment with ``label: {en: ..., de: ...}``).
    Names without a German version are absent, so that :func:`label` leaves them in English.
    """
    check_language(language)
    settings = settings or default_settings()
    found: dict[str, dict[str, str]] = {}
    _pairs(settings.as_dict()["potential"], found)
    segments_file = settings.resolve(settings.rfm.segments_file)
    if segments_file.exists():
        try:
            content = yaml.safe_load(segments_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            content = {}
        for segment in content.get("segments", []) if isinstance(content, dict) else []:
            label = segment.get("label") if isinstance(segment, dict) else None
            if isinstance(label, Mapping) and isinstance(label.get("de"), str):
                found[str(segment["name"])] = {"en": str(label.get("en", segment["name"])), "de": label["de"]}
    labels = {english: pair[language] for english, pair in found.items()}
    labels.update(_potential_labels(settings, language))
    return labels


def _potential_labels(settings: Settings, language: str) -> dict[str, str]:
    """The composed texts of the potential matrix (group names, service level "review; 8 h/month", action) of
    both advice profiles as the potential step writes them in English, mapped onto the same texts in
    ``language``."""
    if language == "en":
        return {}
    labels = {}
    for profile in service_levels.PROFILES:
        english = service_levels.attention_table(settings, "en", profile)
        other = service_levels.attention_table(settings, language, profile)
        for column in ("name", "service_level", "review", "lead_action"):
            labels.update({str(a): str(b) for a, b in zip(english[column], other[column], strict=True)})
    return labels


def group_order(settings: Settings) -> list[str]:
    """The names of the potential matrix's groups (the four quadrants, the floor, the win-back group) of both
    advice profiles in both languages, in the order tables and legends show them."""
    names: list[str] = []
    for language in LANGUAGES:
        for profile in service_levels.PROFILES:
            names += [n for n in service_levels.attention_table(settings, language, profile)["name"] if n not in names]
    return names


def group_colours(settings: Settings) -> dict[str, str]:
    """Each group's name (both advice profiles, both languages) -> its colour of ``potential.colours``, so that a
    group has one colour in every chart whatever the language of its name."""
    colours = settings.potential.colours
    out: dict[str, str] = {}
    for language in LANGUAGES:
        for profile in service_levels.PROFILES:
            table = service_levels.attention_table(settings, language, profile)
            for key, name in zip(table["attention_key"], table["name"], strict=True):
                if key in colours:
                    out.setdefault(str(name), colours[key])
    return out


def label(value: Any, labels: Mapping[str, str]) -> Any:
    """``value`` in the report's language when the configuration translates it, else unchanged."""
    if isinstance(value, str):
        return labels.get(value, value)
    return value


# --------------------------------------------------------------------------------------------------
# charts made elsewhere, in the report's language
# --------------------------------------------------------------------------------------------------
def relabel(
    figure,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    legend: list[str] | None = None,
    yticklabels: list[str] | None = None,
):
    """Replace the texts of a chart's first axis (title, axis labels, legend entries, y tick labels) so that a
    chart built in English by an analysis helper can be shown in the report's language."""
    axis = figure.axes[0]
    if title is not None:
        axis.set_title(title, loc="left")
    if xlabel is not None:
        axis.set_xlabel(xlabel)
    if ylabel is not None:
        axis.set_ylabel(ylabel)
    if legend is not None and axis.get_legend() is not None:
        for text, new in zip(axis.get_legend().get_texts(), legend, strict=False):
            text.set_text(new)
    if yticklabels is not None:
        axis.set_yticks(axis.get_yticks()[: len(yticklabels)], yticklabels)
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------------------------------
# tables in the report's language
# --------------------------------------------------------------------------------------------------


def translate_frame(frame: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """A copy with every text cell, index entry and column name that the configuration translates replaced."""
    if not labels:
        return frame
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = [label(v, labels) for v in out[column]]
    out.index = pd.Index([label(v, labels) for v in out.index], name=out.index.name)
    out.columns = pd.Index([label(v, labels) for v in out.columns], name=out.columns.name)
    return out




MATRIX_WORDS = ("title", "subtitle", "sampled", "corner", "lost", "moved", "x", "y")


def matrix_words(language: str = "en") -> dict[str, str]:
    """The potential matrix's words (helpers.potential.matrix_view.WORDS) in ``language``."""
    texts = TEXTS[check_language(language)]
    return {word: texts[f"matrix_{word}"] for word in MATRIX_WORDS}


#: the report's sections in their order: anchor -> the text key of its heading
REPORT_SECTIONS: dict[str, str] = {
    "summary": "summary_heading", "matrix": "section_matrix", "changes": "changes_heading", "rfm": "section_rfm",
    "abc": "section_abc", "cltv": "section_cltv", "clusters": "section_clusters", "quadrants": "section_quadrants",
    "backtest": "section_backtest", "about": "footer_heading",
}
TABLE_NAMES = ("transactions", "accounts", "service_map")


def heading(section: str, language: str = "en", level: int = 2) -> str:
    """A section's heading as HTML with a fixed anchor (``id``), which the contents link to."""
    return f'<h{level} id="{html.escape(section)}">{html.escape(t(REPORT_SECTIONS[section], language))}</h{level}>'


def contents_html(language: str = "en", sections: Iterable[str] | None = None) -> str:
    """The table of contents: a link to each section's heading (:func:`heading`)."""
    items = "".join(f'<li><a href="#{html.escape(key)}">{html.escape(t(REPORT_SECTIONS[key], language))}</a></li>'
                    for key in (sections or REPORT_SECTIONS))
    return (f'<nav class="contents"><strong>{html.escape(t("toc_heading", language))}</strong>'
            f'<ol style="columns:2;margin:4px 0 0">{items}</ol></nav>')


def table_names(language: str = "en") -> dict[str, str]:
    """The input tables' names (transactions, accounts, service_map) in ``language``."""
    return {name: t(f"table_{name}", language) for name in TABLE_NAMES}
