"""Agency and offence detection from an editable taxonomy, through the same French analysis as search.

The default taxonomy ships as `archive/taxonomy.toml`; an archive home's `taxonomy.toml` extends it
(an entry without `label` adds aliases to the default entry of that id), overrides it (an entry with a
`label` replaces it) or removes entries (`disabled = true`). Aliases match as contiguous word sequences,
compared by analysis key, so inflections, accents, elisions and stop words do not matter.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .analysis import fold, key_sequence
from .errors import TaxonomyError

KINDS: tuple[str, ...] = ("agency", "offence")


@dataclass(frozen=True)
class Entry:
    """One agency or offence: its id, the label people read, the aliases that name it, its parent."""

    id: str
    label: str
    aliases: tuple[str, ...]
    parent: str | None = None


class Taxonomy:
    """The agencies and offences of an archive, with a matcher for each kind."""

    def __init__(self, entries: dict[str, dict[str, Entry]]) -> None:
        self.entries = entries
        self._matchers: dict[str, dict[str, list[tuple[tuple[str, ...], str]]]] = {}
        for kind, table in entries.items():
            matcher: dict[str, list[tuple[tuple[str, ...], str]]] = {}
            for entry in table.values():
                for alias in (entry.id.replace("-", " "), entry.label, *entry.aliases):
                    seq = tuple(key_sequence(alias))
                    if seq and (entry.id, seq) not in {(i, s) for s, i in matcher.get(seq[0], [])}:
                        matcher.setdefault(seq[0], []).append((seq, entry.id))
            for candidates in matcher.values():
                candidates.sort(key=lambda c: -len(c[0]))
            self._matchers[kind] = matcher
        canonical = {
            k: {i: [e.label, list(e.aliases), e.parent] for i, e in sorted(t.items())}
            for k, t in sorted(entries.items())
        }
        self.fingerprint = hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode()).hexdigest()[:16]

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
                        table[entry_id] = Entry(entry.id, entry.label, entry.aliases, None)
        for kind, table in entries.items():
            for entry in table.values():
                if entry.parent and entry.parent not in table:
                    raise TaxonomyError("taxonomy", f"{kind}.{entry.id}: unknown parent {entry.parent!r}")
        return cls(entries)

    def detect(self, text: str) -> dict[str, tuple[str, ...]]:
        """The ids of each kind mentioned in `text`, with their parents, in order of first mention."""
        seq = key_sequence(text)
        found: dict[str, tuple[str, ...]] = {}
        for kind, matcher in self._matchers.items():
            ids: dict[str, None] = {}
            for i, k in enumerate(seq):
                for alias, entry_id in matcher.get(k, ()):
                    if tuple(seq[i : i + len(alias)]) == alias:
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
        """The id that a metadata value names: an id, a label or an alias (compared analysed)."""
        table = self.entries[kind]
        slug = fold(value).strip().replace(" ", "-")
        if slug in table:
            return slug
        seq = tuple(key_sequence(value))
        if not seq:
            return None
        for alias, entry_id in self._matchers[kind].get(seq[0], ()):
            if alias == seq:
                return entry_id
        return None

    def label(self, kind: str, value: str) -> str:
        """The label of the entry `value` of `kind`, or `value` itself when the taxonomy has no such entry."""
        entry = self.entries.get(kind, {}).get(value)
        return entry.label if entry else value


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
            aliases = raw.get("aliases", [])
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise TaxonomyError(path, f"{kind}.{entry_id}.aliases must be a list of strings")
            previous = entries[kind].get(entry_id)
            if "label" not in raw:
                if previous is None:
                    raise TaxonomyError(path, f"{kind}.{entry_id} needs a label")
                entries[kind][entry_id] = Entry(
                    entry_id,
                    previous.label,
                    previous.aliases + tuple(aliases),
                    raw.get("parent", previous.parent),
                )
                continue
            entries[kind][entry_id] = Entry(entry_id, str(raw["label"]), tuple(aliases), raw.get("parent"))
    return entries
