"""The query mix: drawn deterministically from the corpus vocabulary and written to `bench/queries.json`.

Five kinds (single term, two-term AND, two-word phrase, prefix, broad term), each with and without one
facet filter: ten classes of `PER_CLASS` queries. Every peer renders the same `Query` in its own syntax.

    .venv/bin/python -m bench.queries          # rewrites bench/queries.json
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from archive import analysis

from . import corpus

QUERIES_FILE = Path(__file__).resolve().parent / "queries.json"
KINDS = ("term", "and", "phrase", "prefix", "broad")
FACETS = ("agency", "offence", "year", "source", "type")
PER_CLASS = 32
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Query:
    """One query of the mix: its class (kind, with or without a facet filter) and its words."""

    id: str
    kind: str  # term, and, phrase, prefix, broad
    words: tuple[str, ...]  # for prefix: the prefix, without '*'
    filter: tuple[str, str] | None = None  # (facet, value)

    @property
    def cls(self) -> str:
        """The query class: its kind, `+filter` when it has a facet filter."""
        return f"{self.kind}{'+filter' if self.filter else ''}"

    @property
    def text(self) -> str:
        """The query as a researcher types it (our archive and Whoosh's parser read this syntax)."""
        if self.kind == "phrase":
            return '"' + " ".join(self.words) + '"'
        if self.kind == "prefix":
            return self.words[0] + "*"
        return " ".join(self.words)

    @property
    def filters(self) -> dict[str, tuple[str, ...]]:
        """The facet filter as a SearchRequest's filters."""
        return {self.filter[0]: (self.filter[1],)} if self.filter else {}


def _content(word: str) -> bool:
    return len(word) >= 4 and analysis.fold(word.lower()) not in analysis.STOP_WORDS


def generate(rows: list[corpus.Row], seed: int = corpus.SEED) -> list[Query]:
    """The mix: 2 × PER_CLASS queries of each kind from the corpus, half of them with a facet filter."""
    rng = random.Random(seed)
    df: Counter[str] = Counter()
    for row in rows:
        df.update({w.lower() for w in _WORD.findall(row.text) if _content(w)})
    ranked = [w for w, _ in df.most_common()]
    rank = {w: i for i, w in enumerate(ranked)}
    mid = [w for w in ranked[300:6000] if len(w) >= 5]
    broad = ranked[:48]
    ascii_mid = [w for w in ranked[200:4000] if len(w) >= 7 and w.isascii()]
    prefixes = sorted({w[:5] for w in ascii_mid})
    facets = corpus.Facets(seed)
    out: list[Query] = []

    def add(kind: str, words: tuple[str, ...], n: int) -> None:
        facet = FACETS[n % len(FACETS)] if n % 2 else None
        flt = (facet, _filter_value(rng, facets, facet)) if facet else None
        out.append(Query(f"{kind}-{n:03d}", kind, words, flt))

    for n in range(2 * PER_CLASS):
        add("term", (rng.choice(mid),), n)
        add("broad", (rng.choice(broad),), n)
        add("prefix", (rng.choice(prefixes),), n)
        add("and", _pair(rng, rows, rank), n)
        add("phrase", _phrase(rng, rows, rank), n)
    return sorted(out, key=lambda q: q.id)


def _pair(rng: random.Random, rows: list[corpus.Row], rank: dict[str, int]) -> tuple[str, ...]:
    while True:
        row = rng.choice(rows)
        words = sorted(
            {w.lower() for w in _WORD.findall(row.text) if 100 <= rank.get(w.lower(), 10**9) < 20000}
        )
        if len(words) >= 2:
            return tuple(rng.sample(words, 2))


def _phrase(rng: random.Random, rows: list[corpus.Row], rank: dict[str, int]) -> tuple[str, ...]:
    pattern = re.compile(r"(?<![\w'’])([^\W\d_]{4,}) ([^\W\d_]{4,})(?![\w'’])")
    while True:
        row = rng.choice(rows)
        pairs = [
            (a.lower(), b.lower())
            for a, b in pattern.findall(row.text)
            if _content(a) and _content(b) and rank.get(a.lower(), 10**9) < 20000
        ]
        if pairs:
            return rng.choice(pairs)


def _filter_value(rng: random.Random, facets: corpus.Facets, facet: str) -> str:
    if facet == "agency":
        return rng.choice(facets.agencies[:6])
    if facet == "offence":
        return rng.choice(facets.offences[:6])
    if facet == "year":
        return str(rng.choice(corpus.YEARS))
    if facet == "source":
        return rng.choices(corpus.SOURCES, corpus.SOURCE_WEIGHTS)[0]
    return rng.choices(corpus.TYPES, corpus.TYPE_WEIGHTS)[0]


def save(queries: list[Query], path: Path = QUERIES_FILE) -> None:
    """Write the mix as JSON."""
    path.write_text(json.dumps([asdict(q) for q in queries], ensure_ascii=False, indent=0) + "\n", "utf-8")


def load(path: Path = QUERIES_FILE) -> list[Query]:
    """Read a mix written by `save`."""
    raw = json.loads(path.read_text("utf-8"))
    return [
        Query(r["id"], r["kind"], tuple(r["words"]), tuple(r["filter"]) if r["filter"] else None) for r in raw
    ]


def main() -> None:
    """Generate the mix from the whole corpus and write it to queries.json."""
    queries = generate(corpus.read_rows(corpus.ALL))
    save(queries)
    print(f"{len(queries)} queries written to {QUERIES_FILE}")


if __name__ == "__main__":
    main()
