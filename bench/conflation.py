"""The conflation set (`bench/conflation.tsv`) and how an analyzer chain scores on it, with its speed.

A pair *meets* when both sides give the same keys (`archive.analysis.key_sequence`: elisions, stop words
and compounds handled as in the index). Must-meet recall: the share of `meet` pairs that meet; must-not
precision: the share of `apart` pairs kept apart. Both per kind as well, and the pairs that failed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive import analysis

SET = Path(__file__).resolve().parent / "conflation.tsv"


@dataclass(frozen=True)
class Pair:
    """Two words (or short texts) that must meet, or stay apart, and why."""

    a: str
    b: str
    expect: str  # "meet" or "apart"
    kind: str
    source: str
    note: str


def load(path: Path = SET) -> list[Pair]:
    """The pairs of the set, in file order (comment lines and the header skipped)."""
    pairs: list[Pair] = []
    for line in path.read_text("utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("a\tb\t"):
            continue
        a, b, expect, kind, source, note = (line.split("\t") + [""] * 6)[:6]
        if expect not in ("meet", "apart"):
            raise ValueError(f"{path.name}: {line!r}: expect must be meet or apart")
        pairs.append(Pair(a, b, expect, kind, source, note))
    return pairs


def meets(pair: Pair) -> bool:
    """Whether the analyzer in force gives both sides the same keys."""
    return analysis.key_sequence(pair.a) == analysis.key_sequence(pair.b)


def score(pairs: list[Pair]) -> dict[str, Any]:
    """Must-meet recall and must-not precision of the analyzer in force, per kind, and the failures."""
    met = {p: meets(p) for p in pairs}
    failed = [p for p in pairs if met[p] != (p.expect == "meet")]
    out: dict[str, Any] = {}
    for expect, name in (("meet", "meet_recall"), ("apart", "apart_precision")):
        group = [p for p in pairs if p.expect == expect]
        good = [p for p in group if p not in failed]
        out[name] = len(good) / len(group)
        out[expect + "_pairs"] = len(group)
        kinds = Counter(p.kind for p in group)
        out[expect + "_by_kind"] = {
            k: sum(1 for p in good if p.kind == k) / n for k, n in sorted(kinds.items())
        }
        out[expect + "_failed"] = [
            f"{p.a}/{p.b} ({p.kind}: {_keys(p.a)}, {_keys(p.b)})" for p in group if p in failed
        ]
    return out


def _keys(text: str) -> str:
    return "/".join(analysis.key_sequence(text)) or "∅"


def throughput(
    step: Callable[[str], str], texts: list[str], words: list[str], runs: int = 3
) -> dict[str, float]:
    """Speed of the analyzer with `step`, caches cold, best of `runs`: texts analysed as the indexer does
    (`Analyzed`: kept keys and vocabulary words), and the key of each distinct word alone."""
    texts_s = words_s = float("inf")
    for _ in range(runs):
        with analysis.stemming(step):  # every cache dropped on entry
            start = time.perf_counter()
            for text in texts:
                analyzed = analysis.Analyzed(text)
                analyzed.kept()
                analyzed.words()
            texts_s = min(texts_s, time.perf_counter() - start)
        with analysis.stemming(step):
            start = time.perf_counter()
            for word in words:
                analysis.key(word)
            words_s = min(words_s, time.perf_counter() - start)
    return {"passages_per_s": len(texts) / texts_s, "words_per_s": len(words) / words_s}
