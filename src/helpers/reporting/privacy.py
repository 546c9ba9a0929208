"""What a published notebook may show of a customer: pseudonyms instead of ids and names, and data text escaped.

**Pseudonyms (GDPR).** With ``pseudonymise = True`` every published notebook (the analyses 01-04 and the
stakeholder report 05) shows "Customer 7F3A9C" / "Kunde 7F3A9C" instead of a customer's id and drops the
name. The code is a keyed hash (HMAC-SHA256) of the customer id with a secret salt, so it is

- stable: the same customer gets the same alias every month and in every notebook (as long as the salt
  stays the same; every notebook takes the month's customer summary as ``population``);
- not reversible: without the salt, nobody can find the customer from the alias, not even by hashing every
  possible id;
- unique within a month: when two customers' first six hex digits coincide, both get longer codes.

The salt is read, in this order, from the environment variable ``WORKBOOK_PSEUDONYM_SALT`` (the secret
itself), from the file named by ``WORKBOOK_PSEUDONYM_SALT_FILE``, or from the default file
``~/.config/segment-workbook/pseudonym_salt``, which is created with a random secret (readable by its
owner only) the first time it is needed. A salt file inside the repository is refused: it would end up in
git. Keep the salt file when moving the scheduled run to another machine, or the aliases change.
The CRM export keeps the real values (it is for the CRM); a pseudonymised run therefore leaves its CSV and
Excel files in ``data/processed/<name>/<language>/<YYYY-MM>/`` instead of publishing them with the report
(:func:`helpers.reporting.crm_export.export_folder`).

**Escaping.** Text from the data (client names, industries, next actions) must appear as text, never as
markup: a client called ``<script>alert(1)</script>`` must not run in a reader's browser. What the tools do:

- ``DataFrame._repr_html_`` / ``DataFrame.to_html()`` escape cells, column names and index (``escape=True``);
- ``DataFrame.style`` (Styler) does **not** escape unless ``format(escape="html")`` is given;
- ``IPython.display.Markdown`` does not escape: nbconvert turns the Markdown into HTML and passes raw
  HTML (and ``javascript:`` links) through unchanged (``HTMLExporter.sanitize_html`` is off), and so does
  ``IPython.display.HTML``.

So there is one path for each: every table a published notebook shows is :func:`table_html` (through
:func:`show_table`, :class:`helpers.reporting.report_tables.ReportTables` or
:class:`~helpers.reporting.report_tables.AnalysisTables`, which pseudonymise first); data text inside
Markdown or HTML goes through :func:`safe_text` (a frame whose text a helper writes into Markdown through
:func:`for_markdown`). No notebook shows a Styler or a bare DataFrame.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core import paths
from helpers.core.errors import WorkbookError
from helpers.reporting import i18n

SALT_ENV = "WORKBOOK_PSEUDONYM_SALT"
SALT_FILE_ENV = "WORKBOOK_PSEUDONYM_SALT_FILE"
DEFAULT_SALT_FILE = Path("~/.config/segment-workbook/pseudonym_salt")
CODE_LENGTH = 6
ID_COLUMNS = ("customer_id",)
NAME_COLUMNS = ("name", "customer_name", "company", "contact", "email")


class PrivacyError(WorkbookError, RuntimeError):
    """The pseudonymisation cannot be done safely; the message says why and what to do."""


# --------------------------------------------------------------------------------------------------
# the salt
# --------------------------------------------------------------------------------------------------
def salt_file() -> Path:
    named = os.environ.get(SALT_FILE_ENV)
    return Path(named).expanduser() if named else DEFAULT_SALT_FILE.expanduser()


def load_salt(create: bool = True) -> bytes:
    """The secret salt (see the module text for where it comes from)."""
    secret = os.environ.get(SALT_ENV)
    if secret:
        return secret.encode("utf-8")
    path = salt_file().resolve()
    repo = paths.repo_root().resolve()
    if path == repo or repo in path.parents:
        raise PrivacyError(
            f"the pseudonym salt file {path} lies inside the repository {repo} and would be committed; "
            f"put it elsewhere (set {SALT_FILE_ENV}) or give the salt in {SALT_ENV}"
        )
    if not path.exists():
        if not create:
            raise PrivacyError(f"no pseudonym salt: set {SALT_ENV} or create {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    secret = path.read_text(encoding="utf-8").strip()
    if len(secret) < 16:
        raise PrivacyError(f"the pseudonym salt in {path} is too short (at least 16 characters)")
    return secret.encode("utf-8")


# --------------------------------------------------------------------------------------------------
# aliases
# --------------------------------------------------------------------------------------------------
def digest(customer_id: Any, salt: bytes) -> str:
    return hmac.new(salt, str(customer_id).encode("utf-8"), hashlib.sha256).hexdigest().upper()


def alias_codes(customer_ids: Iterable[Any], salt: bytes, length: int = CODE_LENGTH) -> dict[str, str]:
    """Customer id -> code of ``length`` hex digits, longer only where two customers would share a code."""
    full = {str(c): digest(c, salt) for c in pd.unique(pd.Series(list(customer_ids), dtype="object").astype(str))}
    codes: dict[str, str] = {}
    pending = dict(full)
    size = length
    while pending:
        by_code: dict[str, list[str]] = {}
        for customer, hexdigest in pending.items():
            by_code.setdefault(hexdigest[:size], []).append(customer)
        pending = {}
        for code, customers in by_code.items():
            if len(customers) == 1 or size >= 64:
                for customer in customers:
                    codes[customer] = code
            else:
                pending.update({customer: full[customer] for customer in customers})
        size += 2
    return codes


def alias(customer_id: Any, salt: bytes, language: str = "en", length: int = CODE_LENGTH) -> str:
    """'Customer 7F3A9C' / 'Kunde 7F3A9C' for one customer id."""
    return f"{i18n.t('alias_prefix', language)} {digest(customer_id, salt)[:length]}"


class Pseudonymiser:
    """Replaces customer ids by aliases and drops names in frames shown in a report, when ``enabled``.

    ``population`` (all customer ids of the month) makes the aliases unique across the whole report.
    """

    def __init__(
        self,
        enabled: bool = False,
        language: str = "en",
        population: Iterable[Any] = (),
        salt: bytes | None = None,
    ):
        self.enabled = bool(enabled)
        self.language = i18n.check_language(language)
        self._salt = (salt if salt is not None else load_salt()) if self.enabled else b""
        self._codes = alias_codes(population, self._salt) if self.enabled else {}

    def alias(self, customer_id: Any) -> str:
        if not self.enabled:
            return str(customer_id)
        key = str(customer_id)
        if key not in self._codes:
            self._codes.update(alias_codes([*self._codes, key], self._salt))
        return f"{i18n.t('alias_prefix', self.language)} {self._codes[key]}"

    def names(self, customer_ids: Iterable[Any], names: Iterable[Any] | None = None) -> pd.Series:
        """What to call each customer where a chart names them: the alias when enabled, else the name, or the
        id where the name is missing or empty."""
        ids = pd.Series(list(customer_ids), dtype="object").astype(str)
        if self.enabled:
            return pd.Series([self.alias(v) for v in ids], dtype="object")
        given = pd.Series(list(names) if names is not None else [None] * len(ids), dtype="object")
        text = given.where(given.notna(), "").astype(str).str.strip()
        return text.where(text != "", ids)

    def frame(
        self,
        frame: pd.DataFrame,
        id_columns: Iterable[str] = ID_COLUMNS,
        name_columns: Iterable[str] = NAME_COLUMNS,
    ) -> pd.DataFrame:
        """A copy with ids (columns or index) replaced by aliases and name columns removed; unchanged when off."""
        if not self.enabled:
            return frame
        out = frame.copy()
        for column in id_columns:
            if column in out.columns:
                out[column] = [self.alias(v) if pd.notna(v) else v for v in out[column]]
            if out.index.name == column:
                out.index = pd.Index([self.alias(v) for v in out.index], name=column)
        return out.drop(columns=[c for c in name_columns if c in out.columns])


# --------------------------------------------------------------------------------------------------
# escaping
# --------------------------------------------------------------------------------------------------
# characters that Markdown (or MathJax) would read as markup, written as HTML character references: they
# show as the character itself both in Markdown and in HTML, and never start emphasis, links, tables or code
_MARKUP = {
    "\\": "&#92;", "`": "&#96;", "*": "&#42;", "_": "&#95;", "[": "&#91;", "]": "&#93;", "|": "&#124;",
    "~": "&#126;", "$": "&#36;", "#": "&#35;", "!": "&#33;", "{": "&#123;", "}": "&#125;",
}


def escape_markup(value: Any) -> str:
    """``str(value)`` with HTML and Markdown markup written as character references (whitespace runs as one
    space): it shows as written in Markdown and in HTML, also inside a table cell."""
    text = html.escape(" ".join(str(value).split()), quote=True)
    return "".join(_MARKUP.get(ch, ch) for ch in text)


def safe_text(value: Any) -> str:
    """Text from the data, safe to put into Markdown or HTML: it shows as written and is never markup."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "-"
    text = escape_markup(value)
    if text[:1] in "-+" or text[:1].isdigit():
        # a leading "-", "+" or "1." would start a list when the text begins a line
        text = f"&#{ord(text[0])};{text[1:]}"
    return text


def for_markdown(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """A copy whose ``columns`` hold :func:`safe_text`: for a frame a helper writes into Markdown sentences
    (notebook 03's cluster names, which can hold an industry from the accounts). Not for tables:
    :func:`table_html` escapes on its own and would show the references."""
    out = frame.copy()
    for column in columns:
        if column in out:
            out[column] = [safe_text(v) for v in out[column]]
    return out


def table_html(
    frame: pd.DataFrame,
    max_rows: int | None = 10,
    index: bool = False,
    total: int | None = None,
    language: str = "en",
) -> str:
    """The first ``max_rows`` rows as an HTML table with every cell, column name and index escaped, and a
    line saying how many rows there are when not all are shown."""
    total = len(frame) if total is None else total
    shown = frame if max_rows is None else frame.head(max_rows)
    table_id = f"t{next(_TABLE_IDS)}-{secrets.token_hex(3)}"
    body = shown.to_html(escape=True, index=index, border=0, classes="report-table", na_rep="-", table_id=table_id)
    # text columns left-aligned (the notebook style right-aligns every cell), numbers stay right-aligned
    offset = shown.index.nlevels if index else 0
    text_columns = [offset + i + 1 for i, c in enumerate(shown.columns) if not _numeric_text(shown[c])]
    number_columns = [offset + i + 1 for i, c in enumerate(shown.columns) if _numeric_text(shown[c])]
    rules = []
    if text_columns:
        selectors = ",".join(f"#{table_id} td:nth-child({k}),#{table_id} th:nth-child({k})" for k in text_columns)
        rules.append(f"{selectors}{{text-align:left;vertical-align:top}}")
    if number_columns:
        rules.append(",".join(f"#{table_id} td:nth-child({k})" for k in number_columns) + "{white-space:nowrap}")
    if rules:
        body = f"<style>{''.join(rules)}</style>\n{body}"
    if len(shown) < total:
        note = html.escape(i18n.t("more_rows", language, shown=i18n.number(len(shown), language),
                                  total=i18n.number(total, language)))
        body += f'\n<p class="report-more-rows"><em>{note}</em></p>'
    return body


_TABLE_IDS = itertools.count(1)
_NUMBER = re.compile(r"^[-+−]?[€$£]?\s?[\d.,\s]+\s?(%|€|[A-Z]{3})?$")


def _numeric_text(column: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(column):
        return True
    values = [str(v) for v in column.dropna() if str(v) != "-"]
    return bool(values) and all(_NUMBER.match(v) for v in values)


def show_table(frame: pd.DataFrame, max_rows: int | None = 10, index: bool = False, language: str = "en"):
    """:func:`table_html` as an object a notebook displays."""
    from IPython.display import HTML

    return HTML(table_html(frame, max_rows=max_rows, index=index, language=language))
