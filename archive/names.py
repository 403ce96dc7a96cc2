"""Stored names: what a file under `documents/` may be called, and what a name says it is.

Names come from users (uploads, `archive add`) and other operating systems: they are reduced to one safe
path component, never silently turned into something their owner did not choose, and refused when they
hold characters no URL, log line or terminal can carry.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

from .errors import RejectedInput
from .metadata import SIDECAR_SUFFIX
from .outcomes import Rejection, printable

_RESERVED = {"manifest-sha256.txt", "tagmanifest-sha256.txt", "bagit.txt", "bag-info.txt"}
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}
_UNSAFE = re.compile(r"[^\w.\-()' ,+&@€’]")
MAX_FOLDER_DEPTH = 16
"""Folders under documents/ an add or upload may name (16 names of 200 bytes stay under Linux's 4,096)."""
MAX_NAME_BYTES = 200
"""Longest stored file name in UTF-8 bytes: file systems allow 255, temporary names add a few."""

_UNNAMEABLE = {"Cc", "Cs", "Zl", "Zp"}
"""Characters no name may hold: controls (tab, line feed, escape, DEL, C1), undecodable bytes (surrogates)
and line separators. Such a name breaks a URL route, a log line or a terminal, so it is refused, not
silently rewritten: the file is never stored or indexed under a name its owner did not choose."""
CONTROL_CHARACTERS = "the name holds control characters (line break, tab, escape...): rename the file"
BAD_NAME = Rejection("bad_name", CONTROL_CHARACTERS)


def is_document(relative: PurePosixPath | str) -> bool:
    """Whether a path under documents/ is a document (not the manifest, a sidecar or a hidden file)."""
    rel = relative if isinstance(relative, str) else relative.as_posix()
    if rel.startswith(".") or "/." in rel:
        return False
    return rel not in _RESERVED and not rel.endswith(SIDECAR_SUFFIX)


_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Direction overrides and marks: `rapport\u202etxt.exe` shows as `rapportexe.txt`."""


def unnameable(name: str) -> bool:
    """Whether a name holds a character no stored name may hold (see `_UNNAMEABLE`, `_BIDI`)."""
    if name.isprintable():  # no control, format (the marks of _BIDI), surrogate or line separator
        return False
    return any(unicodedata.category(c) in _UNNAMEABLE or c in _BIDI for c in name)


def safe_name(name: str) -> str:
    """A file name reduced to one safe path component, or RejectedInput when nothing sensible is left.

    >>> safe_name("../../etc/passwd"), safe_name("C:\\\\temp\\\\Rapport final.pdf"), safe_name("CON.txt")
    ('passwd', 'Rapport final.pdf', '_CON.txt')
    >>> safe_name("manifest-sha256.txt"), safe_name("NUL.tar.gz")
    ('_manifest-sha256.txt', '_NUL.tar.gz')
    >>> safe_name("Note\\u202f: synthèse.pdf")  # French typography's narrow no-break space
    'Note _ synthèse.pdf'
    """
    base = re.split(r"[/\\\\]", name)[-1]
    if unnameable(base):
        raise RejectedInput(printable(name[:80]), "bad_name", CONTROL_CHARACTERS)
    base = "".join(" " if unicodedata.category(c) == "Zs" else c for c in base)  # no-break spaces
    base = unicodedata.normalize("NFC", "".join(c for c in base if c.isprintable()))
    base = _UNSAFE.sub("_", base).strip(" .")
    base = base.lstrip("-_ .") or base  # "×.0" -> "_.0" must not become ".0"
    if not base or set(base) <= {"_", "."}:
        raise RejectedInput(name[:80] or "(no name)", "bad_name", "no usable file name")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    if len(base.encode("utf-8")) > MAX_NAME_BYTES:
        keep = MAX_NAME_BYTES - len(suffix.encode("utf-8")) - 1
        base = f"{_cut(stem, keep)}.{suffix}" if suffix and keep > 20 else _cut(base, MAX_NAME_BYTES)
    if base.split(".", 1)[0].lower() in _WINDOWS_RESERVED or base.lower() in _RESERVED:
        base = "_" + base  # NUL.tar.gz is NUL on Windows; manifest-sha256.txt is the archive's own
    return base


def _cut(text: str, limit: int) -> str:
    """The longest prefix of `text` whose UTF-8 form fits in `limit` bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def safe_folder(folder: str | None) -> str:
    """A relative folder inside documents/ made of safe components ('' for the top level)."""
    if not folder:
        return ""
    parts = [p for p in re.split(r"[/\\\\]+", folder) if p and p not in (".", "..")]
    if len(parts) > MAX_FOLDER_DEPTH:  # 25 components of 200 bytes made the OS refuse the path: a 507
        raise RejectedInput(
            printable(folder[:80]), "bad_name", f"folder deeper than {MAX_FOLDER_DEPTH} levels"
        )
    try:
        return "/".join(safe_name(p) for p in parts)
    except RejectedInput as e:
        why = e.reason if e.reason == CONTROL_CHARACTERS else "no usable folder name"
        raise RejectedInput(printable(folder[:80]), "bad_name", why) from None
