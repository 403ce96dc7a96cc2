"""SQLite FTS5: `unicode61 remove_diacritics 2`, facet columns in side tables, GROUP BY counts, snippet().

The matching rowids go once into a temporary table; the total and the five GROUP BY counts read it, and
the top 10 by bm25 come with `snippet()` from the FTS table itself.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from archive import Document

from ..corpus import FlatPassage
from ..queries import Query
from .base import Response, scopes

SINGLE = ("year", "source", "type")
_WORD = re.compile(r"[^\W_]+")


def render(query: Query) -> str:
    """The FTS5 MATCH expression of a query of the mix."""
    words = [w.replace('"', '""') for w in query.words]
    if query.kind == "phrase":
        return '"' + " ".join(words) + '"'
    if query.kind == "prefix":
        return f'"{words[0]}"*'
    return " AND ".join(f'"{w}"' for w in words)


class Fts5Peer:
    """SQLite FTS5 with the facet columns in side tables."""

    name = "fts5"
    description = (
        f"SQLite {sqlite3.sqlite_version} FTS5 (unicode61 remove_diacritics 2), GROUP BY facets, snippet()"
    )

    def build(self, directory: Path, documents: list[Document], passages: list[FlatPassage]) -> None:
        """Index the passages in an FTS5 table and the facet values in side tables."""
        directory.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(directory / "fts.db")
        db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE VIRTUAL TABLE fts USING fts5(content, tokenize = "unicode61 remove_diacritics 2");
            CREATE TABLE meta (rowid INTEGER PRIMARY KEY, pid TEXT, doc TEXT, year TEXT, source TEXT, type TEXT);
            CREATE TABLE tags (rowid INTEGER, facet TEXT, value TEXT);
            """
        )
        with db:
            for i, p in enumerate(passages, start=1):
                db.execute("INSERT INTO fts (rowid, content) VALUES (?, ?)", (i, p.text))
                db.execute(
                    "INSERT INTO meta VALUES (?, ?, ?, ?, ?, ?)", (i, p.id, p.doc, p.year, p.source, p.type)
                )
                db.executemany(
                    "INSERT INTO tags VALUES (?, ?, ?)",
                    [(i, f, v) for f in ("agency", "offence") for v in getattr(p, f)],
                )
            db.execute("CREATE INDEX tags_value ON tags (facet, value, rowid)")
            db.execute("CREATE INDEX tags_rowid ON tags (rowid, facet, value)")
            for f in SINGLE:
                db.execute(f"CREATE INDEX meta_{f} ON meta ({f})")
        db.close()

    def open(self, directory: Path) -> None:
        """Open the database built in `directory`."""
        self.db = sqlite3.connect(directory / "fts.db", check_same_thread=False)
        self.db.execute("CREATE TEMP TABLE m (rowid INTEGER PRIMARY KEY)")

    def _where(self, filters: dict[str, str], column: str) -> tuple[str, list[str]]:
        """Filter conditions on a rowid column, as correlated lookups so that the MATCH drives the plan."""
        clauses: list[str] = []
        args: list[str] = []
        for facet, value in filters.items():
            if facet in SINGLE:
                clauses.append(f"EXISTS (SELECT 1 FROM meta f WHERE f.rowid = {column} AND f.{facet} = ?)")
                args.append(value)
            else:
                clauses.append(
                    f"EXISTS (SELECT 1 FROM tags t WHERE t.rowid = {column} AND t.facet = ? AND t.value = ?)"
                )
                args += [facet, value]
        return "".join(f" AND {c}" for c in clauses), args

    def search(self, query: Query) -> Response:
        """The full response: total and facet counts over the matching rowids, top 10 with snippets."""
        expression = render(query)
        db = self.db
        db.execute("DELETE FROM m")
        db.execute("INSERT INTO m SELECT rowid FROM fts WHERE fts MATCH ?", (expression,))
        facets: dict[str, dict[str, int]] = {}
        total = 0
        hits: list[tuple[str, str]] = []
        for n, (names, filters) in enumerate(scopes(query)):
            where, args = self._where(filters, "m.rowid")
            if n == 0:
                total = db.execute(f"SELECT count(*) FROM m WHERE 1{where}", args).fetchone()[0]
                top_where, top_args = self._where(filters, "fts.rowid")
                hits = db.execute(
                    "SELECT meta.pid, snippet(fts, 0, '<mark>', '</mark>', '…', 32) FROM fts "
                    f"JOIN meta ON meta.rowid = fts.rowid WHERE fts MATCH ?{top_where} ORDER BY rank LIMIT 10",
                    [expression, *top_args],
                ).fetchall()
            for f in names:
                if f in SINGLE:
                    sql = (
                        f"SELECT meta.{f}, count(*) FROM m JOIN meta ON meta.rowid = m.rowid "
                        f"WHERE 1{where} GROUP BY 1"
                    )
                    rows = db.execute(sql, args).fetchall()
                else:
                    sql = (
                        "SELECT tags.value, count(*) FROM m JOIN tags ON tags.rowid = m.rowid "
                        f"WHERE tags.facet = ?{where} GROUP BY 1"
                    )
                    rows = db.execute(sql, [f, *args]).fetchall()
                facets[f] = dict(rows)
        return Response(total, [(pid, snip) for pid, snip in hits], facets)

    def rank(self, text: str, limit: int = 100) -> list[str]:
        """Document ids of the top `limit` passages by bm25, terms OR'ed."""
        words = _WORD.findall(text)
        if not words:
            return []
        expression = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = self.db.execute(
            "SELECT meta.doc FROM fts JOIN meta ON meta.rowid = fts.rowid WHERE fts MATCH ? ORDER BY rank LIMIT ?",
            (expression, limit),
        ).fetchall()
        return [r[0] for r in rows]
