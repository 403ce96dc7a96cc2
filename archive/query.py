"""Reading a researcher's query with Whoosh's parser, made French-aware and safe for any input.

Separate from `searcher.py` so that parsing can be tested on its own; like it, it may import Whoosh. The
search modules build every Whoosh query they need here (`any_of`, `in_document`), so that they do not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias

from whoosh import query as wq
from whoosh.qparser import FieldAliasPlugin, FuzzyTermPlugin, MultifieldParser, QueryParser, syntax
from whoosh.qparser.plugins import PhrasePlugin

from . import analysis, phrasing
from .schema import QUERY_FIELDS, SEARCHABLE, build_schema
from .vocabulary import Vocabulary

DEFAULT_FIELDS = {"content": 1.0, "section": 0.5, "title": 0.5}
"""Where an unfielded word is looked for, and how much each field weighs (on top of index-time boosts)."""

MAX_QUERY_CHARS = 1000
MAX_TERMS = 64
MAX_EXPANSION = 200
"""A prefix or wildcard stands for at most this many of the archive's words (the most frequent)."""

MAX_DEPTH = 32
"""Parentheses nested deeper than this are dropped (the words stay): nobody writes 33 levels by hand."""

MAX_EXPANDED = 1000
"""All the prefixes, wildcards and fuzzy terms of one query stand for at most this many words together."""

_SPENT = "motifs limités à 1000 mots pour toute la recherche"

FIELD_ALIASES = {
    "title": ["titre"],
    "agency": ["agence", "service"],
    "offence": ["infraction", "offense"],
    "year": ["année", "annee"],
    "section": ["rubrique"],
    "doc": ["document"],
}

KNOWN_FIELDS = ", ".join(
    f"{name} ({FIELD_ALIASES[name][0]})" if name in FIELD_ALIASES else name
    for name in QUERY_FIELDS
    if name != "content"
)
"""The fields a query may name, as a note lists them (each with its first French alias)."""

_FIELD_LIKE = re.compile(r"([^\W\d_][\w-]*):(?!/)\S")
"""A word written like `field:value` (the parser leaves it a word when the field is unknown); not a URL."""

Query: TypeAlias = wq.Query
"""A runnable query (a Whoosh query): what `parse`, `expand`, `any_of` and `in_document` return."""

_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass
class Parsed:
    """A query ready to run: the Whoosh query and what a person should be told about it."""

    text: str  # the query as it was searched (cleaned)
    query: wq.Query | None  # None: browse everything
    interpretation: str
    notes: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # plain unfielded words, for spelling suggestions
    relaxable: list[wq.Query] = field(default_factory=list)  # the AND'ed parts of a plain query (>= 2)
    scoring: wq.Query | None = None  # the same query over the passage, its heading and title: ranks only
    scoring_parts: list[wq.Query] = field(default_factory=list)  # `relaxable`, part by part, for ranking
    near: list[tuple[str, int]] = field(default_factory=list)  # a plain query's keys, positions: proximity

    @property
    def typed(self) -> list[str]:
        """The plain words typed that are searched (stop words left out): what a person counts."""
        return [w for w in self.words if analysis.keys(w)]

    @property
    def selective(self) -> bool:
        """Whether the query picks passages: neither empty (browse everything) nor unreadable (nothing)."""
        return self.query is not None and self.query is not wq.NullQuery


@dataclass(frozen=True)
class Parsers:
    """Two readings of one syntax: `words` as typed (for interpretation and relaxation), `fields` to run."""

    words: QueryParser
    fields: QueryParser


def make_parser() -> Parsers:
    """The archive's parser: AND by default, French phrases (sloppy with `~N`), fuzzy words (`mot~`), only
    the public fields, French field aliases.

    An unfielded word is looked for in the passage, its section heading and its document's title.
    """
    full = build_schema()
    public = type(full)()
    for name in QUERY_FIELDS:
        public.add(name, full[name])
    single = QueryParser("content", public)
    multi = MultifieldParser(list(DEFAULT_FIELDS), public, fieldboosts=DEFAULT_FIELDS)
    for parser in (single, multi):
        parser.remove_plugin_class(PhrasePlugin)
        parser.add_plugin(phrasing.GapPhrasePlugin())
        parser.add_plugin(FieldAliasPlugin(FIELD_ALIASES))
        parser.add_plugin(FuzzyTermPlugin())
    return Parsers(single, multi)


def clean(text: str) -> tuple[str, list[str]]:
    """Query text without control characters, lone surrogates or excess length; notes say what was cut."""
    notes: list[str] = []
    text = _LONE_SURROGATE.sub("", text)
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    text = " ".join(text.split())
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]
        notes.append(f"requête tronquée à {MAX_QUERY_CHARS} caractères")
    return text, notes


def parse(parsers: Parsers, raw: str) -> Parsed:
    """Parse any text into a runnable query; never raises: unreadable syntax is searched as plain words."""
    text, notes = clean(raw)
    if not text:
        return Parsed(text, None, "", notes)
    text = _closed_quotes(text, notes)
    if _depth(text) > MAX_DEPTH:  # 330 nested parentheses overflowed the recursion of what reads the tree
        text = text.replace("(", " ").replace(")", " ")
        notes.append(f"parenthèses imbriquées sur plus de {MAX_DEPTH} niveaux : ignorées")
    try:
        tree = parsers.words.process(text)
        q = parsers.words.parse(text)
        ranked = parsers.fields.parse(text)
    except Exception:  # the parser fails on some pathological inputs (deep nesting, stray operators)
        # operators must go too: a stray NOT or ANDNOT is what broke the parser in the first place
        plain = " ".join(w for w in re.findall(r"[^\W_]+", text) if w not in _OPERATORS)
        notes.append("syntaxe non reconnue : recherche des mots seuls")
        try:
            tree = parsers.words.process(plain)
            q = parsers.words.parse(plain)
            ranked = parsers.fields.parse(plain)
        except Exception:  # nothing readable is left: search nothing rather than fail
            return Parsed(text, wq.NullQuery, "", notes)
    words = [n.text for n in _word_nodes(tree) if n.fieldname is None]
    interpretation = _render(tree)
    _word_notes(words, notes, bool(interpretation))
    q = _bounded_terms(q, notes)
    ranked = _bounded_terms(ranked, [])
    notes.extend(phrasing.slop_notes(tree))
    if q is wq.NullQuery or q is None:
        return Parsed(text, wq.NullQuery, interpretation, notes, words)
    relaxable: list[wq.Query] = []
    ranked_parts: list[wq.Query] = []
    if _is_plain(tree) and isinstance(q, wq.And) and len(q.subqueries) >= 2:
        relaxable = list(q.subqueries)
        if isinstance(ranked, wq.And) and len(ranked.subqueries) == len(relaxable):
            ranked_parts = list(ranked.subqueries)
        else:
            ranked_parts = relaxable
    near = phrasing.phrase_words(" ".join(words))[:MAX_TERMS] if relaxable else []
    return Parsed(text, q, interpretation, notes, words, relaxable, ranked, ranked_parts, near)


def _closed_quotes(text: str, notes: list[str]) -> str:
    """`text` without its last quote when that one opens no phrase (an odd number of `"`), and a note."""
    if text.count('"') % 2 == 0:
        return text
    at = text.rfind('"')
    notes.append(
        "guillemet non fermé ignoré : les mots sont cherchés séparément "
        "(fermez-le pour chercher l'expression exacte)"
    )
    return " ".join((text[:at] + " " + text[at + 1 :]).split())


def _word_notes(words: list[str], notes: list[str], searched: bool) -> None:
    """Notes on the plain words: stop words left out (every word, when nothing is `searched`), unknown
    fields."""
    stops = [w for w in words if not analysis.keys(w)]
    if stops and not searched:
        notes.append(
            "tous les mots sont trop courants pour être cherchés : " + ", ".join(dict.fromkeys(stops))
        )
    elif stops:
        notes.append("mots ignorés (trop courants) : " + ", ".join(dict.fromkeys(stops)))
    unknown = dict.fromkeys(m.group(1) for m in map(_FIELD_LIKE.match, words) if m)
    if unknown:
        notes.append(
            f"{', '.join(f'« {name} »' for name in unknown)} : champ inconnu, cherché comme du texte "
            f"(champs : {KNOWN_FIELDS})"
        )


def _depth(text: str) -> int:
    """How deeply parentheses nest in `text` (unbalanced ones count as they open)."""
    depth = deepest = 0
    for c in text:
        if c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")" and depth:
            depth -= 1
    return deepest


def _word_nodes(node: syntax.SyntaxNode) -> list[syntax.WordNode]:
    if isinstance(node, syntax.WordNode):
        return [node]
    out: list[syntax.WordNode] = []
    for child in getattr(node, "nodes", []) or []:
        out.extend(_word_nodes(child))
    return out


def _is_plain(tree: syntax.SyntaxNode) -> bool:
    """An implicit AND of bare words: the only kind of query that relaxation may loosen."""
    return isinstance(tree, syntax.AndGroup) and all(
        isinstance(n, syntax.WordNode) and n.fieldname is None and n.boost == 1 for n in tree.nodes
    )


_OPERATOR_OF = (
    (syntax.OrGroup, " OR "),
    (syntax.AndNotGroup, " ANDNOT "),
    (syntax.AndMaybeGroup, " ANDMAYBE "),
)
"""How a group of each kind joins its parts, the first kind that fits winning (AND for any other)."""


def _render(node: syntax.SyntaxNode, depth: int = 0) -> str:
    """The query as the archive understood it, in its own syntax, stop words left out."""
    if isinstance(node, syntax.NotGroup):
        inner = _render(node.nodes[0], depth + 1) if node.nodes else ""
        return f"NOT {inner}" if inner else ""
    if isinstance(node, syntax.GroupNode):
        parts = [p for p in (_render(n, depth + 1) for n in node.nodes) if p]
        operator = next((word for kind, word in _OPERATOR_OF if isinstance(node, kind)), " AND ")
        joined = operator.join(parts)
        return f"({joined})" if len(parts) > 1 and depth > 0 else joined
    return _render_leaf(node)


def _render_leaf(node: syntax.SyntaxNode) -> str:
    """A word, phrase, range or pattern as the archive understood it ("" for a stop word)."""
    prefix = f"{node.fieldname}:" if getattr(node, "fieldname", None) else ""
    if isinstance(node, PhrasePlugin.PhraseNode):
        slop = min(node.slop, phrasing.MAX_SLOP)
        return f'{prefix}"{node.text}"' + (f"~{slop}" if slop > 1 else "")
    if isinstance(node, syntax.WordNode):
        if node.fieldname is None and not analysis.keys(node.text):
            return ""
        return prefix + str(node.text)
    if isinstance(node, FuzzyTermPlugin.FuzzyTermNode):
        return f"{prefix}{node.text}~" + (str(node.maxdist) if node.maxdist != 1 else "")
    if hasattr(node, "start") and hasattr(node, "end"):
        return f"{prefix}[{node.start or ''} TO {node.end or ''}]"
    text = getattr(node, "text", None)
    if text is not None:
        return prefix + str(text) + ("*" if type(node).__name__ == "PrefixNode" else "")
    return prefix + str(node.r() if hasattr(node, "r") else node)


def _bounded_terms(q: wq.Query, notes: list[str]) -> wq.Query:
    """Cap the number of terms of a query (10,000 words must not become 10,000 posting lists)."""
    if isinstance(q, wq.And | wq.Or) and len(q.subqueries) > MAX_TERMS:
        notes.append(f"seuls les {MAX_TERMS} premiers termes de la requête sont pris en compte")
        return type(q)(q.subqueries[:MAX_TERMS])
    return q


def expand(
    q: wq.Query, vocabulary: Vocabulary, notes: list[str], expired: Callable[[], bool] | None = None
) -> wq.Query:
    """Replace prefixes, wildcards and fuzzy terms by the index keys of the words they match, bounded.

    The index holds stemmed keys, so patterns are matched against the vocabulary of words as written
    (accents folded), then each matching word's key is looked up. Each pattern stands for at most
    MAX_EXPANSION words, the whole query for at most MAX_EXPANDED (64 patterns of 200 words each held a
    search thread for 20 s while scoring 12,800 terms); once `expired()` says time is up, the patterns
    not yet expanded match nothing.
    """
    budget = [MAX_EXPANDED]
    return _expand(q, vocabulary, notes, budget, expired or (lambda: False))


def _expand(
    q: wq.Query, vocabulary: Vocabulary, notes: list[str], budget: list[int], expired: Callable[[], bool]
) -> wq.Query:
    if isinstance(q, wq.Wildcard) and set(q.text) <= {"*"}:
        return wq.Every()
    if isinstance(q, wq.Prefix | wq.Wildcard | wq.FuzzyTerm) and q.fieldname in SEARCHABLE:
        return _expand_pattern(q, vocabulary, notes, budget, expired)
    if isinstance(q, wq.Every):
        return q
    if hasattr(q, "subqueries") or isinstance(q, wq.Not | wq.WrappingQuery):
        return q.apply(lambda sub: _expand(sub, vocabulary, notes, budget, expired))
    return q


def _expand_pattern(
    q: wq.Query, vocabulary: Vocabulary, notes: list[str], budget: list[int], expired: Callable[[], bool]
) -> wq.Query:
    """A prefix, wildcard or fuzzy term as the OR of its words' keys, within what is left of the budget."""
    text = analysis.fold(str(q.text))
    limit = min(MAX_EXPANSION, budget[0])
    if limit <= 0 or expired():
        if not any(n.startswith(_SPENT) for n in notes):
            notes.append(f"{_SPENT} : les motifs suivants, dont « {text} », n'ont pas été développés")
        return wq.NullQuery
    if isinstance(q, wq.Prefix):
        words, total = vocabulary.prefixed(text, limit)
        shown = f"{text}*"
    elif isinstance(q, wq.FuzzyTerm):
        text = _fuzzy_word(text)
        words, total = vocabulary.similar(text, limit, max_distance=min(_fuzziness(text), q.maxdist)), 0
        if vocabulary.frequency(text):  # the word itself, when the archive has it
            words = [text, *words[: limit - 1]]
        shown = f"{text}~"
    else:
        words, total = vocabulary.matching(text, limit)
        shown = text
    if total > limit:
        notes.append(f"« {shown} » : limité aux {limit} mots les plus fréquents sur {total}")
    keys = sorted({analysis.key(w) for w in words})
    budget[0] -= len(keys)
    if not keys:
        return wq.NullQuery
    return wq.Or([wq.Term(q.fieldname, k) for k in keys], boost=q.boost)


def _fuzziness(word: str) -> int:
    """The edits a fuzzy word allows, by its length (Elasticsearch's `AUTO`): none up to 2 letters, one up
    to 5, two beyond. `a~` would otherwise stand for every word of one or two letters."""
    return 0 if len(word) <= 2 else 1 if len(word) <= 5 else 2


def _fuzzy_word(text: str) -> str:
    """The word a fuzzy term stands for, as the vocabulary holds it (folded, its elision dropped)."""
    found = [analysis.fold(t.word) for t in analysis.tokens(text) if not t.stop and t.word.isalnum()]
    return found[0] if len(found) == 1 else text


def any_of(parts: list[wq.Query]) -> wq.Query:
    """The passages matching at least one of `parts` (how a loosened query matches and ranks)."""
    return wq.Or(parts)


def in_document(document_id: str) -> wq.Query:
    """Every passage of a document (and its record), by document id."""
    return wq.Term("doc", document_id)
