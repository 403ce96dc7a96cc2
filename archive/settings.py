"""One frozen settings object, read from `ARCHIVE_*` environment variables and overridden by CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

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
