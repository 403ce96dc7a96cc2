"""The benchmark harness (bench/) on a tiny sample: it runs, and its numbers are sane."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import corpus


@pytest.mark.skipif(not corpus.available(), reason=f"benchmark corpus absent: {corpus.CORPUS_DIR} not found")
def test_bench_smoke(tmp_path: Path) -> None:
    from bench import smoke

    result = smoke.smoke(tmp_path)
    assert result["build"]["archive"]["passages"] == smoke.PASSAGES  # type: ignore[index]
