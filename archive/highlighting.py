"""Highlighting: a passage as escaped HTML, the words a query matched wrapped in `<mark>`.

A query marks two kinds of things. Its single words (`Marks.words`, index keys) are marked wherever they
occur. Its phrases are marked only where they occur as phrases, and then whole: `"garde à vue"` marks
"garde à vue" in one `<mark>`, the stop word between the words included, but neither "garde" nor "vue"
alone. A sloppy phrase (`"délai prescription"~3`) marks the window from its first word to its last.
Words are read by the analyzer (`analysis.tokens`), so marks follow its keys, accents and elisions.
No Whoosh here: `phrasing.marks` turns a query into `Marks`.

>>> from archive.analysis import key
>>> garde_a_vue = Phrase.exact([(key("garde"), 0), (key("vue"), 2)])
>>> highlight("Placé en garde à vue, la garde des enfants", Marks(phrases=(garde_a_vue,)))
'Placé en <mark>garde à vue</mark>, la garde des enfants'
>>> highlight("La Pédocriminalité <b>", Marks(frozenset({key("pedocriminalite")})))
'La <mark>Pédocriminalité</mark> &lt;b&gt;'
"""

from __future__ import annotations

import html
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from . import analysis

Span = tuple[int, int]


@dataclass(frozen=True)
class Phrase:
    """Index keys that must follow one another: word i+1 stands between `gaps[i][0]` and `gaps[i][1]`
    positions after word i (both equal for an exact phrase, whose stop words keep their places)."""

    keys: tuple[str, ...]
    gaps: tuple[tuple[int, int], ...]

    @classmethod
    def exact(cls, words: Iterable[tuple[str, int]]) -> Phrase:
        """A phrase of (key, position) pairs: each word exactly as far from the previous one as in the query."""
        pairs = list(words)
        gaps = tuple((b[1] - a[1], b[1] - a[1]) for a, b in itertools.pairwise(pairs))
        return cls(tuple(k for k, _ in pairs), gaps)


@dataclass(frozen=True)
class Marks:
    """What a query marks in a passage: single words (keys), and phrases (marked whole, where whole)."""

    words: frozenset[str] = frozenset()
    phrases: tuple[Phrase, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.words or self.phrases)


NOTHING = Marks()


def highlight(text: str, marks: Marks) -> str:
    """`text` as escaped HTML, every word of `marks.words` and every occurrence of its phrases in `<mark>`."""
    return render(text, marked(text, marks))


def marked(text: str, marks: Marks) -> list[Span]:
    """The spans of `text` that `marks` marks, in text order, overlapping ones joined."""
    return marked_words(text, marks)[0]


def marked_words(text: str, marks: Marks) -> tuple[list[Span], list[Span]]:
    """`marked`'s spans, and the spans of the text's words as whitespace separates them (what excerpts
    count), read in one pass.

    No word of the analyzer spans whitespace (`analysis.Analyzed` relies on it too), so a text is read
    run by run: each run's keys come from the analyzer's cache of runs, and only a run holding a key of
    `marks` is tokenised again for the offsets of its words. Positions are counted across runs."""
    runs: list[Span] = []
    if not marks:
        return [], [m.span() for m in _RUN.finditer(text)]
    wanted = marks.words.union(*(p.keys for p in marks.phrases))
    found: list[tuple[analysis.Token, int, int]] = []  # tokens of runs with a wanted key, run offset, position
    position = 0
    for m in _RUN.finditer(text):
        runs.append(m.span())
        width, keys = _run(m.group())
        if not wanted.isdisjoint(keys):
            found.extend((t, m.start(), position) for t in analysis.tokens(m.group()) if not t.stop)
        position += width
    spans = [(start + t.start, start + t.end) for t, start, _ in found if t.key in marks.words]
    if marks.phrases:
        at = _by_position(found)
        for phrase in marks.phrases:
            spans.extend(_occurrences(phrase, at))
    return _merged(spans), runs


_RUN = re.compile(r"\S+")


@lru_cache(maxsize=262_144)
def _run(run: str) -> tuple[int, frozenset[str]]:
    """A run of text without whitespace: how many positions its words take, and their keys (stop words
    left out). Kept per process like the analyzer's own caches: runs repeat far more than texts do."""
    found = list(analysis.tokens(run))
    return (found[-1].position + 1 if found else 0), frozenset(t.key for t in found if not t.stop)


def render(text: str, spans: list[Span], start: int = 0, end: int | None = None) -> str:
    """`text[start:end]` as escaped HTML, the `spans` (in text order, within it) in `<mark>`."""
    stop = len(text) if end is None else end
    out: list[str] = []
    last = start
    for a, b in spans:
        if b <= start or a >= stop:
            continue
        a, b = max(a, start), min(b, stop)
        out.append(html.escape(text[last:a], quote=False))
        out.append(f"<mark>{html.escape(text[a:b], quote=False)}</mark>")
        last = b
    out.append(html.escape(text[last:stop], quote=False))
    return "".join(out)


def _by_position(found: list[tuple[analysis.Token, int, int]]) -> dict[int, dict[str, Span]]:
    """For each position, the keys of the words standing there with their offsets (a compound word and
    its first part share a position), from tokens of runs with their run's offset and position."""
    at: dict[int, dict[str, Span]] = defaultdict(dict)
    for t, start, position in found:
        at[position + t.position].setdefault(t.key, (start + t.start, start + t.end))
    return at


def _occurrences(phrase: Phrase, at: dict[int, dict[str, Span]]) -> list[Span]:
    """The spans of text, first word to last, of each occurrence of `phrase` (the shortest from each start)."""
    out: list[Span] = []
    first = phrase.keys[0]
    for position in sorted(p for p, keys in at.items() if first in keys):
        end = _end(phrase, at, position)
        if end is not None:
            out.append((at[position][first][0], end))
    return out


def _end(phrase: Phrase, at: dict[int, dict[str, Span]], start: int) -> int | None:
    """Where the occurrence of `phrase` starting at position `start` ends in the text (None: no occurrence).

    Each word may stand anywhere its gap allows, so every reachable position is followed, and the
    nearest position of the last word wins."""
    reached = {start}
    for key, (low, high) in zip(phrase.keys[1:], phrase.gaps, strict=True):
        reached = {p + d for p in reached for d in range(low, high + 1) if key in at.get(p + d, {})}
        if not reached:
            return None
    last = min(reached)
    return at[last][phrase.keys[-1]][1]


def _merged(spans: list[Span]) -> list[Span]:
    """Spans in text order, overlapping ones joined (a compound and its parts, a word inside a phrase)."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
