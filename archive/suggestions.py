"""Spelling suggestions: a corrected query when a word of it is unknown to the archive.

An unknown word (no index key in any passage) of four letters or more is replaced by the closest word of
the generation's vocabulary that the index holds, written as the documents write it (accents kept).
"""

from __future__ import annotations

from . import analysis
from .deadline import Deadline
from .generations import Generation

_CANDIDATES = 8  # close words of the vocabulary tried per unknown word, closest first


def suggest(gen: Generation, text: str, words: list[str], deadline: Deadline) -> str | None:
    """A corrected query when some word of it is unknown to the archive (and a close word is known).

    Each unknown word costs a fuzzy search of the vocabulary: 64 of them took 18 s; the words left
    when the deadline passes get no suggestion."""
    reader = gen.searcher.reader()
    replacements: dict[str, str] = {}
    for word in words:
        if deadline.expired():
            break
        keys = analysis.keys(word)
        if not keys or any(reader.doc_frequency("content", k) for k in keys):
            continue
        if not word.isalpha() or len(word) < 4:
            continue
        for candidate in gen.vocabulary.similar(analysis.fold(word), limit=_CANDIDATES):
            if reader.doc_frequency("content", analysis.key(candidate)):
                replacements[word] = gen.vocabulary.form(candidate)
                break
    if not replacements:
        return None
    out = text
    for word, better in replacements.items():
        out = out.replace(word, better)
    return out if out != text else None
