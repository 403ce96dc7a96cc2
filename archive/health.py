"""The archive's health as its writers leave it: a write that fails for a reason of ours says why.

A reindex that stops because the reader failed, or a write refused by full or read-only storage, leaves
the live index serving as before, so nothing looks wrong from a search. The failure is recorded in
`index/DEGRADED` (JSON: what, code, reason, when) for `/health`, `archive stats` and `archive check` to
report, by whichever process asks, until a later write succeeds and removes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from .wire import Degraded

FILE = "DEGRADED"


def read(index_dir: Path) -> Degraded | None:
    """The recorded failure (`what`, `code`, `reason`, `since`), or None when the last write succeeded."""
    try:
        value = json.loads((index_dir / FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        value = {"reason": "unreadable health record"}
    if not isinstance(value, dict):
        return None
    since = value.get("since")
    return {  # the record's own shape, whatever another version (or a hand) wrote
        "what": str(value.get("what", "?")),
        "code": str(value.get("code", "unknown")),
        "reason": str(value.get("reason", "")),
        "since": since if isinstance(since, str) else None,
    }


def record(index_dir: Path, what: str, code: str, reason: str) -> None:
    """Say that `what` failed; best effort (the storage may be what failed)."""
    entry = {
        "what": what,
        "code": code,
        "reason": reason,
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = index_dir / f".{FILE}.{os.getpid()}.tmp"
    with contextlib.suppress(OSError):
        index_dir.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, index_dir / FILE)
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def clear(index_dir: Path) -> None:
    """A write succeeded: the archive is healthy again."""
    with contextlib.suppress(OSError):
        (index_dir / FILE).unlink(missing_ok=True)
