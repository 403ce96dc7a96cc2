"""French analysis: the only place where language rules live.

Every word of a text becomes a *token* carrying its surface form, its offsets in the text, a position
and a *key*: the form the index stores and queries look up. Keys ignore case, accents and elisions and
conflate inflections, so that all of these meet:

>>> key("Pédocriminalité") == key("pedocriminalite")
True
>>> key("condamnée") == key("condamnee") == key("condamnés") == key("condamnes") == key("condamner")
True
>>> key("opérations") == key("operation"), key("saisir") == key("saisie"), key("blanchiments") == key("blanchiment")
(True, True, True)
>>> [t.word for t in tokens("L’enquête d'Europol")]
['enquête', 'Europol']
>>> [t.key for t in tokens("L’enquête d'Europol") if not t.stop]
['enquet', 'europol']

while words that share letters, or a derivational suffix, keep keys of their own:

>>> [key(w) for w in ("casier", "cas", "favoritisme", "favorable", "favoriser")]
['casi', 'cas', 'favoritism', 'favorabl', 'favoris']
>>> [key(w) for w in ("personnaliser", "personnalisé", "personnalité")]
['personnalis', 'personnalis', 'personnalit']
>>> [key(w) for w in ("publique", "public", "publicité", "publication")]
['publiqu', 'publiqu', 'publicit', 'publication']

Stop words keep their positions, so phrase queries can require the gap they leave:

>>> [(t.word, t.position, t.stop) for t in tokens("garde à vue")]
[('garde', 0, False), ('à', 1, True), ('vue', 2, False)]

Hyphenated words give their parts and the joined word, the joined word at the position of the first part;
acronyms with dots are read without them:

>>> [(t.key, t.position) for t in tokens("anti-refoulement")]
[('anti', 0), ('antirefoulement', 0), ('refoulement', 1)]
>>> [t.key for t in tokens("l'O.N.U. et l'ONU")if not t.stop]
['onu', 'onu']

and where a dictionary knows better than rules on letters: irregular forms meet their verb, and a noun
spelled like a verb's stem keeps a key of its own (`port_`: the `_` marks a word whose folded spelling is
another word's key; see `archive/lexicon.py`):

>>> [key(w) for w in ("condamnait", "saisit", "punit", "prévu", "prévoir", "commis", "commettre")]
['condamn', 'saisi', 'puni', 'prevoir', 'prevoir', 'commettr', 'commettr']
>>> [key(w) for w in ("manière", "manier", "port", "porter", "recel", "receler", "vol", "volés")]
['maniere', 'mani', 'port_', 'port', 'recel_', 'recel', 'vol_', 'vol']

Why (README, "French analysis"). A key depends on the folded word only, so accents never matter (stemming
the accented word splits `pédocriminalité` from `pedocriminalite`), and the vocabulary of folded words
serves prefixes, fuzzy terms and suggestions. `stem` removes one inflection by rules from the folded
word, the longest ending first: verb endings (future, conditional, -iss- forms, present participles of
stems of five letters or more), else a plural (-s, -x, -aux to -al), then a feminine or participle
ending (-ière, -euse, -rice, -ée, -e) or an infinitive (-er, -ir). Derivational suffixes (-ité, -isme,
-able, -ation, -ement) stay: Snowball, used before and run until it stopped changing, removed them and
merged unrelated words (`casier` -> `cas`, `publique` -> `publicité`). `base`, the step `key` uses,
takes the key of the words the lexicon knows (derived from simplemma's French dictionary) and `stem`'s
for the others. `bench/analyzers.py` compares chains on the pairs of `bench/conflation.tsv`. Words that
fold alike stay merged (`pêche`/`péché`, `arme`/`armé`), as do spellings of a participle (`partie`).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, NamedTuple

from . import lexicon
from .inflection import fold as fold
from .inflection import stem as stem

STOP_WORDS: frozenset[str] = frozenset(
    """
    a ai aie aient aies ait as au aura aurai auraient aurais aurait auras aurez auriez aurions aurons
    auront aux avaient avais avait avec avez aviez avions avoir avons ayant ayez ayons c ce ceci cela
    celle celles celui ces cet cette ceux d dans de des du elle elles en es est et etaient etais etait
    etant ete etee etees etes etiez etions etre eu eue eues eumes eurent eus eusse eussent eusses
    eussiez eussions eut eutes eux fumes furent fus fusse fussent fusses fussiez fussions fut futes
    ici il ils j je l la le les leur leurs lui m ma mais me meme memes mes moi mon n ne ni nos notre
    nous on ont ou par pas pour qu que quel quelle quelles quels qui s sa sans se sera serai seraient
    serais serait seras serez seriez serions serons seront ses si soi soient sois soit sommes son sont
    soyez soyons suis sur t ta te tes toi ton tu un une vos votre vous y
    """.split()
)
"""French stop words, accent-folded (Snowball's list, with `les`, `ni`, `si`, `sans`, `cette`... added)."""

ELISIONS: frozenset[str] = frozenset("l d j m n s t c qu jusqu lorsqu puisqu quoiqu presqu quelqu".split())
"""Prefixes that an apostrophe elides onto the next word (compared accent-folded, lowercase)."""

_APOSTROPHES = re.escape("'’ʼ‘`´")
_HYPHENS = re.escape("-‐‑‒–")  # escaped: a bare "-" inside a character class would make a range
_WORD = r"[^\W_ʼ]+"  # ʼ (U+02BC) is a letter to Unicode, an apostrophe to French writers: never a word alone
_TOKEN = re.compile(
    rf"(?P<acronym>(?:{_WORD}[{_APOSTROPHES}])?(?:[^\W\d_]\.){{2,}})"  # O.N.U., l'O.N.U.
    rf"|(?P<number>\d+(?:[.,]\d+)+)"  # 1,2  10.000
    rf"|(?P<word>{_WORD}(?:[{_APOSTROPHES}]{_WORD})*(?:[{_HYPHENS}]{_WORD}(?:[{_APOSTROPHES}]{_WORD})*)*)"
)
_SURFACE = re.compile(re.sub(r"\(\?P<\w+>", "(?:", _TOKEN.pattern))  # the same matches, no groups
_SPLIT_APOSTROPHE = re.compile(f"[{_APOSTROPHES}]")
_SPLIT_HYPHEN = re.compile(f"[{_HYPHENS}]")
_NUMERIC = re.compile(r"^[\d.,]+$")
_JOINERS = re.compile(f"[{_APOSTROPHES}{_HYPHENS}.]")
_JOINED = re.compile(f"[{_APOSTROPHES}{_HYPHENS}]")


class Token(NamedTuple):
    """One word of a text: as written, its index key, and where it starts."""

    word: str  # the surface form, as written
    key: str
    position: int
    start: int  # offsets of `word` in the analysed text
    end: int
    stop: bool


def base(word: str) -> str:
    """The stemming step of `key`: the lexicon's key of a word it knows, else the rules' `stem` (the
    lexicon's table is loaded on the first call)."""
    folded = fold(word)
    known = lexicon.keys().get(folded)
    return stem(folded) if known is None else known


_stem: Callable[[str], str] = base


@lru_cache(maxsize=262_144)
def key(word: str) -> str:
    """The index key of one word (no spaces, no apostrophes): folded, then stemmed."""
    lower = _JOINERS.sub("", unicodedata.normalize("NFC", word.casefold()))
    folded = fold(lower)
    if _NUMERIC.match(folded):
        return folded
    return _stem(lower) or folded


@contextlib.contextmanager
def stemming(step: Callable[[str], str]) -> Iterator[None]:
    """Analyse with another stemming step inside the block (how `bench/quality.py` compares chains through
    the whole archive, one at a time, in one process): every cached analysis is dropped on entry and exit."""
    global _stem
    saved = _stem
    _forget()
    _stem = step
    try:
        yield
    finally:
        _stem = saved
        _forget()


def _forget() -> None:
    for cached in (key, _plain, _surface):
        cached.cache_clear()
    _CHUNKS.clear()


@lru_cache(maxsize=262_144)
def _plain(surface: str) -> tuple[str, bool] | None:
    """The key of a word matched whole and whether it is a stop word; None if it has joiners to split."""
    if _JOINED.search(surface):
        return None
    return key(surface), fold(surface) in STOP_WORDS


def tokens(text: str) -> Iterator[Token]:
    """Every word of `text` in order, with stop words flagged rather than dropped."""
    position = 0
    stops = STOP_WORDS
    for match in _TOKEN.finditer(text):
        surface = match.group()
        start = match.start()
        kind = match.lastgroup
        plain = _plain(surface) if kind == "word" else None
        if plain is not None:  # the common case: a plain word
            yield Token(surface, plain[0], position, start, match.end(), plain[1])
            position += 1
            continue
        if kind == "acronym":
            word, offset = next(_elide(surface, start))
            yield Token(word, key(word.replace(".", "")), position, offset, match.end(), False)
            position += 1
            continue
        if kind == "number":
            normal = surface.replace(".", ",") if "," in surface else surface
            yield Token(surface, normal, position, start, match.end(), False)
            position += 1
            continue
        parts = list(_parts(surface, start))
        if len(parts) > 1:
            joined = "".join(fold(p[0]) for p in parts)
            first = parts[0]
            yield Token(
                first[0], key(first[0]), position, first[1], first[1] + len(first[0]), fold(first[0]) in stops
            )
            yield Token(surface[first[1] - start :], key(joined), position, first[1], match.end(), False)
            position += 1
            for word, offset in parts[1:]:
                yield Token(word, key(word), position, offset, offset + len(word), fold(word) in stops)
                position += 1
        else:
            word, offset = parts[0]
            yield Token(word, key(word), position, offset, offset + len(word), fold(word) in stops)
            position += 1


def _parts(surface: str, start: int) -> Iterator[tuple[str, int]]:
    """Split a matched word at hyphens, strip elisions and join other apostrophes (aujourd'hui)."""
    offset = start
    for piece in _SPLIT_HYPHEN.split(surface):
        if piece:
            yield from _elide(piece, offset)
        offset += len(piece) + 1


def _elide(piece: str, offset: int) -> Iterator[tuple[str, int]]:
    bits = _SPLIT_APOSTROPHE.split(piece)
    skipped = first = 0
    while first < len(bits) - 1 and fold(bits[first]) in ELISIONS:  # indices: l'l'l'... stays linear
        skipped += len(bits[first]) + 1
        first += 1
    if first == len(bits) - 1:
        yield bits[first], offset + skipped
    else:  # aujourd'hui, prud'hommes: one word, the apostrophe is part of it
        yield piece[skipped:], offset + skipped


class Analyzed(str):
    """Text analysed once, for the indexer to hand to several consumers.

    Each distinct word as written is analysed once per process (`_surface`); a text keeps the analysis
    of its words, and its kept keys and vocabulary are assembled from them on demand.
    """

    memo: dict[object, Any]  # what consumers derive from the text, once per text
    _parts: list[_Surface]

    def __new__(cls, text: str) -> Analyzed:  # noqa: D102 (described on the class)
        self = super().__new__(cls, text)
        # no word spans whitespace: a text's words are its chunks' words, and chunks repeat far more
        # than texts do, so each distinct chunk is matched once
        known = _CHUNKS.get
        self._parts = [part for chunk in text.split() for part in (known(chunk) or _chunk(chunk))]
        self.memo = {}
        return self

    def _starts(self) -> list[int]:
        """The position of each matched word's first term."""
        parts = self._parts
        return list(itertools.accumulate([p[0] for p in parts[:-1]], initial=0)) if parts else []

    def kept(self) -> tuple[list[str], list[int]]:
        """The keys of the words that are not stop words, and their positions."""
        parts = self._parts
        keys = [k for p in parts for k in p[1]]
        if all([p[4] for p in parts]):  # the common case: at most one key per word, at its start
            positions = [start for p, start in zip(parts, self._starts(), strict=True) if p[1]]
        else:
            positions = [start + r for p, start in zip(parts, self._starts(), strict=True) for r in p[2]]
        return keys, positions

    def words(self) -> dict[str, str]:
        """The words of the text that are not stop words: folded form -> lowercase form as written."""
        return {folded: written for p in self._parts for folded, written in p[3]}

    def sequence(self) -> list[tuple[str, str]]:
        """(key, as written) of `words(text)`, without tokenising the text again: what taxonomy matches."""
        return [w for p in self._parts for w in p[5]]


def _chunk(chunk: str) -> tuple[_Surface, ...]:
    """The analysed words of a run of text without whitespace, kept in `_CHUNKS`."""
    found = _CHUNKS.get(chunk)
    if found is None:
        if len(_CHUNKS) >= 262_144:
            _CHUNKS.clear()
        found = _CHUNKS[chunk] = tuple(_surface(s) for s in _SURFACE.findall(chunk))
    return found


_CHUNKS: dict[str, tuple[_Surface, ...]] = {}  # looked up inline by Analyzed: the hottest cache


_Pairs = tuple[tuple[str, str], ...]
_Surface = tuple[int, tuple[str, ...], tuple[int, ...], _Pairs, bool, _Pairs]


@lru_cache(maxsize=262_144)
def _surface(surface: str) -> _Surface:
    """One matched word (analysed alone, positions from 0): its width in positions, kept keys and their
    offsets, vocabulary words, whether it keeps at most one key, at its start, and its `words` (key, as
    written): the first term of each position unless a stop word."""
    found = tuple(tokens(surface))
    kept = [t for t in found if not t.stop]
    offsets = tuple(t.position for t in kept)
    return (
        found[-1].position + 1 if found else 0,
        tuple(t.key for t in kept),
        offsets,
        tuple((fold(t.word), t.word.lower()) for t in kept if t.word.isalnum()),
        offsets in ((), (0,)),
        tuple(
            (t.key, t.word)
            for i, t in enumerate(found)
            if not t.stop and (i == 0 or found[i - 1].position != t.position)
        ),
    )


def keys(text: str) -> list[str]:
    """The keys of the words of `text` that are not stop words, in order (compound words included)."""
    return [t.key for t in tokens(text) if not t.stop]


def words(text: str) -> Iterator[Token]:
    """One token per position, stop words left out and compound joins skipped: what taxonomy aliases match."""
    last = -1
    for t in tokens(text):
        if t.position == last:
            continue
        last = t.position
        if not t.stop:
            yield t


def key_sequence(text: str) -> list[str]:
    """The keys of `words(text)`."""
    return [t.key for t in words(text)]
