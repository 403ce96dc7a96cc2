"""Search quality beside speed: known-item MRR@10 and judged-query nDCG@10, over documents.

    .venv/bin/python -m bench.quality            # builds the quality indexes once, then measures

Corpus: codes-penal-domain, one document per article, the same documents and passages for every engine.
Document-level ranking: the top 100 passages in rank order, each document kept at its first occurrence.
Baselines in the same run: SQLite FTS5 (terms OR'ed), stock Whoosh French analyzer with its default
parser (AND) and with OR grouping; Tantivy (query parser default, OR) for information. Then the French
analyzer's candidate chains (`bench/analyzers.py`): the conflation set (`bench/conflation.tsv`), the same
two measures and their speed.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from . import analyzers, corpus
from .peers import installed, make
from .peers.base import Peer, first_documents
from .peers.whoosh_peer import WhooshPeer
from .run import source_state

HERE = Path(__file__).resolve().parent
JUDGMENTS = HERE / "judgments.toml"
OUT_JSON = HERE / "results" / "quality.json"
OUT_MD = HERE / "results" / "quality.md"
KNOWN_ITEMS = 200
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Judged:
    """One judged query and the grades of the documents relevant to it."""

    query: str
    grades: dict[str, int]  # document id -> 2 (exactly about it) or 1 (relevant)


def strip_accents(text: str) -> str:
    """`text` without its combining marks (`é` -> `e`)."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def known_items(
    rows: list[corpus.Row], n: int = KNOWN_ITEMS, seed: int = corpus.SEED
) -> list[tuple[str, str]]:
    """(query, source document id): five consecutive words, accents stripped, one number swapped."""
    vocabulary = {strip_accents(w.lower()) for r in rows for w in _WORD.findall(r.text)}
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    candidates = [r for r in rows if len(_WORD.findall(r.text)) >= 12]
    while len(out) < n:
        row = rng.choice(candidates)
        words = [w.strip(".,;:()«»\"'") for w in row.text.split()]
        runs = [i for i in range(len(words) - 5) if all(_plain(w) for w in words[i : i + 5])]
        if not runs:
            continue
        start = rng.choice(runs)
        picked = [strip_accents(w.lower()) for w in words[start : start + 5]]
        for i, w in enumerate(picked):  # swap the first word whose other number the corpus uses
            if len(w) < 4:
                continue
            other = w[:-1] if w.endswith(("s", "x")) else w + "s"
            if other in vocabulary:
                picked[i] = other
                break
        out.append((" ".join(picked), row.id))
    return out


CODES = {
    "CP": "Code pénal",
    "CPP": "Code de procédure pénale",
    "CSI": "Code de la sécurité intérieure",
    "CD": "Code des douanes",
    "CMF": "Code monétaire et financier",
}


def document_id(ref: str) -> str:
    """`CP 324-2` -> the benchmark's document id for that article."""
    code, article = ref.split(" ", 1)
    return corpus.Row(corpus.slug(CODES[code]) + f"/art-{article}.txt", "", "", "", "").id


def _plain(word: str) -> bool:
    """A word as a researcher would retype it: letters (apostrophes, hyphens), no digits or symbols."""
    return bool(word) and not any(c.isdigit() for c in word) and bool(re.fullmatch(r"[\w'’-]+", word))


def load_judgments(path: Path = JUDGMENTS) -> list[Judged]:
    """The judged queries of `judgments.toml`, their articles as the benchmark's document ids."""
    data = tomllib.loads(path.read_text("utf-8"))
    out: list[Judged] = []
    for q in data["query"]:
        grades = {document_id(r["doc"]): int(r["grade"]) for r in q["relevant"]}
        out.append(Judged(q["text"], grades))
    return out


class Ranker(Protocol):
    """What the quality measures need of an engine: document ids in rank order for free text."""

    def rank(self, text: str, limit: int = 100) -> list[str]:
        """Document ids of the top `limit` passages for free text, in rank order."""


def mrr(peer: Ranker, items: list[tuple[str, str]]) -> float:
    """Mean reciprocal rank of each item's document in the peer's first 10 documents (0 when absent)."""
    total = 0.0
    for text, doc in items:
        ranked = first_documents(peer.rank(text, 100), 10)
        if doc in ranked:
            total += 1 / (ranked.index(doc) + 1)
    return total / len(items)


def ndcg(peer: Ranker, judged: list[Judged]) -> tuple[float, list[float]]:
    """nDCG@10 (gain 2^g-1) of the peer's documents: the mean, and one per judged query."""
    scores: list[float] = []
    for j in judged:
        ranked = first_documents(peer.rank(j.query, 100), 10)
        dcg = sum((2 ** j.grades.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked))
        ideal = sorted(j.grades.values(), reverse=True)[:10]
        idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
        scores.append(dcg / idcg if idcg else 0.0)
    return sum(scores) / len(scores), scores


def peers_for_quality() -> list[tuple[str, Peer]]:
    """The engines compared, by name: ours, FTS5, Whoosh (AND and OR), and Tantivy when installed."""
    out: list[tuple[str, Peer]] = [
        ("archive", make("archive")),
        ("fts5", make("fts5")),
        ("whoosh", make("whoosh")),
        ("whoosh-or", WhooshPeer(any_word=True)),
    ]
    if installed("tantivy"):
        out.append(("tantivy", make("tantivy")))
    return out


def run(work: Path, rebuild: bool = False) -> dict[str, Any]:
    """Build each engine's index under `work` (once per core digest) and measure it: the results."""
    documents = corpus.documents(10**9, domain_only=True)
    passages = corpus.flat(documents)
    rows = corpus.read_rows(corpus.DOMAIN)
    items = known_items(rows)
    judged = load_judgments()
    known_ids = {d.id for d in documents}
    missing = sorted({d for j in judged for d in j.grades if d not in known_ids})
    if missing:
        raise SystemExit(f"judgments name documents absent from the corpus: {missing}")
    result: dict[str, Any] = {
        "documents": len(documents),
        "passages": len(passages),
        "known_items": len(items),
        "judged_queries": len(judged),
        "peers": {},
    }
    core = source_state()
    result["source"] = core
    for name, peer in peers_for_quality():
        directory = work / ("whoosh" if name == "whoosh-or" else name)
        built = directory / ".built"
        stamp = core["archive_digest"] if name == "archive" else "peer"  # our index follows the core
        if rebuild or not built.exists() or built.read_text() != stamp:
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            peer.build(directory, documents, passages)
            built.write_text(stamp)
        peer.open(directory)
        mean_ndcg, per_query = ndcg(peer, judged)
        result["peers"][name] = {
            "mrr10": mrr(peer, items),
            "ndcg10": mean_ndcg,
            "ndcg_per_query": per_query,
        }
        print(name, result["peers"][name]["mrr10"], mean_ndcg, flush=True)
    result["examples"] = items[:5]
    result["queries"] = [j.query for j in judged]
    result["chains"] = analyzers.measure(
        work / "chains", documents, lambda peer: (mrr(peer, items), *ndcg(peer, judged))
    )
    return result


NAMES = {
    "archive": "our archive (AND, relaxed when empty)",
    "fts5": "SQLite FTS5, terms OR'ed",
    "whoosh": "stock Whoosh French analyzer, default parser (AND)",
    "whoosh-or": "stock Whoosh French analyzer, OR grouping",
    "tantivy": "Tantivy, French stemmer, OR (info)",
}


def render(result: dict[str, Any]) -> str:
    """The quality section of RESULTS.md (results/quality.md) from `run`'s results."""
    peers: dict[str, dict[str, Any]] = result["peers"]
    ours = peers["archive"]
    lines = [
        "## Search quality (`make bench-quality`)",
        "",
        (
            f"Core at {result['source']['commit']} (archive/*.py digest {result['source']['archive_digest']}). "
            if "source" in result
            else ""
        )
        + f"Corpus: codes-penal-domain, {result['documents']:,} documents (one per article), "
        f"{result['passages']:,} passages. Document ranking: top 100 passages, each document at its first "
        "occurrence, cut at 10. Known-item: "
        f"{result['known_items']} queries of five consecutive words of an article, accents stripped, one word "
        "swapped to the other number when the corpus uses it (e.g. "
        + "; ".join(f"`{q}`" for q, _d in result["examples"][:3])
        + f"); MRR@10 of the source article. Judged: {result['judged_queries']} queries in "
        "`bench/judgments.toml`, graded 2/1 with reasons; nDCG@10 (gain 2^g−1).",
        "",
        "| engine | known-item MRR@10 | ours ÷ engine | judged nDCG@10 | ours ÷ engine |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, p in peers.items():
        r1 = f"{ours['mrr10'] / p['mrr10']:.2f}" if p["mrr10"] else "∞"
        r2 = f"{ours['ndcg10'] / p['ndcg10']:.2f}" if p["ndcg10"] else "∞"
        lines.append(f"| {NAMES.get(name, name)} | {p['mrr10']:.3f} | {r1} | {p['ndcg10']:.3f} | {r2} |")
    beaten = [
        n
        for n, p in peers.items()
        if n != "archive" and (p["mrr10"] >= ours["mrr10"] or p["ndcg10"] >= ours["ndcg10"])
    ]
    lines += [
        "",
        "Our archive beats every baseline on both measures."
        if not beaten
        else "Our archive does not beat these baselines on at least one measure: " + ", ".join(beaten) + ".",
        "",
    ]
    per = {n: p["ndcg_per_query"] for n, p in peers.items()}
    lines += [
        "<details><summary>nDCG@10 per judged query</summary>",
        "",
        "| query | " + " | ".join(per) + " |",
        "| --- | " + " | ".join("---:" for _ in per) + " |",
    ]
    for i, q in enumerate(result["queries"]):
        lines.append(f"| {q} | " + " | ".join(f"{per[n][i]:.2f}" for n in per) + " |")
    lines += ["", "</details>", ""]
    if "chains" in result:
        lines += analyzers.render(result["chains"], result["queries"])
    return "\n".join(lines)


def main() -> None:
    """Measure, write results/quality.json and quality.md, then render RESULTS.md."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=HERE / "data" / "quality")
    p.add_argument("--rebuild", action="store_true")
    a = p.parse_args()
    result = run(a.work, a.rebuild)
    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    from . import report, tagging

    OUT_MD.write_text(render(result) + tagging.section(), "utf-8")  # the tagging set's scores (issue 13)
    report.write()


if __name__ == "__main__":
    main()
