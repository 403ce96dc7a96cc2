"""Whoosh's private attributes and on-disk layouts, in one place, for the one Whoosh they were read from.

The speed of the index and of search comes from writing and reading Whoosh's files without its
per-posting Python calls, which means knowing its private attributes and byte layouts. They live in this
package and nowhere else. Write side: `writer` (the segment writer and its per-document writers),
`blockwriter` (posting blocks and term rows), `termtable` (the term table file), `pickled` (the pickle
opcodes inside blocks) and `ragged` (the numpy byte buffers they are built in). Read side: `reader`.
Both: `positions` (`RawPositions`, the text fields' posting format: raw little-endian positions, which
Whoosh's own searcher reads through the format's methods).

Those layouts are whoosh-reloaded 2.7.5's, and every Whoosh fork installs into the same `whoosh/`
package, so at import this module checks that the installed distribution is exactly the pinned one
(`WHOOSH_DISTRIBUTION`, `WHOOSH_VERSION`, the same pin as pyproject.toml) and raises `CodecMismatch`
otherwise, before any file is written or read with the wrong layout.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Sequence

WHOOSH_DISTRIBUTION = "whoosh-reloaded"
"""The Whoosh distribution the codec's layouts were read from (pyproject.toml pins it; a test checks)."""

WHOOSH_VERSION = "2.7.5"
"""Its exact version."""

DIFFERENTIAL_TESTS = ("tests/test_indexer.py", "tests/test_postings.py", "tests/test_codec_reader.py")
"""What to run before moving the pin: our writer's bytes and our answers and scores against Whoosh's own."""


class CodecMismatch(RuntimeError):
    """The installed Whoosh is not the distribution and version the codec's layouts were read from."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"{problem}. Install exactly {WHOOSH_DISTRIBUTION}=={WHOOSH_VERSION} and no other Whoosh "
            "distribution (they all install into the same whoosh/ package). Before moving the pin, run the "
            f"differential tests {', '.join(DIFFERENTIAL_TESTS)} (the writer byte for byte, answers and "
            "scores against Whoosh's own)."
        )
        self.problem = problem


def normalised(name: str) -> str:
    """A distribution name as PEP 503 compares them (`Whoosh_Reloaded` -> `whoosh-reloaded`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> list[tuple[str, str]]:
    """(name, version) of every installed distribution that provides the `whoosh` package.

    One pass over the installed distributions' metadata, reading each one's `top_level.txt`, or its
    `RECORD` where it has none: 4 ms here for 88 distributions, where `packages_distributions()`, which
    parses every `RECORD`, takes 60 ms.
    """
    found: list[tuple[str, str]] = []
    for distribution in importlib.metadata.distributions():
        top_level = distribution.read_text("top_level.txt")
        if top_level is not None:
            provides = "whoosh" in top_level.split()
        else:
            provides = "\nwhoosh/" in "\n" + (distribution.read_text("RECORD") or "")
        if provides:
            found.append((distribution.metadata["Name"], distribution.version))
    return found


def check(found: Sequence[tuple[str, str]]) -> None:
    """Raise `CodecMismatch` unless `found` (see `installed`) is the pinned distribution and version alone
    (listed once per place it is installed: the same one twice on the path is still one)."""
    pinned = list(dict.fromkeys((normalised(name), version) for name, version in found))
    if pinned != [(WHOOSH_DISTRIBUTION, WHOOSH_VERSION)]:
        seen = ", ".join(f"{name} {version}" for name, version in found) or "none"
        raise CodecMismatch(
            f"archive's Whoosh codec is written for {WHOOSH_DISTRIBUTION} {WHOOSH_VERSION} alone; "
            f"the installed Whoosh distributions are: {seen}"
        )


check(installed())
