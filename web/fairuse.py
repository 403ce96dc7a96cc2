"""Fair use: how many reads one client may ask for, and `429 Too Many Requests` with `Retry-After` beyond.

Searches (exports included), document pages and originals are counted per client address against
`ARCHIVE_RATE_LIMIT` (default 600 a minute) over a moving window: any window of that length holds at
most that many, so a bot cannot double its share at a window's edge. The counts are kept in memory by
the `limits` library: a check is a dictionary lookup and a list insertion under a lock held for
microseconds, made on the event loop before the endpoint runs, so a refused request costs no search
thread. Writes are not counted: they need the token, and one write at a time runs anyway. `/health`,
`/jobs/{id}`, `/openapi.json` and static files are not counted either: monitors and pollers ask cheap
questions often.

Who the client is: the connection's address, or, behind a reverse proxy named by
`ARCHIVE_TRUSTED_PROXIES`, the address uvicorn reads from its `X-Forwarded-For`. IPv6 clients are
counted per /64, the block one subscriber gets. Loopback clients (`make run`, a script or a notebook on
the server itself) are not counted unless a proxy is trusted: behind a proxy on the same machine every
request would otherwise come from loopback, and the proxy's own requests must not escape the limit.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections.abc import Awaitable, Callable

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import Response

from .errors import HttpError

Endpoint = Callable[[Request], Awaitable[Response]]

SWEEP_EVERY = 10_000
"""Checks between two sweeps of the clients with nothing left in their window: `limits`' memory storage
trims a client's window as it expires but keeps its (empty) entry, one per address ever seen, and a
public service sees millions of addresses. A sweep walks the entries of the clients seen since the last
one and of those still counted: milliseconds, every ten thousand requests."""

_FRENCH_UNITS = {
    "second": ("seconde", "secondes"),
    "minute": ("minute", "minutes"),
    "hour": ("heure", "heures"),
    "day": ("jour", "jours"),
    "month": ("mois", "mois"),
    "year": ("an", "ans"),
}


class FairUse:
    """The per-client limits of one application (none when `limit` is None)."""

    def __init__(self, limit: str | None, trusted_proxies: tuple[str, ...] = ()) -> None:
        self.items: list[RateLimitItem] = parse_many(limit) if limit else []
        self.exempt_loopback = not trusted_proxies
        self._limiter: MovingWindowRateLimiter | None = None
        self._storage: MemoryStorage | None = None
        self._checks = 0

    def check(self, request: Request) -> None:
        """Count one request of its client; HttpError 429 (with Retry-After) when past a limit."""
        if not self.items:
            return
        host = request.client.host if request.client else None
        if self.exempt_loopback and (host is None or _loopback(host)):  # None: a Unix socket, local too
            return
        if self._limiter is None:
            self._storage = MemoryStorage()
            self._limiter = MovingWindowRateLimiter(self._storage)
        self._checks += 1
        if self._checks % SWEEP_EVERY == 0:
            self._sweep()
        key = client_key(host or "-")
        for item in self.items:
            if not self._limiter.hit(item, key):
                reset, _ = self._limiter.get_window_stats(item, key)
                raise too_many(item, max(1, math.ceil(reset - time.time())))

    def _sweep(self) -> None:
        """Drop the clients whose window is empty. Safe beside the storage's expiry thread: it only ever
        shortens a non-empty window, and windows grow only in `check`, on this thread."""
        events: dict[str, list[object]] = getattr(self._storage, "events", {})
        for key, window in list(events.items()):
            if not window:
                events.pop(key, None)


def limited(endpoint: Endpoint) -> Endpoint:
    """`endpoint`, each request counted against its client's limits first (`FairUse.check`)."""

    @functools.wraps(endpoint)
    async def counted(request: Request) -> Response:
        fair_use: FairUse | None = getattr(request.app.state, "fair_use", None)
        if fair_use is not None:
            fair_use.check(request)
        return await endpoint(request)

    return counted


def too_many(item: RateLimitItem, retry_after: int) -> HttpError:
    """The 429 answer: JSON for programs, a French page for people, `Retry-After` for both."""
    unit = item.GRANULARITY.name
    french_unit = _FRENCH_UNITS.get(unit, (unit, unit))
    period = f"{item.multiples} {french_unit[1]}" if item.multiples > 1 else french_unit[0]
    return HttpError(
        429,
        "rate_limited",
        f"too many requests from this address: at most {item}; try again in {retry_after} s",
        f"Trop de demandes depuis votre adresse : au plus {item.amount} par {period}. "
        f"Réessayez dans {retry_after} s.",
        headers={"Retry-After": str(retry_after)},
    )


def client_key(host: str) -> str:
    """Who is counted: an IPv4 address, an IPv6 /64 (IPv4-mapped addresses as IPv4), else the name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
