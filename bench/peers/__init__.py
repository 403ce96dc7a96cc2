"""The engines compared by the benchmark, behind one small interface (`base.Peer`)."""

from __future__ import annotations

from .base import Peer


def make(name: str) -> Peer:
    """A peer by name: archive, whoosh, fts5, tantivy."""
    if name == "archive":
        from .archive_peer import ArchivePeer

        return ArchivePeer()
    if name == "whoosh":
        from .whoosh_peer import WhooshPeer

        return WhooshPeer()
    if name == "fts5":
        from .fts5_peer import Fts5Peer

        return Fts5Peer()
    if name == "tantivy":
        from .tantivy_peer import TantivyPeer

        return TantivyPeer()
    raise ValueError(f"unknown peer {name!r}")


def installed(name: str) -> bool:
    """Whether a peer's engine can be imported here (Tantivy is an optional dependency)."""
    if name != "tantivy":
        return True
    try:
        import tantivy  # noqa: F401
    except ImportError:
        return False
    return True


PEERS = ("archive", "whoosh", "fts5", "tantivy")
