"""`documents/` against its fixity manifest: every file hashed once, for a reindex to plan or a check to report.

Both ask the same questions of the same walk (which files are altered, unrecorded or missing, and which
hold the same content as an earlier one), so both read the answers from one `Diff`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .documents import Store, sha256_file
from .names import BAD_NAME
from .outcomes import Rejection


@dataclass(frozen=True)
class Diff:
    """What `documents/` holds now, read once, beside what its manifest recorded."""

    ids: list[str]
    """Every document id, sorted (links and unnameable files are never among them)."""
    refused: dict[str, Rejection]
    """Paths the walk refused (raw: show them with `printable`), with why."""
    manifest: dict[str, str]
    """The manifest as recorded: document id -> SHA-256."""
    shas: dict[str, str]
    """The SHA-256 of every document that could be read, in id order."""
    unreadable: dict[str, OSError]
    """Documents that could not be read (gone or swapped for a link since the walk, EMFILE, EIO)."""
    duplicates: dict[str, str]
    """Documents with the same content as an earlier one (in id order) -> that first document."""

    def altered(self, document_id: str) -> bool:
        """Whether this document was read and differs from what the manifest recorded for it."""
        sha = self.shas.get(document_id)
        return sha is not None and self.manifest.get(document_id, sha) != sha

    def all_altered(self) -> list[str]:
        """Every altered document, in id order."""
        return [i for i in self.shas if self.altered(i)]

    def missing(self) -> list[str]:
        """Documents the manifest lists that are gone from documents/, sorted.

        A file refused for its name is there, and said so under its own name, so it is not missing."""
        present = set(self.ids)
        return sorted(i for i in self.manifest if i not in present and self.refused.get(i) != BAD_NAME)


def diff(store: Store) -> Diff:
    """Walk documents/, hash every document once and set it beside the manifest."""
    ids, refused = store.survey()  # links and names with control characters are never read
    manifest = store.read_manifest()
    shas: dict[str, str] = {}
    unreadable: dict[str, OSError] = {}
    first: dict[str, str] = {}  # sha256 -> the first document id with that content
    duplicates: dict[str, str] = {}
    for document_id in ids:
        try:
            sha = sha256_file(store.root / document_id)
        except OSError as e:
            unreadable[document_id] = e
            continue
        shas[document_id] = sha
        if sha in first:
            duplicates[document_id] = first[sha]
        else:
            first[sha] = document_id
    return Diff(ids, refused, manifest, shas, unreadable, duplicates)
