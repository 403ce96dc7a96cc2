"""From a file's bytes to a `Document`: extract, split into passages, analyse and tag them, fingerprint.

No file of the archive is read or written here: the callers hand over the bytes (`Store.read`), so the
same pipeline serves a reindex, an upload and a check.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import replace

from . import analysis, extract, metadata, passages
from .documents import sha256_bytes
from .extracted import DIRECTORY, ExtractedCache
from .models import Document, Terms
from .schema import SCHEMA_VERSION
from .settings import Settings
from .taxonomy import Taxonomy


class Pipeline:
    """Turns one file (bytes and its sidecar's) into the `Document` the index stores."""

    def __init__(self, settings: Settings, taxonomy: Taxonomy) -> None:
        self.settings = settings
        self.taxonomy = taxonomy
        self.extracted = ExtractedCache(settings.index_dir / DIRECTORY, settings.extraction_cache)

    def prepare(self, document_id: str, data: bytes, sidecar: bytes | None = None) -> Document:
        """Extract, split and tag one document; raises RejectedInput."""
        sha = sha256_bytes(data)
        found = extract.extract(document_id, data, self.settings.max_file_bytes, self.extracted, sha)
        extra = metadata.parse_sidecar(document_id, sidecar) if sidecar is not None else {}
        meta = metadata.build(document_id, found.metadata, extra, self.taxonomy)
        pieces = passages.split(
            found.blocks, document_id, self.settings.passage_min_words, self.settings.passage_max_words
        )
        tagged = []
        for p in pieces:  # each passage analysed once: its tags and the index's terms come from that
            analyzed = analysis.Analyzed(p.text)
            tags = self.taxonomy.detect(analyzed)
            tagged.append(replace(p, agency=tags["agency"], offence=tags["offence"], terms=_terms(analyzed)))
        return Document(
            document_id, sha, self.fingerprint(sha, sidecar), found.format, meta, tuple(tagged), len(data)
        )

    def fingerprint(self, sha: str, sidecar: bytes | None) -> str:
        """What the indexed form of a file depends on: when it is unchanged, so is the document."""
        parts = [
            sha,
            sha256_bytes(sidecar) if sidecar is not None else "-",
            self.taxonomy.fingerprint,
            str(SCHEMA_VERSION),
            str(self.settings.passage_min_words),
            str(self.settings.passage_max_words),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _terms(analyzed: analysis.Analyzed) -> Terms:
    """What the writer needs of an analysed passage, as flat values that pickle cheaply."""
    keys, positions = analyzed.kept()
    return Terms(tuple(keys), array("I", positions), analyzed.words())
