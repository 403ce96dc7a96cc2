"""Agency and offence detection from an editable taxonomy, through the same French analysis as search.

The default taxonomy ships as `archive/taxonomy.toml`; an archive home's `taxonomy.toml` extends it
(an entry without `label` adds aliases and exclusions to the default entry of that id), overrides it (an
entry with a `label` replaces it) or removes entries (`disabled = true`).

What a passage must say to be tagged (README, "Taxonomy and facets"):

- an *alias* of the entry, as a contiguous word sequence compared by analysis key, so inflections,
  accents, elisions and stop words do not matter;
- except that an alias word written in capitals (`PNF`, `STAD`, `C3N`) is an *acronym*: it matches only a
  word written in capitals with the same letters, dots allowed (`PNF`, `P.N.F.`), never a word that
  merely shares its key (`stade`);
- and not inside one of the entry's *exclusions* (`not = ["corruption de mineur"]`): an occurrence of an
  alias lying wholly within an occurrence of an excluded phrase does not count.

The id and the label name an entry (metadata may use them) but do not detect it: only aliases do.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .analysis import Analyzed, fold, key_sequence, words
from .errors import TaxonomyError

KINDS: tuple[str, ...] = ("agency", "offence")

MATCHING = "2"
"""The version of the matching rules, part of the fingerprint: changing the rules re-tags every passage.
1: aliases, ids and labels by key; 2: aliases only, acronyms in capitals, exclusions."""

Slot = tuple[bool, str]
"""One word of a pattern: (is an acronym, the key or the folded letters it must equal)."""


@dataclass(frozen=True)
class Entry:
    """One agency or offence: its id, the label people read, what names it, its parent, what does not."""

    id: str
    label: str
    aliases: tuple[str, ...]
    parent: str | None = None
    exclusions: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Pattern:
    slots: tuple[Slot, ...]
    entry_id: str
    excludes: bool  # an exclusion of entry_id rather than an alias of it


class Taxonomy:
    """The agencies and offences of an archive, with a matcher for each kind."""

    def __init__(self, entries: dict[str, dict[str, Entry]]) -> None:
        self.entries = entries
        self._matchers = {kind: _matcher(table.values()) for kind, table in entries.items()}
        self._names: dict[str, dict[tuple[str, ...], str]] = {}
        for kind, table in entries.items():
            names: dict[tuple[str, ...], str] = {}
            for entry in table.values():
                for name in (*entry.aliases, entry.label, entry.id.replace("-", " ")):
                    names.setdefault(tuple(key_sequence(name)), entry.id)
            names.pop((), None)
            self._names[kind] = names
        canonical = {
            k: {i: [e.label, list(e.aliases), e.parent, list(e.exclusions)] for i, e in sorted(t.items())}
            for k, t in sorted(entries.items())
        }
        digest = json.dumps([MATCHING, canonical], ensure_ascii=False).encode()
        self.fingerprint = hashlib.sha256(digest).hexdigest()[:16]

    @classmethod
    def load(cls, override: Path | None = None) -> Taxonomy:
        """The default taxonomy, extended or overridden by `override` when that file exists."""
        default = resources.files("archive").joinpath("taxonomy.toml").read_text(encoding="utf-8")
        entries = _parse(tomllib.loads(default), "archive/taxonomy.toml", {k: {} for k in KINDS})
        if override is not None and override.is_file():
            try:
                data = tomllib.loads(override.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                raise TaxonomyError(str(override), f"not valid TOML: {e}") from None
            disabled = {
                (k, i)
                for k, t in data.items()
                if isinstance(t, dict)
                for i, raw in t.items()
                if isinstance(raw, dict) and raw.get("disabled")
            }
            entries = _parse(data, str(override), entries)
            for kind, table in entries.items():  # children of a disabled entry stand on their own
                for entry_id, entry in list(table.items()):
                    if entry.parent and (kind, entry.parent) in disabled:
                        table[entry_id] = Entry(entry.id, entry.label, entry.aliases, None, entry.exclusions)
        _check(entries)
        return cls(entries)

    def detect(self, text: str) -> dict[str, tuple[str, ...]]:
        """The ids of each kind mentioned in `text`, with their parents, in order of first mention.

        An `Analyzed` text is matched through the analysis it carries, never tokenised again."""
        analyzed = text if isinstance(text, Analyzed) else Analyzed(text)
        words = [(key, _acronym(word)) for key, word in analyzed.sequence()]
        found: dict[str, tuple[str, ...]] = {}
        for kind, matcher in self._matchers.items():
            ids: dict[str, None] = {}
            for entry_id in _mentions(matcher, words):
                ids.update(dict.fromkeys(self.lineage(kind, entry_id)))
            found[kind] = tuple(ids)
        return found

    def lineage(self, kind: str, entry_id: str) -> list[str]:
        """The entry and its parents, nearest first."""
        out: list[str] = []
        table = self.entries[kind]
        current: str | None = entry_id
        while current and current in table and current not in out:
            out.append(current)
            current = table[current].parent
        return out

    def resolve(self, kind: str, value: str) -> str | None:
        """The id that a metadata value names: an id, a label or an alias (compared analysed, any case)."""
        table = self.entries[kind]
        slug = fold(value).strip().replace(" ", "-")
        if slug in table:
            return slug
        return self._names[kind].get(tuple(key_sequence(value)))

    def label(self, kind: str, value: str) -> str:
        """The label of the entry `value` of `kind`, or `value` itself when the taxonomy has no such entry."""
        entry = self.entries.get(kind, {}).get(value)
        return entry.label if entry else value


# ---------------------------------------------------------------- matching


_Word = tuple[str, str | None]
"""A word of a text: its key, and its folded letters when it is written in capitals (an acronym)."""


def _words(text: str) -> list[_Word]:
    """One word per position, stop words left out and compound joins skipped (`analysis.words`)."""
    return [(t.key, _acronym(t.word)) for t in words(text)]


@lru_cache(maxsize=65_536)
def _acronym(word: str) -> str | None:
    """The folded letters of a word written in capitals (`P.N.F.` -> `pnf`), or None."""
    bare = word.replace(".", "")
    if bare.upper() != bare or sum(c.isalpha() for c in bare) < 2:
        return None
    return fold(bare)


def _slots(phrase: str) -> tuple[Slot, ...]:
    """A phrase of the taxonomy as the slots it matches: acronyms by their letters, other words by key."""
    return tuple((acronym is not None, acronym or key) for key, acronym in _words(phrase))


def _matcher(entries: Iterable[Entry]) -> dict[Slot, list[_Pattern]]:
    """Every alias and exclusion of one kind, indexed by its first slot, longest first."""
    matcher: dict[Slot, list[_Pattern]] = {}
    for entry in entries:
        phrases = [(a, False) for a in entry.aliases] + [(x, True) for x in entry.exclusions]
        for phrase, excludes in phrases:
            slots = _slots(phrase)
            if slots:
                pattern = _Pattern(slots, entry.id, excludes)
                bucket = matcher.setdefault(slots[0], [])
                if pattern not in bucket:
                    bucket.append(pattern)
    for bucket in matcher.values():
        bucket.sort(key=lambda p: -len(p.slots))
    return matcher


def _at(pattern: _Pattern, words: list[_Word], i: int) -> bool:
    """Whether `pattern` occurs in `words` starting at position `i`."""
    if i + len(pattern.slots) > len(words):
        return False
    for (is_acronym, value), (key, acronym) in zip(pattern.slots, words[i:], strict=False):
        if (acronym if is_acronym else key) != value:
            return False
    return True


def _mentions(matcher: dict[Slot, list[_Pattern]], words: list[_Word]) -> list[str]:
    """The entry ids whose aliases occur outside their exclusions, in order of first occurrence."""
    hits: list[tuple[int, int, str]] = []
    excluded: dict[str, list[tuple[int, int]]] = {}
    for i, (key, acronym) in enumerate(words):
        candidates = matcher.get((False, key), [])
        if acronym is not None:
            candidates = candidates + matcher.get((True, acronym), [])
        for pattern in candidates:
            if _at(pattern, words, i):
                span = (i, i + len(pattern.slots))
                if pattern.excludes:
                    excluded.setdefault(pattern.entry_id, []).append(span)
                else:
                    hits.append((*span, pattern.entry_id))
    ids: dict[str, None] = {}
    for start, end, entry_id in hits:
        if not any(s <= start and end <= e for s, e in excluded.get(entry_id, ())):
            ids[entry_id] = None
    return list(ids)


# ---------------------------------------------------------------- parsing


def _check(entries: dict[str, dict[str, Entry]]) -> None:
    """Parents that exist, and no exclusion that would exclude an alias wherever it occurs."""
    for kind, table in entries.items():
        for entry in table.values():
            if entry.parent and entry.parent not in table:
                raise TaxonomyError("taxonomy", f"{kind}.{entry.id}: unknown parent {entry.parent!r}")
            aliases = {_slots(a): a for a in entry.aliases}
            for phrase in entry.exclusions:
                if _slots(phrase) in aliases:
                    raise TaxonomyError(
                        "taxonomy",
                        f"{kind}.{entry.id}: the exclusion {phrase!r} reads as the alias "
                        f"{aliases[_slots(phrase)]!r} and would exclude it everywhere; give its context",
                    )


def _strings(path: str, kind: str, entry_id: str, raw: dict[str, Any], field: str) -> tuple[str, ...]:
    value = raw.get(field, [])
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise TaxonomyError(path, f"{kind}.{entry_id}.{field} must be a list of strings")
    return tuple(value)


def _parse(data: dict[str, Any], path: str, base: dict[str, dict[str, Entry]]) -> dict[str, dict[str, Entry]]:
    entries = {k: dict(v) for k, v in base.items()}
    for kind, table in data.items():
        if kind not in KINDS:
            raise TaxonomyError(path, f"unknown section [{kind}]: use [agency.ID] or [offence.ID]")
        if not isinstance(table, dict):
            raise TaxonomyError(path, f"[{kind}] must hold entries like [{kind}.some-id]")
        for entry_id, raw in table.items():
            if not isinstance(raw, dict):
                raise TaxonomyError(path, f"{kind}.{entry_id} must be a table")
            if raw.get("disabled"):
                entries[kind].pop(entry_id, None)
                continue
            aliases = _strings(path, kind, entry_id, raw, "aliases")
            exclusions = _strings(path, kind, entry_id, raw, "not")
            previous = entries[kind].get(entry_id)
            if "label" in raw:
                entries[kind][entry_id] = Entry(
                    entry_id, str(raw["label"]), aliases, raw.get("parent"), exclusions
                )
            elif previous is None:
                raise TaxonomyError(path, f"{kind}.{entry_id} needs a label")
            else:
                entries[kind][entry_id] = Entry(
                    entry_id,
                    previous.label,
                    previous.aliases + aliases,
                    raw.get("parent", previous.parent),
                    previous.exclusions + exclusions,
                )
    return entries
