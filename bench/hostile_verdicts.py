"""The bounds `bench.hostile` checks: one verdict per promise the service makes, from a run's samples."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import NamedTuple

from archive import DEFAULT_SEARCH_THREADS as SEARCH_THREADS
from archive import SEARCH_DEADLINE, budget

from .hostile_archive import Adds
from .hostile_requests import HEAVY_CLIENTS, Plan, Recorder, Sample

SLACK = 1.0  # seconds past the deadline for what follows matching (ranking, facets, highlights, JSON)
LIMIT = SEARCH_DEADLINE + SLACK  # what a search may hold a thread for
WAIT = -(-HEAVY_CLIENTS // SEARCH_THREADS) * LIMIT  # the longest a one-word search waits behind them
NAN = float("nan")


def fmt_seconds(seconds: float) -> str:
    """A duration as read in the tables: ms below a second, – for none (nan)."""
    if seconds != seconds:  # nan
        return "–"
    return (
        f"{seconds * 1000:.1f} ms"
        if seconds < 0.1
        else (f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s")
    )


def fmt_bytes(n: int) -> str:
    """A size in kB, or in MB from 1 MB."""
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB"


def fmt_statuses(samples: list[Sample]) -> str:
    """How many samples had each HTTP status: `200: 38, 503: 2`."""
    return ", ".join(f"{k}: {v}" for k, v in sorted(collections.Counter(s.status for s in samples).items()))


@dataclass
class Run:
    """Everything the report needs."""

    meta: dict[str, str]
    info: dict[str, object]
    heavy: dict[str, str]
    rec: Recorder
    plan: Plan
    adds: Adds
    memory: dict[str, float]
    server_errors: collections.Counter[str]
    export_total: str
    page_number: int


def heavy_samples(r: Run) -> list[tuple[str, Sample]]:
    """Every heavy search sent, alone and under load, with its kind."""
    return [(k, s) for k in r.heavy for name in ("heavy alone:", "heavy:") for s in r.rec[name + k]]


class Verdict(NamedTuple):
    """One promise checked on this run: does it hold, and what was measured."""

    bound: str
    holds: bool
    measured: str
    explained: bool = False  # `findings` says more about it than the verdict when it does not hold


def verdicts(r: Run) -> list[Verdict]:
    """For every promise this run can check: does it hold, and what was measured."""
    return [
        _nothing_starves(r),
        _waits_bounded(r),
        _deadline_holds(r),
        _flood_refused(r),
        _exports_bounded(r),
        _pages_served(r),
        _adds_bounded(r),
    ]


def _nothing_starves(r: Run) -> Verdict:
    searches, health = r.rec["search under load"], r.rec["/health under load"]
    slowest = max((s.seconds for s in searches), default=NAN)
    return Verdict(
        f"Nothing starves: a one-word search and `/health` are answered while {HEAVY_CLIENTS} clients send "
        "heavy requests",
        bool(searches and health) and all(s.status == 200 for s in searches + health),
        f"{len(searches) + len(health)} answered, statuses {fmt_statuses(searches + health)}; slowest search "
        f"{fmt_seconds(slowest)}, slowest /health {fmt_seconds(max((s.seconds for s in health), default=NAN))}",
    )


def _waits_bounded(r: Run) -> Verdict:
    searches = r.rec["search under load"]
    slowest = max((s.seconds for s in searches), default=NAN)
    return Verdict(
        f"(derived) A one-word search waits at most for the heavy searches ahead of it: {HEAVY_CLIENTS} "
        f"clients, {SEARCH_THREADS} search threads in arrival order, {SEARCH_DEADLINE:g} s each (+{SLACK:g} s "
        f"to rank and render): {WAIT:g} s",
        slowest <= WAIT,
        f"slowest of {len(searches)}: {fmt_seconds(slowest)} ({slowest / WAIT:.1f}× the {WAIT:g} s)",
        explained=True,
    )


def _deadline_holds(r: Run) -> Verdict:
    heavy = heavy_samples(r)
    over = [(k, s) for k, s in heavy if (s.took_ms or 0) > LIMIT * 1000 and not s.partial]
    worst = max(over, key=lambda ks: ks[1].took_ms or 0.0) if over else None
    return Verdict(
        f"Matching stops after {SEARCH_DEADLINE:g} s: any query text holds a search thread about "
        f"{SEARCH_DEADLINE:g} s at most (+{SLACK:g} s to rank and render), or its answer says « recherche "
        "arrêtée »",
        bool(heavy) and not over and all(s.status == 200 for _, s in heavy),
        f"{len(heavy)} heavy searches, statuses {fmt_statuses([s for _, s in heavy])}; "
        + (
            f"{len(over)} took over {LIMIT:g} s in the server (`took_ms`) without the note, from "
            f"{len({k for k, _ in over})} kinds; worst {(worst[1].took_ms or 0) / 1000:.1f} s ({worst[0]})"
            if worst
            else f"none took over {LIMIT:g} s in the server without the note"
        ),
        explained=True,
    )


def _flood_refused(r: Run) -> Verdict:
    flood = r.rec["facet flood"]
    return Verdict(
        "At most 20 values of one facet: the 1,700-value flood answers 400 naming the facet",
        bool(flood) and all(s.status == 400 and s.detail == "bad_parameter (year)" for s in flood),
        f"{len(flood)} floods: {fmt_statuses(flood)}, {', '.join(sorted({s.detail for s in flood}))}; slowest "
        f"{fmt_seconds(max((s.seconds for s in flood), default=NAN))}",
    )


def _exports_bounded(r: Run) -> Verdict:
    exports = r.rec["export alone"] + r.rec["export, 4 at once"] + r.rec["export, the 4 held"]
    fifth = r.rec["export, a 5th while 4 stream"]
    return Verdict(
        "At most 4 exports stream at once: a 5th answers 503 with Retry-After; an export stops at 10,000 rows",
        bool(fifth and exports)
        and all(s.status == 503 and s.detail for s in fifth)
        and all(s.status == 200 and s.detail.startswith("10000 rows") for s in exports),
        f"the 5th: {fmt_statuses(fifth)}, Retry-After {', '.join(sorted({s.detail for s in fifth}))}; "
        f"{len(exports)} exports: {', '.join(sorted({s.detail.split(',')[0] for s in exports}))}",
    )


def _pages_served(r: Run) -> Verdict:
    pages = r.rec["document page (JSON)"] + r.rec["document page (HTML)"]
    return Verdict(
        "A document is served 200 passages per page; `?p=15000` opens the page holding passage 15000",
        bool(pages) and all(s.status == 200 and s.detail == "ok" for s in pages),
        f"{len(pages)} pages: {fmt_statuses(pages)}, largest {fmt_bytes(max((s.size for s in pages), default=0))}",
    )


def _adds_bounded(r: Run) -> Verdict:
    adds = [(size, a) for size, runs in r.adds.values() for a in runs]
    return Verdict(
        "Degenerate files are added or refused with a reason, each read within its budget (2.5 s + 10 s per "
        "MB of the reader's CPU; checked here on the CPU of the whole command, reader included)",
        bool(adds) and all(a.code in (0, 1) and a.cpu <= budget(size) for size, a in adds),
        "; ".join(
            f"{n}: {runs[0].outcome.split(' ', 1)[0]}, CPU {fmt_seconds(max(a.cpu for a in runs))} at most (budget "
            f"{budget(size):.1f} s)"
            for n, (size, runs) in r.adds.items()
            if runs
        ),
    )
