"""The archive's vocabulary: every folded, unstemmed word of the passages with its passage frequency.

Derived from the passages and written with each index generation (`vocabulary.json`), it answers what
the stemmed index cannot: prefixes and wildcards over words as written (`condamnation*`), and spelling
suggestions (`blanchimant` -> `blanchiment`). Words whose passages were removed may linger until the next
full rebuild; they only cost an empty expansion.
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import os
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

FILE = "vocabulary.json"


class Vocabulary:
    """Folded words with their passage counts, and how the documents write them where that differs."""

    def __init__(self, counts: dict[str, int] | None = None, forms: dict[str, str] | None = None) -> None:
        self.counts: Counter[str] = Counter(counts or {})
        self.forms: dict[str, str] = dict(forms or {})  # folded -> as written, when they differ
        self._sorted: list[str] | None = None

    def add(self, words: Mapping[str, str]) -> None:
        """Count the words of one passage (folded -> as written), each once."""
        self.counts.update(words.keys())
        for folded, written in words.items():
            if written != folded and folded not in self.forms:
                self.forms[folded] = written
        self._sorted = None

    def merge(self, other: Vocabulary) -> None:
        """Add the counts of another part of the same generation (written forms: first seen wins)."""
        self.counts.update(other.counts)
        for folded, written in other.forms.items():
            self.forms.setdefault(folded, written)
        self._sorted = None

    def form(self, word: str) -> str:
        """A folded word as the documents write it (`enquete` -> `enquête`)."""
        return self.forms.get(word, word)

    @property
    def words(self) -> list[str]:
        """Every word, sorted (kept until the next change)."""
        if self._sorted is None:
            self._sorted = sorted(self.counts)
        return self._sorted

    def frequency(self, word: str) -> int:
        """In how many passages the word appears."""
        return self.counts.get(word, 0)

    def prefixed(self, prefix: str, limit: int) -> tuple[list[str], int]:
        """Words starting with `prefix`, the most frequent `limit` of them, and how many there were."""
        words = self.words
        lo = bisect.bisect_left(words, prefix)
        hi = bisect.bisect_left(words, prefix + "\U0010ffff")
        return self._top(words[lo:hi], limit)

    def matching(self, pattern: str, limit: int) -> tuple[list[str], int]:
        """Words matching a wildcard pattern (`*` any run, `?` one character)."""
        literal = re.split(r"[*?]", pattern, maxsplit=1)[0]
        candidates = self.prefixed(literal, len(self.counts))[0] if literal else self.words
        regex = re.compile(fnmatch.translate(pattern))
        return self._top([w for w in candidates if regex.match(w)], limit)

    def _top(self, words: list[str], limit: int) -> tuple[list[str], int]:
        if len(words) > limit:
            return sorted(words, key=lambda w: (-self.counts[w], w))[:limit], len(words)
        return words, len(words)

    def similar(self, word: str, limit: int = 8, max_distance: int = 2) -> list[str]:
        """Known words within `max_distance` edits of `word`, closest and most frequent first."""
        found = process.extract(
            word, self.words, scorer=Levenshtein.distance, score_cutoff=max_distance, limit=limit * 4
        )
        ranked = sorted(found, key=lambda m: (m[1], -self.counts[m[0]]))
        return [m[0] for m in ranked if m[0] != word][:limit]

    def save(self, directory: Path) -> None:
        """Write `vocabulary.json` in a generation's directory, atomically."""
        path = directory / FILE
        tmp = path.with_name(f".{FILE}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(
                {"counts": dict(self.counts), "forms": self.forms},
                f,
                ensure_ascii=False,
                separators=(",", ":"),
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, directory: Path) -> Vocabulary:
        """The vocabulary saved in a generation's directory; empty if it has none or it is unreadable."""
        try:
            with open(directory / FILE, encoding="utf-8") as f:
                data = json.load(f)
        except (FileNotFoundError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls(data.get("counts") or {}, data.get("forms") or {})
