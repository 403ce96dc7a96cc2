"""Excerpts: the one or two stretches of a passage, about forty words each, that show why it matched.

A results list of whole passages (up to 200 words) fits five hits on a screen; excerpts fit a page of
ten, and the whole passage stays at hand (the page's `<details>`, the JSON's `text` and `highlight`).

The first excerpt is the window of EXCERPT_WORDS words that holds the most distinct marked words (then
the most marks, then the earliest); the second, when there is one, the best window apart from it that
shows marked words the first lacks, or more of them. A window starts at the beginning of its sentence
when that is at most LEAD words before its first mark, else LEAD // 2 words before it; "…" shows a cut.
Excerpts are escaped HTML where only `<mark>` is markup, like highlights, in text order, on one line
(a paragraph break shown as « · »).

>>> from archive.highlighting import Marks, marked
>>> from archive.analysis import key
>>> text = "Début. " + "mot " * 60 + "Ensuite. La cour ordonne la saisie des avoirs. " + "fin " * 60
>>> excerpts(text, marked(text, Marks(frozenset({key("saisie")}))))[0][:60]
'… La cour ordonne la <mark>saisie</mark> des avoirs. fin fin'
>>> len(excerpts(text, marked(text, Marks(frozenset({key("saisie")}))))[0].split())
42
"""

from __future__ import annotations

import bisect
import re

from .highlighting import Span, render

EXCERPT_WORDS = 40
"""Words in an excerpt: about two lines of a results page, a sentence or two of French prose."""

MOST = 2
"""Excerpts of one passage at most."""

LEAD = 12
"""How far before its first mark an excerpt may start to begin with its sentence."""

_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?…:;»]$")
_BREAK = re.compile(r"\s*\n\s*\n\s*")


def excerpts(text: str, spans: list[Span], words: list[Span] | None = None) -> tuple[str, ...]:
    """The excerpts of `text` around the marked `spans` (in text order): the whole text when it is short,
    its beginning when nothing is marked. `words`, the spans of the text's words as whitespace separates
    them, when the caller has them already (`highlighting.marked_words` reads them with the marks)."""
    if words is None:
        words = [m.span() for m in _WORD.finditer(text)]
    if len(words) <= EXCERPT_WORDS + LEAD:  # short: whole
        return (_line(render(text, spans)),) if words else ()
    starts = [w[0] for w in words]
    marks = [(bisect.bisect_right(starts, a) - 1, text[a:b].casefold()) for a, b in spans]
    if not marks:
        return (_cut(text, words, spans, 0, EXCERPT_WORDS),)
    chosen: list[tuple[int, int]] = []
    for _ in range(MOST):
        first = _best(marks, chosen, len(words))
        if first is None:
            break
        start, end = _sentence(text, words, first)
        for a, b in chosen:  # its sentence began in the other window, or it runs into it
            start, end = (max(start, b), max(end, b + 1)) if first >= b else (start, min(end, a))
        chosen.append((start, min(end, len(words))))
    return tuple(_cut(text, words, spans, start, end) for start, end in sorted(chosen))


def _best(marks: list[tuple[int, str]], chosen: list[tuple[int, int]], count: int) -> int | None:
    """The first marked word of the window holding the most marked words not already shown, apart from
    the `chosen` windows; None when no window adds a marked word."""
    shown = {label for i, label in marks if any(a <= i < b for a, b in chosen)}
    at = [i for i, _ in marks]  # in text order: a window's marks are a slice
    best: tuple[tuple[int, int, int], int] | None = None
    for anchor, _ in marks:
        start, end = _window(anchor, count)
        for a, b in chosen:  # a window stops short of another rather than overlap it
            start, end = (max(start, b), end) if anchor >= b else (start, min(end, a))
        if not start <= anchor < end:
            continue
        inside = marks[bisect.bisect_left(at, start) : bisect.bisect_left(at, end)]
        score = (len({label for _, label in inside} - shown), len(inside), -anchor)
        if (score[0] or not chosen) and (best is None or score > best[0]):
            best = (score, inside[0][0])
    return None if best is None else best[1]


def _window(first: int, count: int) -> tuple[int, int]:
    """The EXCERPT_WORDS words from LEAD // 2 before word `first`, within the `count` words."""
    start = max(0, min(first - LEAD // 2, count - EXCERPT_WORDS))
    return start, start + EXCERPT_WORDS


def _sentence(text: str, words: list[Span], first: int) -> tuple[int, int]:
    """The window of the excerpt whose first mark is word `first`: from the start of its sentence when
    that is at most LEAD words earlier, else `_window`'s."""
    for i in range(first, max(-1, first - LEAD - 1), -1):
        before = text[words[i - 1][0] : words[i][0]] if i else ""
        if i == 0 or _SENTENCE_END.search(before.rstrip()) or "\n" in before:
            return i, min(len(words), i + EXCERPT_WORDS)
    return _window(first, len(words))


def _cut(text: str, words: list[Span], spans: list[Span], start: int, end: int) -> str:
    """Words `start` to `end` of `text` as escaped HTML with their marks, "…" where the text goes on."""
    body = render(text, spans, words[start][0], words[end - 1][1])
    return ("… " if start > 0 else "") + _line(body) + (" …" if end < len(words) else "")


def _line(html: str) -> str:
    """On one line: a paragraph break (a heading and its text) read as « · », other spacing as a space."""
    return " · ".join(" ".join(part.split()) for part in _BREAK.split(html.strip()))
