"""One frozen settings object, read from `ARCHIVE_*` environment variables and overridden by CLI flags."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import SettingsError

DEFAULT_RATE_LIMIT = "600/minute"
"""Reads one client may make: ten a second, over a minute. A person clicking through facets makes one
every few seconds, and a script walking every result 100 hits a page reads 60,000 passages a minute;
a bot requesting facet combinations as fast as it can (two search threads serve about 90 searches a
second) is held to a ninth of the service."""

DEFAULT_SEARCH_THREADS = 2
"""Searches run in at most this many threads, the others wait their turn in arrival order.

A search is Python and numpy under one interpreter lock: sixteen of them in sixteen threads share it
unfairly (the slowest waited a second at 90 searches/s), while a short first-come, first-served queue
answers as many per second with a bounded wait.
"""

ENVIRONMENT: dict[str, str] = {
    "ARCHIVE_HOME": "the archive home: holds documents/, index/ and an optional taxonomy.toml (default: .)",
    "ARCHIVE_TOKEN": "bearer token that enables writing over HTTP (upload, delete, reindex); unset: writing is off",
    "ARCHIVE_MAX_FILE_MB": "largest file accepted by add, reindex and upload, in MB (default 50)",
    "ARCHIVE_MAX_UPLOAD_MB": "largest HTTP upload request body, in MB (default 50)",
    "ARCHIVE_PASSAGE_MIN_WORDS": "passages shorter than this are merged with their neighbour (default 40)",
    "ARCHIVE_PASSAGE_MAX_WORDS": "passages longer than this are split at sentences (default 200)",
    "ARCHIVE_BASE_URL": "public URL of the service (e.g. https://archive.example.org) for absolute links in "
    "exports; unset: links are relative, never built from the request's Host header",
    "ARCHIVE_TRUSTED_PROXIES": "comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto "
    "headers are believed (default: none)",
    "ARCHIVE_RATE_LIMIT": "searches, document pages and exports one client address may ask for, e.g. 600/minute "
    "or 10/second;600/minute; beyond, 429 with Retry-After; 0 or off: no limit. Loopback is exempt unless "
    f"ARCHIVE_TRUSTED_PROXIES is set (default {DEFAULT_RATE_LIMIT})",
    "ARCHIVE_CORS_ORIGINS": "comma-separated origins (https://dashboard.example.org) whose pages may read the "
    "API from a browser, or * for any; reads only, never writes (default: none)",
    "ARCHIVE_WRITE_WAIT": "seconds an HTTP upload or delete waits for another writer before answering 409 "
    "(default 5)",
    "ARCHIVE_REINDEX_WAIT": "seconds a reindex job started over HTTP waits for another writer before failing "
    "as busy (default 10)",
    "ARCHIVE_SEARCH_THREADS": "searches the service runs at once, the others waiting their turn in arrival "
    f"order (default {DEFAULT_SEARCH_THREADS})",
    "ARCHIVE_EXPORT_LIMIT": "most passages one CSV export holds (default 10000)",
    "ARCHIVE_EXTRACTION_CACHE": "keep what the readers made of each file in index/extracted/ so that a rebuild "
    "does not read it again: on, or off to read every file each time (default on)",
    "ARCHIVE_SCHEDULER": "address of a Dask scheduler (tcp://HOST:8786 or tls://HOST:8786) whose workers "
    "prepare the documents of add and reindex; unset: they are prepared on this machine",
    "ARCHIVE_INGEST_WORKERS": "worker processes that read, split, analyse and tag files in add, upload and "
    "reindex, beside the one writing the index; 1: one document at a time, as before (default: the number "
    "of cores)",
}
"""Every setting the environment can give, with its help text (a test keeps this and the README in step)."""


@dataclass(frozen=True)
class Settings:
    """Everything an archive and its service are configured with: the home and the runtime knobs."""

    home: Path
    token: str | None = None
    max_file_bytes: int = 50 * 1024 * 1024
    max_upload_bytes: int = 50 * 1024 * 1024
    passage_min_words: int = 40
    passage_max_words: int = 200
    base_url: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    rate_limit: str | None = DEFAULT_RATE_LIMIT  # in `limits`' notation; None: no limit
    write_wait: float = 5.0  # seconds an HTTP write waits for another writer
    reindex_wait: float = 10.0  # seconds a reindex job waits for another writer
    search_threads: int = DEFAULT_SEARCH_THREADS
    export_limit: int = 10_000  # passages in one CSV export
    extraction_cache: bool = True  # index/extracted/: see extracted.py
    scheduler: str | None = None  # a Dask scheduler's address; None: documents are prepared here
    ingest_workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # processes preparing files

    @property
    def documents_dir(self) -> Path:
        """Where the originals are stored."""
        return self.home / "documents"

    @property
    def index_dir(self) -> Path:
        """Where the index generations live."""
        return self.home / "index"

    @property
    def taxonomy_path(self) -> Path:
        """The home's own taxonomy, which extends the default one when it exists."""
        return self.home / "taxonomy.toml"

    @property
    def manifest_path(self) -> Path:
        """The fixity manifest of the originals."""
        return self.documents_dir / "manifest-sha256.txt"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from the environment (`os.environ` by default); keyword arguments win."""
        env = os.environ if env is None else env
        settings = cls(
            home=Path(env.get("ARCHIVE_HOME") or ".").resolve(),
            token=env.get("ARCHIVE_TOKEN") or None,
            max_file_bytes=_megabytes(env, "ARCHIVE_MAX_FILE_MB", 50),
            max_upload_bytes=_megabytes(env, "ARCHIVE_MAX_UPLOAD_MB", 50),
            passage_min_words=_integer(env, "ARCHIVE_PASSAGE_MIN_WORDS", 40),
            passage_max_words=_integer(env, "ARCHIVE_PASSAGE_MAX_WORDS", 200),
            base_url=_base_url(env.get("ARCHIVE_BASE_URL")),
            trusted_proxies=tuple(
                a.strip() for a in (env.get("ARCHIVE_TRUSTED_PROXIES") or "").split(",") if a.strip()
            ),
            cors_origins=_origins(env.get("ARCHIVE_CORS_ORIGINS")),
            rate_limit=_rate_limit(env.get("ARCHIVE_RATE_LIMIT")),
            write_wait=_seconds(env, "ARCHIVE_WRITE_WAIT", cls.write_wait),
            reindex_wait=_seconds(env, "ARCHIVE_REINDEX_WAIT", cls.reindex_wait),
            search_threads=_integer(env, "ARCHIVE_SEARCH_THREADS", DEFAULT_SEARCH_THREADS),
            export_limit=_integer(env, "ARCHIVE_EXPORT_LIMIT", cls.export_limit),
            extraction_cache=_switch(env, "ARCHIVE_EXTRACTION_CACHE", cls.extraction_cache),
            scheduler=scheduler_address(env.get("ARCHIVE_SCHEDULER")),
            ingest_workers=_integer(env, "ARCHIVE_INGEST_WORKERS", os.cpu_count() or 1),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        if "scheduler" in given:  # `--scheduler` is held to the same rule as the variable
            given["scheduler"] = scheduler_address(str(given["scheduler"]), "--scheduler")
        if "home" in given:
            given["home"] = Path(str(given["home"])).resolve()
        return replace(settings, **given)  # type: ignore[arg-type]


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(name, f"{name} must be positive, not {raw!r}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"{name} must be a number of seconds, not {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise SettingsError(name, f"{name} must be a number of seconds, 0 or more, not {raw!r}")
    return value


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "on", "true", "yes"):
        return True
    if raw in ("0", "off", "false", "no"):
        return False
    raise SettingsError(name, f"{name} must be on or off, not {env.get(name)!r}")


def _megabytes(env: Mapping[str, str], name: str, default: int) -> int:
    return _integer(env, name, default) * 1024 * 1024


def _base_url(raw: str | None) -> str | None:
    """`https://host[:port][/prefix]` without its trailing slash, or None when unset."""
    if not raw or not raw.strip():
        return None
    from urllib.parse import urlsplit

    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(
            "ARCHIVE_BASE_URL",
            f"ARCHIVE_BASE_URL must be an http(s) URL like https://archive.example.org, not {raw!r}",
        )
    return value


_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")


def _origins(raw: str | None) -> tuple[str, ...]:
    """Browser origins allowed to read the API: `scheme://host[:port]` each, or `*` alone; () when unset."""
    # Browsers send an origin's scheme and host in lower case, without a path or a trailing slash.
    origins = tuple(dict.fromkeys(o.strip().lower() for o in (raw or "").split(",") if o.strip()))
    if "*" in origins and len(origins) > 1:
        raise SettingsError(
            "ARCHIVE_CORS_ORIGINS",
            f"ARCHIVE_CORS_ORIGINS: * already allows every origin, list no others: {raw!r}",
        )
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise SettingsError(
                "ARCHIVE_CORS_ORIGINS",
                "ARCHIVE_CORS_ORIGINS must list origins like https://dashboard.example.org or "
                f"http://localhost:8888 (scheme://host[:port], no path), or be *, not {origin!r}",
            )
    return origins


def _rate_limit(raw: str | None) -> str | None:
    """A per-client limit in the notation of the `limits` library (`600/minute`, `10/second;600/minute`),
    DEFAULT_RATE_LIMIT when unset, None when `0` or `off`."""
    if raw is None or not raw.strip():
        return DEFAULT_RATE_LIMIT
    value = raw.strip()
    if value.lower() in ("0", "off", "none"):
        return None
    from limits import parse_many  # only when set: nothing heavy at import

    try:
        amounts = [item.amount for item in parse_many(value)]
    except ValueError:
        amounts = []
    if not amounts:
        raise SettingsError(
            "ARCHIVE_RATE_LIMIT",
            f"ARCHIVE_RATE_LIMIT must be like 600/minute, 10/second or 10/second;600/minute, or off, not {raw!r}",
        )
    if min(amounts) < 1:
        raise SettingsError(
            "ARCHIVE_RATE_LIMIT",
            f"ARCHIVE_RATE_LIMIT: a limit of 0 would refuse everything; use off for none, not {raw!r}",
        )
    return value


_SCHEDULER = re.compile(
    r"(?:tcp|tls)://(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})"
)


def scheduler_address(raw: str | None, name: str = "ARCHIVE_SCHEDULER") -> str | None:
    """A Dask scheduler's address, `tcp://host:port` or `tls://host:port`; None when unset or empty."""
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    found = _SCHEDULER.fullmatch(value)
    if found is None or not 0 < int(found.group(1)) < 65536:
        raise SettingsError(
            "ARCHIVE_SCHEDULER",
            f"{name} must be a Dask scheduler's address like tcp://10.0.0.5:8786 or tls://cluster.example.org:8786, "
            f"not {raw!r}",
        )
    return value
