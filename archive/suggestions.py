"""Spelling suggestions: a corrected query when a word of it is unknown to the archive.

An unknown word (no index key in any passage) of four letters or more is replaced by the closest word of
the generation's vocabulary that the index holds, written as the documents write it (accents kept). A word
the French dictionary knows is no typo, even where the archive lacks it: `casier` is not corrected to
`cahier` (`lexicon.known`).
"""

from __future__ import annotations

import re

from . import analysis, lexicon
from .deadline import Deadline
from .generations import Generation

_CANDIDATES = 8  # close words of the vocabulary tried per unknown word, closest first


def suggest(gen: Generation, text: str, words: list[str], deadline: Deadline) -> str | None:
    """A corrected query when some word of it is unknown to the archive (and a close word is known).

    Each unknown word costs a fuzzy search of the vocabulary: 64 of them took 18 s; the words left
    when the deadline passes get no suggestion."""
    replacements: dict[str, str] = {}
    for word in words:
        if deadline.expired():
            break
        keys = analysis.keys(word)
        if not keys or any(gen.arrays.doc_frequency("content", k) for k in keys):
            continue
        better = _known(gen, word)
        if better is not None:
            replacements[word] = better
    if not replacements:
        return None
    out = text
    for word, better in replacements.items():  # whole words only: `aide` is not the start of `aides`
        out = re.sub(rf"(?<![\w'’]){re.escape(word)}(?!\w)", better.replace("\\", "\\\\"), out)
    return out if out != text else None


def _known(gen: Generation, word: str) -> str | None:
    """`word` with its one unknown word (its elision kept: `l'enqute`) replaced by the closest word the
    index holds, as the documents write it; None when there is none, or the word is short or not plain."""
    kept = [t for t in analysis.tokens(word) if not t.stop]
    if len(kept) != 1 or not kept[0].word.isalpha() or len(kept[0].word) < 4:
        return None
    unknown = kept[0]
    if lexicon.known(analysis.fold(unknown.word)):
        return None
    for candidate in gen.vocabulary.similar(analysis.fold(unknown.word), limit=_CANDIDATES):
        if gen.arrays.doc_frequency("content", analysis.key(candidate)):
            return word[: unknown.start] + gen.vocabulary.form(candidate) + word[unknown.end :]
    return None
