"""Savoy's light French stemmer, the `light_french` stemmer of Elasticsearch's `french` analyzer.

Ported from Lucene's `org.apache.lucene.analysis.fr.FrenchLightStemmer` (Apache License 2.0), which
implements the "UniNE" algorithm of Jacques Savoy, *Light Stemming Approaches for the French, Portuguese,
German and Hungarian Languages* (code from http://members.unine.ch/jacques.savoy/clef/, © 2005 Jacques
Savoy, BSD licence). Only a benchmark candidate (`bench/analyzers.py`): the rules are kept in Lucene's order
and with its length conditions, so that the port stems as Elasticsearch does (lowercase input, accents
kept; its `norm` step folds some accents itself).
"""

from __future__ import annotations

_NORM = str.maketrans("àáâôèéêùûîç", "aaaoeeeuuic")

# Lucene's rules in its order: (ending, applies to words longer than, letters removed, replacement,
# whether the rule ends the stemming). The word loses `removed` letters and the tail of what remains is
# overwritten by `replacement` (Lucene's in-place `s[len - k] = ...`); then `_norm` runs.
_RULES: tuple[tuple[str, int, int, str, bool], ...] = (
    ("issement", 9, 6, "r", True),
    ("issant", 8, 4, "r", True),
    ("ement", 6, 4, "", True),
    ("ficatrice", 11, 5, "er", True),
    ("ficateur", 10, 4, "er", True),
    ("catrice", 9, 3, "quer", True),
    ("cateur", 8, 2, "quer", True),
    ("atrice", 8, 4, "er", True),
    ("ateur", 7, 3, "er", True),
    ("trice", 6, 1, "eur", False),
    ("ième", 5, 4, "", True),
    ("teuse", 7, 2, "r", True),
    ("teur", 6, 1, "r", True),
    ("euse", 5, 2, "", True),
    ("ère", 8, 1, "er", True),
    ("ive", 7, 1, "f", True),
    ("folle", 4, 2, "u", True),
    ("molle", 4, 2, "u", True),
    ("nnelle", 9, 5, "", True),
    ("nnel", 9, 3, "", True),
    ("ète", 4, 1, "et", False),
    ("ique", 8, 4, "", False),
    ("esse", 8, 3, "", True),
    ("inage", 7, 3, "", True),
    ("isation", 9, 7, "", True),
    ("isateur", 9, 7, "", True),
    ("ation", 8, 5, "", True),
    ("ition", 8, 5, "", True),
)


def stem(word: str) -> str:
    """The light stem of a lowercase French word."""
    s = _plural(word)
    for ending, longer, removed, replacement, final in _RULES:
        if len(s) > longer and s.endswith(ending):
            kept = s[: len(s) - removed]
            s = kept[: len(kept) - len(replacement)] + replacement
            if ending == "ement" and len(s) > 3 and s.endswith("ive"):  # -ivement: the -if adjective
                s = s[:-2] + "f"
            elif ending == "isation" and len(s) > 5 and s.endswith("ual"):  # ritualisation: rituel
                s = s[:-2] + "e" + s[-1]
            if final:
                break
    return _norm(s)


def _plural(s: str) -> str:
    if len(s) > 5 and s[-1] == "x":
        if s[-3] == "a" and s[-2] == "u" and s[-4] != "e":
            s = s[:-2] + "l" + s[-1]
        s = s[:-1]
    if len(s) > 3 and s[-1] == "x":
        s = s[:-1]
    if len(s) > 3 and s[-1] == "s":
        s = s[:-1]
    return s


def _norm(s: str) -> str:
    if len(s) > 4:
        s = s.translate(_NORM)
        out = [s[0]]
        for c in s[1:]:  # a doubled letter is written once
            if not (c == out[-1] and c.isalpha()):
                out.append(c)
        s = "".join(out)
    if len(s) > 4 and s.endswith("ie"):
        s = s[:-2]
    if len(s) > 4:
        if s[-1] == "r":
            s = s[:-1]
        if s[-1] == "e":
            s = s[:-1]
        if s[-1] == "e":
            s = s[:-1]
        if s[-1] == s[-2] and s[-1].isalpha():
            s = s[:-1]
    return s
