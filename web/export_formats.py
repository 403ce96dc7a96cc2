"""What an export's rows look like in each format: CSV for spreadsheets, JSON Lines for programs.

CSV opens as it should in a French Excel: UTF-8 with a byte-order mark (without it Excel reads the
accents as Windows-1252), and `sep=;` gives the separator a French locale expects (`,` stays the
default, as programs expect). Each row carries what an analyst needs without the archive at hand: the
agency and offence labels beside their ids, the score, the section, the words the search matched, and
the query and the moment of the export (a column each: a comment line above the header would break the
readers of spreadsheets and programs alike).

JSON Lines (`format=ndjson`): one hit per line, shaped as a hit of `/search`, then notes (`{"note":
…}`) when the export was cut short. Both formats say the same things, in the same order.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from archive import Hit, analysis, document_path, permalink

CSV_COLUMNS = (
    "id",
    "document",
    "position",
    "title",
    "date",
    "source",
    "agency",
    "offence",
    "text",
    "url",
    "section",
    "score",
    "agency_labels",
    "offence_labels",
    "matched",
    "query",
    "exported_at",
    "permalink",
)
"""The columns of a CSV export, one row per matching passage (the first ten as before, new ones after)."""

SEPARATORS = (",", ";")
"""The CSV separators `sep=` accepts: `,` (the default) or `;` (French spreadsheets)."""

BOM = "\ufeff"

_MARKED = re.compile(r"<mark>(.*?)</mark>", re.S)

Label = Callable[[str, str], str]
"""A facet value's label: (facet, id) -> label."""


def matched(highlight: str) -> list[str]:
    """The words a hit's highlight marks, each once, in the order they first appear."""
    found: dict[str, None] = {}
    for text in _MARKED.findall(highlight):
        found.setdefault(" ".join(html.unescape(text).split()), None)
    return [t for t in found if t]


def file_name(query: str, today: datetime, extension: str) -> str:
    """`recherche-<words>-<date>.<ext>`: the query's words folded to ASCII, at most 60 characters."""
    words = re.sub(r"[^a-z0-9]+", "-", analysis.fold(query)).strip("-")[:60].rstrip("-")
    return f"recherche-{words + '-' if words else ''}{today:%Y-%m-%d}.{extension}"


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting with =, +, - or @ is a formula to spreadsheet programs: keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass(frozen=True)
class Context:
    """What every row of one export shares: where links point, the labels, the query and the moment."""

    base_url: str
    label: Label
    query: str
    exported_at: str


class CsvRows:
    """Rows of a CSV export (RFC 4180, CRLF), with `separator` between cells."""

    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def __init__(self, context: Context, separator: str = ",") -> None:
        self.context = context
        self.separator = separator

    def _lines(self, rows: Iterable[Iterable[object]]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.separator, lineterminator="\r\n")
        writer.writerows([_cell(v) for v in row] for row in rows)
        return out.getvalue()

    def _number(self, value: float) -> str:
        """A decimal number as the spreadsheet reads it: `17,9233` with `;` (French Excel reads `17.9233` as
        text, or as a date), `17.9233` with `,`."""
        text = f"{value:.4f}"
        return text.replace(".", ",") if self.separator == ";" else text

    def header(self) -> str:
        """The byte-order mark and the header row."""
        return BOM + self._lines([CSV_COLUMNS])

    def rows(self, hits: list[Hit]) -> str:
        """One row per hit."""
        c = self.context
        return self._lines(
            (
                h.id,
                h.document,
                h.position,
                h.title,
                h.date,
                h.source,
                " ".join(h.agency),
                " ".join(h.offence),
                h.text,
                c.base_url + document_path(h.document, h.position),
                h.section,
                self._number(h.score),
                " | ".join(c.label("agency", a) for a in h.agency),
                " | ".join(c.label("offence", o) for o in h.offence),
                " | ".join(matched(h.highlight)),
                c.query,
                c.exported_at,
                c.base_url + permalink(h.document, h.start),
            )
            for h in hits
        )

    def note(self, code: str, message: str) -> str:
        """A line after the rows saying why the export stopped short (`# ` then the French message)."""
        return f"# {message}\r\n"


class NdjsonRows:
    """Lines of a JSON Lines export: a `/search` hit each, then notes."""

    media_type = "application/x-ndjson"
    extension = "ndjson"

    def __init__(self, context: Context) -> None:
        self.context = context

    def header(self) -> str:
        """Nothing: every line stands alone."""
        return ""

    def rows(self, hits: list[Hit]) -> str:
        """One JSON object per hit, with the labels and the matched words a `/search` hit lacks."""
        c = self.context
        lines = []
        for h in hits:
            line = dict(h.to_json())
            line["url"] = c.base_url + document_path(h.document, h.position)
            line["permalink"] = c.base_url + permalink(h.document, h.start)
            line["agency_labels"] = [c.label("agency", a) for a in h.agency]
            line["offence_labels"] = [c.label("offence", o) for o in h.offence]
            line["matched"] = matched(h.highlight)
            lines.append(json.dumps(line, ensure_ascii=False) + "\n")
        return "".join(lines)

    def note(self, code: str, message: str) -> str:
        """`{"note": {"code": …, "message": …}}`: why the export stopped short."""
        return json.dumps({"note": {"code": code, "message": message}}, ensure_ascii=False) + "\n"


Rows = CsvRows | NdjsonRows
