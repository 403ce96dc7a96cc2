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
