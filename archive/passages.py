"""Splitting a document's clean text into passages a researcher can read on their own. Pure: no I/O.

Paragraphs are the unit: a short paragraph is merged with the next one, a long one is cut at sentence
ends into balanced pieces, and a sentence longer than the maximum is cut between words. A heading starts
a section: it is kept at the head of the first passage under it and names the section of every passage
under it. Offsets refer to the clean text, `"\\n\\n".join(block.text for block in blocks)`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .models import Block, Passage

CHARS_PER_WORD = 12
"""A passage holds at most `max_words * CHARS_PER_WORD` characters (an over-long token is cut too)."""

_ABBREVIATIONS = frozenset(
    "m mm mme mmes mlle mlles me mes dr pr st ste art arts al cf etc ex fig vol no n° p pp ch chap "
    "av bd bld boul sect min max env coll ed éd réf ref op cit ibid id".split()
)
# The lookbehind starts a match only at the first mark of a run: without it, each mark of a run of
# thousands of dots began a match that re-scanned the rest of the run (quadratic, minutes at 40 KB).
_SENTENCE_END = re.compile(r"(?<![.!?…])[.!?…]+[»\"')\]]*\s+")
_NEXT_STARTS_SENTENCE = re.compile(r"[«\"'(\[]?\s*[A-ZÀ-ÖØ-Þ0-9]")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    words: int
    heading: bool = False


def split(blocks: Sequence[Block], document: str, min_words: int = 40, max_words: int = 200) -> list[Passage]:
    """Passages of `document`, positions from 1, in text order."""
    if min_words < 1 or max_words < min_words:
        raise ValueError("passage sizes need 1 <= min_words <= max_words")
    text = "\n\n".join(b.text for b in blocks)
    max_chars = max_words * CHARS_PER_WORD
    sections: list[tuple[str, list[_Unit]]] = [("", [])]
    offset = 0
    for block in blocks:
        start, end = _strip(text, offset, offset + len(block.text))
        offset += len(block.text) + 2
        if start == end:
            continue
        words = _count(text, start, end)
        if block.heading and words <= max_words and end - start <= max_chars:
            sections.append((" ".join(text[start:end].split()), [_Unit(start, end, words, True)]))
        else:
            sections[-1][1].extend(_paragraph_units(text, start, end, max_words, max_chars))
    spans: list[tuple[str, int, int]] = []
    for title, units in sections:
        for group in _pack(units, min_words, max_words, max_chars):
            spans.append((title, group[0].start, group[-1].end))
    return [
        Passage(document=document, position=i, section=section, start=s, end=e, text=text[s:e])
        for i, (section, s, e) in enumerate(spans, start=1)
    ]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _count(text: str, start: int, end: int) -> int:
    return len(text[start:end].split())


def _paragraph_units(text: str, start: int, end: int, max_words: int, max_chars: int) -> list[_Unit]:
    """A paragraph as one unit, or as balanced runs of sentences when it is too long."""
    words = _count(text, start, end)
    if words <= max_words and end - start <= max_chars:
        return [_Unit(start, end, words)]
    sentences: list[_Unit] = []
    for s, e in _sentences(text, start, end):
        n = _count(text, s, e)
        if n <= max_words and e - s <= max_chars:
            sentences.append(_Unit(s, e, n))
        else:
            sentences.extend(_word_chunks(text, s, e, max_words, max_chars))
    pieces = max(math.ceil(words / max_words), math.ceil((end - start) / max_chars))
    target = max(1, math.ceil(words / pieces))
    runs: list[_Unit] = []
    for unit in sentences:
        if runs:
            last = runs[-1]
            merged = last.words + unit.words
            if merged <= max_words and unit.end - last.start <= max_chars and last.words < target:
                runs[-1] = _Unit(last.start, unit.end, merged)
                continue
        runs.append(unit)
    return runs


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans of text[start:end], not cutting after abbreviations (M., art., etc.) or initials."""
    out: list[tuple[int, int]] = []
    begin = start
    for m in _SENTENCE_END.finditer(text, start, end):
        last_word = _word_before(text, begin, m.start()).lower().strip("(«\"'")
        if not last_word or last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        if not _NEXT_STARTS_SENTENCE.match(text, m.end(), end):
            continue
        stop = m.end()
        while stop > begin and text[stop - 1].isspace():
            stop -= 1
        out.append((begin, stop))
        begin = m.end()
    if begin < end:
        out.append((begin, end))
    return out


def _word_before(text: str, begin: int, end: int) -> str:
    """The last word of text[begin:end], found by scanning back from `end` (linear over a paragraph:
    splitting text[begin:end] at every candidate end was quadratic when sentences did not end there)."""
    stop = end
    while stop > begin and text[stop - 1].isspace():
        stop -= 1
    first = stop
    while first > begin and not text[first - 1].isspace():
        first -= 1
    return text[first:stop]


def _word_chunks(text: str, start: int, end: int, max_words: int, max_chars: int) -> list[_Unit]:
    """Cut between words so each chunk keeps to both maxima; a token longer than `max_chars` (a 10 MB
    "word" of base64 or junk) is cut into pieces of `max_chars`, each a passage of one word."""
    chunks: list[_Unit] = []
    first = last = -1
    count = 0
    for m in _WORD.finditer(text, start, end):
        if count and (count + 1 > max_words or m.end() - first > max_chars):
            chunks.append(_Unit(first, last, count))
            count = 0
        if m.end() - m.start() > max_chars:
            chunks.extend(_Unit(i, min(i + max_chars, m.end()), 1) for i in range(m.start(), m.end(), max_chars))
            continue
        if not count:
            first = m.start()
        last = m.end()
        count += 1
    if count:
        chunks.append(_Unit(first, last, count))
    return chunks


def _pack(units: list[_Unit], min_words: int, max_words: int, max_chars: int) -> list[list[_Unit]]:
    """Group units into passages: a group below `min_words` takes the next unit if the result still fits."""
    groups: list[list[_Unit]] = []
    for unit in units:
        if groups:
            group = groups[-1]
            words = sum(u.words for u in group)
            short = words < min_words or all(u.heading for u in group)
            fits = words + unit.words <= max_words and unit.end - group[0].start <= max_chars
            if short and fits:
                group.append(unit)
                continue
        groups.append([unit])
    if len(groups) > 1:  # a short tail joins its predecessor when both fit in one passage
        tail, before = groups[-1], groups[-2]
        words = sum(u.words for u in tail) + sum(u.words for u in before)
        if (
            sum(u.words for u in tail) < min_words
            and words <= max_words
            and tail[-1].end - before[0].start <= max_chars
        ):
            groups[-2:] = [before + tail]
    return groups
