"""One peer, one phase, one process: so that peak memory and timings belong to that peer alone.

python -m bench.worker build  --peer whoosh --data bench/data/20000/data.pkl --dir DIR --out build.json
python -m bench.worker search --peer whoosh --dir DIR --queries bench/queries.json --out search.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import resource
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from . import queries as queries_mod
from .peers import make


def answer_digest(r: Any) -> str:
    """A digest of the exact total, the facet values with their counts, and the hit ids in order.

    Two runs agree on a query when their digests are equal: what a refactoring must keep (issue 12).
    """
    facets = {
        name: sorted((str(k), int(v)) for k, v in dict(values).items()) for name, values in r.facets.items()
    }
    body = json.dumps([r.total, sorted(facets.items()), [i for i, _h in r.hits]], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def shown_digest(r: Any) -> str:
    """A digest of what the hits show: each one's highlighted text and excerpts (`answer_digest` leaves
    them out). Two runs of the same answers show the same text when their digests are equal."""
    body = json.dumps([[h for _i, h in r.hits], [list(e) for e in r.excerpts]], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM); ru_maxrss would keep the parent's peak across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ChildrenPeak:
    """The largest VmHWM seen among this process's children (our helper indexing process), polled.

    RUSAGE_CHILDREN would not do: a spawned child's ru_maxrss keeps the peak its forked copy of this
    process had before exec. VmHWM belongs to the child's own memory map.
    """

    def __init__(self, every: float = 0.2) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(every,), daemon=True)
        self._thread.start()

    def _poll(self, every: float) -> None:
        me = os.getpid()
        while not self._stop.wait(every):
            try:
                children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
            except OSError:
                continue
            for pid in children:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)

    def stop(self) -> float:
        """Stop polling; the peak seen, in MB."""
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def dir_size(path: Path) -> int:
    """Bytes of every file under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build(peer_name: str, data: Path, directory: Path) -> dict[str, object]:
    """Build one peer's index from the prepared passages; its time, size and memory."""
    with open(data, "rb") as f:
        documents, passages = pickle.load(f)
    peer = make(peer_name)
    rss_before = _peak_rss_mb()
    children = ChildrenPeak()
    started = time.perf_counter()
    peer.build(directory, documents, passages)
    seconds = time.perf_counter() - started
    children_peak = children.stop()
    return {
        "peer": peer_name,
        "description": peer.description,
        "passages": len(passages),
        "seconds": seconds,
        "passages_per_s": len(passages) / seconds,
        "index_bytes": dir_size(directory),
        "peak_rss_mb": _peak_rss_mb(),
        "children_peak_rss_mb": children_peak,  # our second indexing process; 0 if none
        "rss_before_build_mb": rss_before,
    }


def search(
    peer_name: str, directory: Path, queries_file: Path, warmup: int, repeat: int = 1
) -> dict[str, object]:
    """Run the query mix on one peer's index after a warm-up; one row per query. With `repeat`, the mix
    runs that many times over and a query's `ms` is the median of its times (`ms_all` lists them)."""
    mix = queries_mod.load(queries_file)
    peer = make(peer_name)
    started = time.perf_counter()
    peer.open(directory)
    opened = time.perf_counter() - started
    for q in mix[:warmup]:
        peer.search(q)
    warm = time.perf_counter() - started
    times: list[list[float]] = [[] for _ in mix]
    cpu: list[list[float]] = [[] for _ in mix]  # this process's CPU time: less swayed by a busy machine
    last: list[Any] = [None] * len(mix)  # each query's response (of the last run)
    for _ in range(max(1, repeat)):  # the whole mix each time, so that a slow moment spreads over queries
        for i, q in enumerate(mix):
            t0, c0 = time.perf_counter(), time.process_time()
            last[i] = peer.search(q)
            times[i].append((time.perf_counter() - t0) * 1000)
            cpu[i].append((time.process_time() - c0) * 1000)
    rows: list[dict[str, object]] = []
    for q, ms, cpu_ms, r in zip(mix, times, cpu, last, strict=True):
        rows.append(
            {
                "id": q.id,
                "class": q.cls,
                "ms": statistics.median(ms),
                "cpu_ms": statistics.median(cpu_ms),
                **({"ms_all": ms} if len(ms) > 1 else {}),
                "total": r.total,
                "hits": len(r.hits),
                "highlighted": sum("<" in h for _i, h in r.hits),
                "facet_values": sum(len(v) for v in r.facets.values()),
                "facets": len(r.facets),
                "answer": answer_digest(r),
                "shown": shown_digest(r),
            }
        )
    return {
        "peer": peer_name,
        "open_s": opened,
        "warmup_s": warm,
        "warmup_queries": warmup,
        "repeat": max(1, repeat),
        "peak_rss_mb": _peak_rss_mb(),
        "queries": rows,
    }


def main() -> None:
    """Command line: one phase of one peer."""
    p = argparse.ArgumentParser()
    p.add_argument("phase", choices=("build", "search"))
    p.add_argument("--peer", required=True)
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--data", type=Path)
    p.add_argument("--queries", type=Path, default=queries_mod.QUERIES_FILE)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeat", type=int, default=1, help="runs of the mix; a query's ms is its median")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    result = (
        build(a.peer, a.data, a.dir) if a.phase == "build" else search(a.peer, a.dir, a.queries, a.warmup, a.repeat)
    )
    a.out.write_text(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
