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


def _ingest_skip_reason() -> str | None:
    from bench import ingest_corpus

    if not corpus.available():
        return f"benchmark corpus absent: {corpus.CORPUS_DIR} not found"
    if ingest_corpus.font_dir() is None:
        return "DejaVu Sans not installed (fonts-dejavu-core): the ingest benchmark cannot write its PDFs"
    return None


def test_bench_ingest_smoke(tmp_path: Path) -> None:
    """`make bench-ingest` at 4 files, one run: the generator, the floor, add and both reindexes."""
    reason = _ingest_skip_reason()
    if reason:
        pytest.skip(reason)
    from bench import ingest

    out = tmp_path / "results"
    argv = [
        "--files",
        "4",
        "--repeat",
        "1",
        "--warmup",
        "0",
        "--skip",
        "formats,memory,cluster,serve",
        "--no-render",
    ]
    result = ingest.main([*argv, "--work", str(tmp_path / "work"), "--out", str(out)])
    mix = result["mix"]
    assert set(mix["floor"][0]["formats"]) == {"html", "pdf", "md", "txt"}
    assert all(f["rejected"] == 0 and f["chars"] > 0 for f in mix["floor"][0]["formats"].values())
    add = mix["add"][0]
    assert add["returncode"] == 0 and add["documents"] == 4 and add["passages"] > 4, add
    assert mix["taxonomy"][0]["passages"] == add["passages"] and mix["taxonomy"][0]["tagged_by_edit"] >= 0
    assert mix["unchanged"][0]["returncode"] == 0
    assert len(mix["add_one"]) == (1 if result["features"]["add_workers"] else 0)
    text = (out / "ingest.md").read_text("utf-8")
    assert "| `archive add` of the mix ÷ its bare extraction | ≤ 2.0× |" in text
    assert "[agency.jld]" in (tmp_path / "work" / "homes" / "mix" / "taxonomy.toml").read_text("utf-8")
