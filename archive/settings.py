"""One frozen settings object, read from `ARCHIVE_*` environment variables and overridden by CLI flags."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_RATE_LIMIT = "600/minute"
"""Reads one client may make: ten a second, over a minute. A person clicking through facets makes one
every few seconds, and a script walking every result 100 hits a page reads 60,000 passages a minute;
a bot requesting facet combinations as fast as it can (two search threads serve about 90 searches a
second) is held to a ninth of the service."""

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
}
"""Every setting the environment can give, with its help text (a test keeps this and the README in step)."""


@dataclass(frozen=True)
class Settings:
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

    @property
    def documents_dir(self) -> Path:
        return self.home / "documents"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def taxonomy_path(self) -> Path:
        return self.home / "taxonomy.toml"

    @property
    def manifest_path(self) -> Path:
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
        )
        given = {k: v for k, v in overrides.items() if v is not None}
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
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {raw!r}")
    return value


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
        raise ValueError(f"ARCHIVE_BASE_URL must be an http(s) URL like https://archive.example.org, not {raw!r}")
    return value


_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")


def _origins(raw: str | None) -> tuple[str, ...]:
    """Browser origins allowed to read the API: `scheme://host[:port]` each, or `*` alone; () when unset."""
    # Browsers send an origin's scheme and host in lower case, without a path or a trailing slash.
    origins = tuple(dict.fromkeys(o.strip().lower() for o in (raw or "").split(",") if o.strip()))
    if "*" in origins and len(origins) > 1:
        raise ValueError(f"ARCHIVE_CORS_ORIGINS: * already allows every origin, list no others: {raw!r}")
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ValueError(
                "ARCHIVE_CORS_ORIGINS must list origins like https://dashboard.example.org or "
                f"http://localhost:8888 (scheme://host[:port], no path), or be *, not {origin!r}"
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
        raise ValueError(
            f"ARCHIVE_RATE_LIMIT must be like 600/minute, 10/second or 10/second;600/minute, or off, not {raw!r}"
        )
    if min(amounts) < 1:
        raise ValueError(f"ARCHIVE_RATE_LIMIT: a limit of 0 would refuse everything; use off for none, not {raw!r}")
    return value
