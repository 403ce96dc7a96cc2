"""Tagging precision and recall per facet: the labelled passages of `tagging.toml`, baseline beside current.

    .venv/bin/python -m bench.tagging        # writes results/tagging.json and results/tagging.md

A labelled passage is a reference read at run time, never a copy: a paragraph of a record of
`../shared/corpus/` (file, record id as `bench/corpus.py` names it, paragraph index among the blank-line
separated paragraphs of its text), a paragraph of one of our `documents/` samples (path, paragraph index
of the raw file), or a sentence written for this set (`text`, ours). Each carries the agency and offence
ids a careful reader finds in it, and, for the traps, their kind.

Both taggers are scored on (passage, id) pairs, every id expanded with its parents (the tagger tags a
parent with its child): micro precision and recall per facet. The baseline is the tagger before issue 13:
its frozen taxonomy (`tagging-baseline.toml`) matched by analysis key over ids, labels and aliases, with
neither acronyms nor exclusions, re-implemented here; the current one is `Taxonomy.load().detect`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive import Taxonomy, analysis

from . import corpus

HERE = Path(__file__).resolve().parent
LABELS = HERE / "tagging.toml"
BASELINE = HERE / "tagging-baseline.toml"
DOCUMENTS = HERE.parent / "documents"
OUT_JSON = HERE / "results" / "tagging.json"
OUT_MD = HERE / "results" / "tagging.md"
FACETS = ("agency", "offence")

Tagger = Callable[[str], dict[str, tuple[str, ...]]]


@dataclass(frozen=True)
class Labelled:
    """One labelled passage: where it comes from, its text, the ids expected, its trap kind if any."""

    ref: str
    text: str
    expected: dict[str, frozenset[str]]
    trap: str | None
    why: str


def load(path: Path = LABELS, corpus_dir: Path = corpus.CORPUS_DIR) -> list[Labelled]:
    """The labelled passages, their texts read from the corpus and documents/ they point to."""
    data = tomllib.loads(path.read_text("utf-8"))
    records = _records(corpus_dir, {p["corpus"] for p in data["passage"] if "corpus" in p})
    out: list[Labelled] = []
    for raw in data["passage"]:
        ref, text = _text(raw, records)
        expected = {f: frozenset(raw.get(f, [])) for f in FACETS}
        out.append(Labelled(ref, text, expected, raw.get("trap"), raw.get("why", "")))
    return out


def _records(corpus_dir: Path, files: set[str]) -> dict[tuple[str, str], str]:
    """(corpus file, record id) -> the record's text, for the corpus files the labels name."""
    out: dict[tuple[str, str], str] = {}
    for name in sorted(files):
        with gzip.open(corpus_dir / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                out.setdefault((name, f"{corpus.slug(r['code'])}/art-{r['article']}.txt"), r["text"])
    return out


def _text(raw: dict[str, Any], records: dict[tuple[str, str], str]) -> tuple[str, str]:
    """A label's reference and the passage text it points to."""
    if "text" in raw:
        return f"written: {str(raw['text'])[:40]}…", str(raw["text"])
    if "corpus" in raw:
        ref = f"{raw['corpus']}:{raw['record']}#{raw['paragraph']}"
        whole = records.get((raw["corpus"], raw["record"]))
    else:
        ref = f"documents/{raw['document']}#{raw['paragraph']}"
        whole = (DOCUMENTS / raw["document"]).read_text("utf-8")
    paragraphs = whole.split("\n\n") if whole is not None else []
    if raw["paragraph"] >= len(paragraphs) or not paragraphs[raw["paragraph"]].strip():
        raise SystemExit(f"tagging.toml: {ref} names no paragraph")
    return ref, paragraphs[raw["paragraph"]]


def baseline_tagger(path: Path = BASELINE) -> Tagger:
    """The tagger before issue 13: ids, labels and aliases as key sequences, no acronyms, no exclusions."""
    data = tomllib.loads(path.read_text("utf-8"))
    matchers = {kind: _baseline_matcher(data[kind]) for kind in FACETS}
    parents = {kind: {i: raw.get("parent") for i, raw in data[kind].items()} for kind in FACETS}

    def detect(text: str) -> dict[str, tuple[str, ...]]:
        seq = analysis.key_sequence(text)
        found: dict[str, tuple[str, ...]] = {}
        for kind, matcher in matchers.items():
            ids: dict[str, None] = {}
            for i, k in enumerate(seq):
                for alias, entry_id in matcher.get(k, ()):
                    if tuple(seq[i : i + len(alias)]) == alias:
                        current: str | None = entry_id
                        while current and current not in ids:
                            ids[current] = None
                            current = parents[kind].get(current)
            found[kind] = tuple(ids)
        return found

    return detect


def _baseline_matcher(table: dict[str, Any]) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """The baseline's aliases of one kind (its ids and labels among them), indexed by their first key."""
    matcher: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for entry_id, raw in table.items():
        for alias in (entry_id.replace("-", " "), raw["label"], *raw.get("aliases", [])):
            seq = tuple(analysis.key_sequence(alias))
            if seq:
                matcher.setdefault(seq[0], []).append((seq, entry_id))
    return matcher


def score(labelled: list[Labelled], tagger: Tagger, taxonomy: Taxonomy) -> dict[str, Any]:
    """Micro precision and recall per facet, every wrong or missed (passage, id) pair, and the traps."""
    found = [tagger(item.text) for item in labelled]
    out: dict[str, Any] = {}
    for facet in FACETS:
        tp = fp = fn = 0
        errors: list[dict[str, Any]] = []
        for item, tags in zip(labelled, found, strict=True):
            expected, got = _expected(item, facet, taxonomy), set(tags[facet])
            tp += len(got & expected)
            fp += len(got - expected)
            fn += len(expected - got)
            if got != expected:
                errors.append(
                    {"ref": item.ref, "extra": sorted(got - expected), "missed": sorted(expected - got)}
                )
        out[facet] = {
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "errors": errors,
        }
    traps: dict[str, list[int]] = {}  # kind -> [passages, passages given an id they do not mention]
    for item, tags in zip(labelled, found, strict=True):
        if item.trap:
            wrong = any(set(tags[f]) - _expected(item, f, taxonomy) for f in FACETS)
            tally = traps.setdefault(item.trap, [0, 0])
            tally[0] += 1
            tally[1] += int(wrong)
    out["traps"] = traps
    return out


def _expected(item: Labelled, facet: str, taxonomy: Taxonomy) -> set[str]:
    """The ids a passage is labelled with in one facet, with their parents."""
    return {a for i in item.expected[facet] for a in taxonomy.lineage(facet, i) or [i]}


def run(path: Path = LABELS) -> dict[str, Any]:
    """Score the baseline and the current tagger on the labelled passages: the results."""
    labelled = load(path)
    taxonomy = Taxonomy.load()
    sources = {"corpus": 0, "documents": 0, "written": 0}
    for item in labelled:
        sources[next((s for s in ("written", "documents") if item.ref.startswith(s)), "corpus")] += 1
    return {
        "passages": len(labelled),
        "sources": sources,
        "traps": len([i for i in labelled if i.trap]),
        "taggers": {
            "baseline": score(labelled, baseline_tagger(), taxonomy),
            "current": score(labelled, taxonomy.detect, taxonomy),
        },
    }


NAMES = {
    "baseline": "before issue 13 (ids and labels as aliases, no acronyms, no exclusions)",
    "current": "current",
}


def render(result: dict[str, Any]) -> str:
    """The tagging section of RESULTS.md (results/tagging.md) from `run`'s results."""
    taggers: dict[str, dict[str, Any]] = result["taggers"]
    s = result["sources"]
    lines = [
        "### Tagging precision and recall (`bench/tagging.toml`)",
        "",
        f"{result['passages']} labelled passages ({s['corpus']} paragraphs of `../shared/corpus`, "
        f"{s['documents']} of our documents/, {s['written']} sentences written for the set), "
        f"{result['traps']} of them traps (a word or phrase that must not tag). Micro precision and recall "
        "over (passage, id) pairs, parents included.",
        "",
        "| tagger | agency precision | agency recall | offence precision | offence recall |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, t in taggers.items():
        a, o = t["agency"], t["offence"]
        lines.append(
            f"| {NAMES.get(name, name)} | {a['precision']:.3f} | {a['recall']:.3f} | "
            f"{o['precision']:.3f} | {o['recall']:.3f} |"
        )
    kinds = sorted({k for t in taggers.values() for k in t["traps"]})
    lines += ["", "| trap kind | passages | " + " | ".join(f"wrongly tagged, {n}" for n in taggers) + " |"]
    lines.append("| --- | ---: | " + " | ".join("---:" for _ in taggers) + " |")
    for kind in kinds:
        counts = [t["traps"].get(kind, [0, 0]) for t in taggers.values()]
        lines.append(f"| {kind} | {counts[0][0]} | " + " | ".join(str(c[1]) for c in counts) + " |")
    current = taggers["current"]
    lines += ["", "<details><summary>What the current tagger still gets wrong</summary>", ""]
    for facet in FACETS:
        for e in current[facet]["errors"]:
            extra = ", ".join(e["extra"]) or "-"
            missed = ", ".join(e["missed"]) or "-"
            lines.append(f"- {facet} `{e['ref']}`: extra {extra}; missed {missed}")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def section() -> str:
    """Measure, write results/tagging.json, and return the markdown section (for bench.quality)."""
    result = run()
    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    text = render(result)
    OUT_MD.write_text(text, "utf-8")
    return text


def main() -> None:
    """Measure and write results/tagging.json and results/tagging.md."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.parse_args()
    if not corpus.available():
        raise SystemExit("bench.tagging needs ../shared/corpus (the labelled passages point into it)")
    print(section())


if __name__ == "__main__":
    main()
