"""A tiny benchmark run (about 500 passages of codes-penal-domain, a handful of queries, every installed
peer) that checks the harness produces sane numbers. Seconds, not minutes: run by `make test`.

    .venv/bin/python -m bench.smoke
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from . import queries, report, run
from .peers import PEERS, installed

PASSAGES = 500
PER_CLASS = 1


def pick(mix: list[queries.Query]) -> list[queries.Query]:
    """The first queries of every class."""
    out: list[queries.Query] = []
    for cls in report.CLASSES:
        out += [q for q in mix if q.cls == cls][:PER_CLASS]
    return out


def smoke(work: Path) -> dict[str, object]:
    """A tiny run of every installed peer in `work`, checked: its results."""
    chosen = pick(queries.load())
    queries_file = work / "queries.json"
    queries.save(chosen, queries_file)
    peers = [p for p in PEERS if installed(p)]
    result = run.run(
        PASSAGES,
        peers,
        work / "indexes",
        0,
        queries_file,
        domain_only=True,
        results_dir=work / "results",
        render=False,
    )
    check(result, peers, len(chosen))
    return result


def check(result: dict[str, object], peers: list[str], n_queries: int) -> None:
    """Assert the numbers a run produces make sense; raises AssertionError with the reason."""
    build: dict[str, dict[str, float]] = result["build"]  # type: ignore[assignment]
    search: dict[str, dict[str, object]] = result["search"]  # type: ignore[assignment]
    assert set(build) == set(peers) == set(search), (sorted(build), sorted(search), peers)
    for peer in peers:
        b = build[peer]
        assert b["passages"] == PASSAGES, (peer, b["passages"])
        assert b["passages_per_s"] > 0 and b["index_bytes"] > 0 and b["peak_rss_mb"] > 0, (peer, b)
        rows: list[dict[str, float]] = search[peer]["queries"]  # type: ignore[assignment]
        assert len(rows) == n_queries, (peer, len(rows))
        for r in rows:
            assert 0 < r["ms"] < 60_000, (peer, r)
            assert 0 <= r["hits"] <= min(10, r["total"]), (peer, r)
            assert r["facets"] == 5, (peer, r)
            if r["total"]:
                assert r["facet_values"] > 0, (peer, r)
        assert any(r["total"] > 0 for r in rows), f"{peer} found nothing at all"
        assert sum(r["highlighted"] for r in rows) > 0, f"{peer} highlighted nothing"
    text = "\n".join(report.scale_section(json.loads(json.dumps(result))))
    assert "our archive" in text and "×" in text


def main() -> None:
    """Run the smoke benchmark in a temporary folder and print its section."""
    with tempfile.TemporaryDirectory() as tmp:
        result = smoke(Path(tmp))
        print("\n".join(report.scale_section(result)))
        print("bench smoke: OK")


if __name__ == "__main__":
    main()
