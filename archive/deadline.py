"""The moment one request's evaluation must stop, and what it had found when it stopped."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .idsets import Ids
    from .phrases import Chain


class Deadline:
    """The moment one request's evaluation must stop, and whether it did stop early.

    Work that can stop with a part of its answer (verifying phrase candidates, Whoosh's own collectors)
    looks at it as it goes; what it stopped sets `cut`, so the caller says the results are partial.
    Partial phrase matches are kept here for the rest of the request (ranking asks for them again),
    never in the generation's caches.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._end = None if seconds is None else time.monotonic() + seconds
        self.cut = False
        self.partial: dict[Chain, Ids] = {}

    def expired(self) -> bool:
        """Whether the moment has passed (never, without a limit)."""
        return self._end is not None and time.monotonic() >= self._end

    def remaining(self) -> float | None:
        """Seconds left (0 when expired), or None without a limit."""
        return None if self._end is None else max(0.0, self._end - time.monotonic())

    def stopped(self, chain: Chain, found: Ids, keep: bool) -> Ids:
        """Note that a phrase's verification stopped with `found`, kept for the request when `keep`."""
        self.cut = True
        if keep:
            self.partial[chain] = found
        return found
