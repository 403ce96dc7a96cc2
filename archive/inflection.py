"""Inflection rules: the folded form of a word and its stem, by rules on letters alone.

`fold` and `stem` are what `archive.analysis` builds keys from, for every word the lexicon
(`archive.lexicon`) does not know; the lexicon derives its table with them too. Why these rules: see
`archive.analysis` and README, "French analysis".
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import NamedTuple

_FOLD_EXTRA = str.maketrans(
    {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "đ": "d", "ł": "l"}
)


@lru_cache(maxsize=262_144)
def fold(word: str) -> str:
    """Lowercase and strip accents and ligatures: `Œuvre` -> `oeuvre`, `Pédocriminalité` -> `pedocriminalite`."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLD_EXTRA).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _Endings(NamedTuple):
    """Endings and what replaces them, with the least length of the result; their lengths, longest first."""

    replace: dict[str, tuple[str, int]]
    lengths: tuple[int, ...]


def _endings(table: str) -> _Endings:
    """Parse `ending>replacement/n` items: the ending is replaced when the result keeps n letters or more."""
    replace: dict[str, tuple[str, int]] = {}
    for item in table.split():
        ending, rest = item.split(">")
        replacement, least = rest.split("/")
        replace[ending] = (replacement, int(least))
    return _Endings(replace, tuple(sorted({len(e) for e in replace}, reverse=True)))


# Verb endings, tried first on the word as written (a final -s is part of them): future and conditional
# of -er and -ir verbs, the -iss- forms of -ir verbs, the imperfect plural, present participles (kept to
# stems of five letters or more, so that `montant`, `devant`, `enfant` stay whole).
_VERBS = _endings(
    "eraient>/3 erions>/3 eriez>/3 erons>/3 eront>/3 erait>/3 erais>/3 erai>/3 eras>/3 erez>/3 era>/3 "
    "issaient>i/3 issions>i/3 issiez>i/3 issons>i/3 issent>i/3 issants>i/3 issantes>i/3 issante>i/3 "
    "issant>i/3 issait>i/3 issais>i/3 issez>i/3 isses>i/3 isse>i/3 iraient>i/3 irions>i/3 iriez>i/3 "
    "irons>i/3 iront>i/3 irait>i/3 irais>i/3 irai>i/3 iras>i/3 irez>i/3 ira>i/3 aient>/3 "
    "geant>g/3 geants>g/3 geante>g/3 geantes>g/3 ant>/5 ants>/5 ante>/5 antes>/5"
)
# Gender and participle endings, tried once the plural is gone: -ière/-ier, -gère/-ger, -euse/-eux,
# -rice/-eur, the participles -ée/-é, the infinitives -er/-ir, and the final -e of feminines and verbs.
_FORMS = _endings("iere>i/3 gere>g/3 euse>eu/3 rice>eur/3 ee>/3 ez>/3 er>/3 ir>i/3 e>/3")
_UNDOUBLE = ("enn", "onn", "ett", "ell")
_VOWELS = frozenset("aeiouy")


def stem(word: str) -> str:
    """A lowercase word without its inflection: the stemming step of `key` (rules in the module docstring).

    >>> [stem(w) for w in ("saisir", "saisi", "saisie", "saisies", "saisissent", "saisira")]
    ['saisi', 'saisi', 'saisi', 'saisi', 'saisi', 'saisi']
    >>> [stem(w) for w in ("tribunaux", "lieux", "active", "actifs", "directrice", "dangereuse", "première")]
    ['tribunal', 'lieu', 'activ', 'activ', 'directeur', 'dangereu', 'premi']
    >>> [stem(w) for w in ("jugeant", "bénéficiant", "montant", "criminelle", "ordonnée", "longue")]
    ['jug', 'benefici', 'montant', 'criminel', 'ordon', 'long']
    """
    folded = fold(word)
    w = _drop(folded, _VERBS)
    if w is None:
        w = _plural(folded)
        if w.endswith(("ic", "if")):  # public/publique, actif/active/privée: the stem the feminine shows
            w = w[:-1] + ("qu" if w[-1] == "c" else "v")
        elif w.endswith("ail"):  # travail/travaux
            w = w[:-2] + "l"
        w = _drop(w, _FORMS) or w
    if len(w) > 4 and w[-3:] in _UNDOUBLE:  # criminelle/criminel, ordonne/ordonner
        w = w[:-1]
    if w.endswith("ngu"):  # longue/long, distinguer/distingué
        w = w[:-1]
    return w


def _drop(word: str, endings: _Endings) -> str | None:
    """`word` with its longest ending in `endings` replaced, if what remains is long enough (an ending
    replaced by `i`, an -ir verb's, only after a consonant: `laisse`, `puisse`, `devoir` keep theirs)."""
    for n in endings.lengths:
        found = endings.replace.get(word[-n:]) if n < len(word) else None
        if (
            found is not None
            and len(word) - n + len(found[0]) >= found[1]
            and not (found[0] == "i" and word[-n - 1] in _VOWELS)
        ):
            return word[:-n] + found[0]
    return None


def _plural(word: str) -> str:
    """`word` without a plural ending: -aux to -al (not -eaux), -ux to -u, -s (not -ss)."""
    if len(word) < 4:
        return word
    if word.endswith("aux") and len(word) > 4 and not word.endswith("eaux"):
        return word[:-3] + "al"
    if word.endswith("ux") or (word[-1] == "s" and word[-2] != "s"):
        return word[:-1]
    return word
