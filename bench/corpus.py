"""The benchmark corpus: French legal articles turned into archive documents with synthetic facet values.

One document per article (`codes-all`, then `codes-history` versions). The article's nearest heading
(last element of `hierarchy`) opens the text as a heading block, its paragraphs follow, and
`archive.passages.split(blocks, id, 40, 200)` cuts the passages. Articles are taken in a seeded shuffled
order until the requested number of passages is reached (the last document is cut short), so smaller
scales are prefixes of larger ones. Past the end of both files the history is reused under new ids
("resampled": `~r2`, `~r3`...).

Facet values are synthetic and deterministic: a hash of (seed, document id) drives a private RNG, so a
document gets the same values whatever the scale. Every passage carries its document's values.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from archive import Block, Document, Metadata, Passage, Taxonomy, split

# ../shared/corpus from the project's root; BENCH_CORPUS names it elsewhere (a git worktree, say)
CORPUS_DIR = Path(
    os.environ.get("BENCH_CORPUS") or Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
)
ALL = "codes-all.jsonl.gz"
HISTORY = "codes-history.jsonl.gz"
DOMAIN = "codes-penal-domain.jsonl.gz"
SEED = 20240604

SOURCES = (
    "Légifrance",
    "Journal officiel",
    "Dalloz",
    "LexisNexis",
    "Le Monde",
    "AFP",
    "Ouest-France",
    "Libération",
)
SOURCE_WEIGHTS = (30, 20, 12, 10, 9, 8, 6, 5)
TYPES = ("article", "decision", "rapport", "communique", "circulaire")
TYPE_WEIGHTS = (50, 20, 15, 10, 5)
YEARS = tuple(range(1995, 2025))


@dataclass(frozen=True)
class Row:
    """One article (or article version) of the corpus."""

    id: str
    code: str
    article: str
    heading: str
    text: str


@dataclass(frozen=True)
class FlatPassage:
    """What every peer indexes: the passage text and its five facet values."""

    id: str
    doc: str
    text: str
    agency: tuple[str, ...]
    offence: tuple[str, ...]
    year: str
    source: str
    type: str


def available(directory: Path = CORPUS_DIR) -> bool:
    """Whether the benchmark corpus is there (its domain file, at least)."""
    return (directory / DOMAIN).is_file()


def slug(text: str) -> str:
    """`text` lowercased, every run of non-alphanumerics a hyphen: a path component."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def read_rows(name: str, directory: Path = CORPUS_DIR) -> list[Row]:
    """The articles (or article versions) of one corpus file, each with its document id."""
    rows: list[Row] = []
    with gzip.open(directory / name, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            r = json.loads(line)
            code = slug(r["code"])
            if "hierarchy" in r:
                heading = r["hierarchy"][-1] if r["hierarchy"] else ""
                doc_id = f"{code}/art-{r['article']}.txt"
            else:  # history: one version per row; the path names the article, the date the version
                heading = ""
                doc_id = f"history/{code}/art-{r['article']}@{r['date']}-{i}.txt"
            rows.append(Row(doc_id, r["code"], r["article"], heading, r["text"]))
    return rows


def shuffled(rows: list[Row], seed: int = SEED) -> list[Row]:
    """The rows in the seeded shuffled order every scale takes its prefix of."""
    out = list(rows)
    random.Random(seed).shuffle(out)
    return out


def blocks_of(row: Row) -> list[Block]:
    """An article as blocks: its heading (a heading block), then one block per paragraph."""
    blocks = [Block(row.heading, heading=True)] if row.heading.strip() else []
    blocks += [Block(p) for p in row.text.split("\n\n") if p.strip()]
    return blocks


class Facets:
    """Deterministic synthetic facet values for a document id."""

    def __init__(self, seed: int = SEED) -> None:
        taxonomy = Taxonomy.load()
        self.seed = seed
        self.agencies = sorted(taxonomy.entries["agency"])
        self.offences = sorted(taxonomy.entries["offence"])

    def _rng(self, doc_id: str) -> random.Random:
        digest = hashlib.sha256(f"{self.seed}:{doc_id}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def metadata(self, row: Row) -> Metadata:
        """The document's metadata: title and date from the article, synthetic facet values."""
        rng = self._rng(row.id)
        year = rng.choice(YEARS)
        date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        return Metadata(
            title=f"{row.code}, article {row.article}",
            date=date,
            source=rng.choices(SOURCES, SOURCE_WEIGHTS)[0],
            type=rng.choices(TYPES, TYPE_WEIGHTS)[0],
            agency=_zipf_pick(rng, self.agencies),
            offence=_zipf_pick(rng, self.offences),
        )


def _zipf_pick(rng: random.Random, values: list[str]) -> tuple[str, ...]:
    """0, 1 or 2 distinct values (probabilities .3/.5/.2), frequent ones far more often (Zipf, s=1)."""
    how_many = rng.choices((0, 1, 2), (3, 5, 2))[0]
    weights = [1 / (i + 1) for i in range(len(values))]
    picked: dict[str, None] = {}
    while len(picked) < how_many:
        picked[rng.choices(values, weights)[0]] = None
    return tuple(picked)


def row_stream(n_passages: int, directory: Path = CORPUS_DIR, domain_only: bool = False) -> Iterator[Row]:
    """Rows in benchmark order: codes-all (or the domain file), then codes-history, then resampled history."""
    if domain_only:
        yield from shuffled(read_rows(DOMAIN, directory))
        return
    yield from shuffled(read_rows(ALL, directory))
    history = shuffled(read_rows(HISTORY, directory), SEED + 1)
    round_ = 1
    while True:
        suffix = "" if round_ == 1 else f"~r{round_}"
        for row in history:
            yield Row(row.id + suffix, row.code, row.article, row.heading, row.text) if suffix else row
        round_ += 1


def documents(n_passages: int, directory: Path = CORPUS_DIR, domain_only: bool = False) -> list[Document]:
    """Documents holding exactly `n_passages` passages (fewer if a domain-only corpus runs out)."""
    facets = Facets()
    out: list[Document] = []
    count = 0
    for row in row_stream(n_passages, directory, domain_only):
        if count >= n_passages:
            break
        pieces = split(blocks_of(row), row.id, 40, 200)
        if not pieces:
            continue
        pieces = pieces[: n_passages - count]
        count += len(pieces)
        sha = hashlib.sha256(row.text.encode()).hexdigest()
        out.append(
            Document(
                row.id, sha, sha[:32], "txt", facets.metadata(row), tuple(pieces), len(row.text.encode())
            )
        )
    return out


def flat(documents_: list[Document]) -> list[FlatPassage]:
    """The passages every peer indexes, with the facet values our indexer gives them."""
    out: list[FlatPassage] = []
    for d in documents_:
        m = d.metadata
        for p in d.passages:
            out.append(
                FlatPassage(
                    p.id,
                    d.id,
                    p.text,
                    _merge(p, m, "agency"),
                    _merge(p, m, "offence"),
                    str(m.year),
                    m.source or "",
                    m.type or "",
                )
            )
    return out


def _merge(p: Passage, m: Metadata, name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*getattr(p, name), *getattr(m, name))))


def distribution(passages: list[FlatPassage], top: int = 5) -> dict[str, object]:
    """How the synthetic facet values are spread over the passages (for RESULTS.md)."""
    out: dict[str, object] = {}
    for name in ("agency", "offence", "year", "source", "type"):
        counter: Counter[str] = Counter()
        per_passage: Counter[int] = Counter()
        for p in passages:
            value = getattr(p, name)
            values = value if isinstance(value, tuple) else (value,)
            counter.update(values)
            per_passage[len(values)] += 1
        out[name] = {
            "distinct": len(counter),
            "top": counter.most_common(top),
            "values_per_passage": dict(sorted(per_passage.items())),
        }
    return out
