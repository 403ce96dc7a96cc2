"""bench/results/ingest.md from ingest.json: the targets of issue 15, then every step's figures.

Ratios are taken pair by pair within one run (the n-th add against the n-th bare extraction, run one after
the other), and the median pair is quoted with the lowest and highest: the machine is shared, and pairing
keeps a ratio meaningful when its speed drifts.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from .ingest_steps import NOT_AVAILABLE
from .measure import summary

Row = dict[str, Any]


def ratios(top: list[Row], bottom: list[Row], key: str = "wall_s") -> list[float]:
    """top[i][key] ÷ bottom[i][key], pair by pair."""
    return [a[key] / b[key] for a, b in zip(top, bottom, strict=False) if b[key]]


def _spread(values: list[float], unit: str = "×", digits: int = 2) -> str:
    if not values:
        return "–"
    s = summary(values)
    if s["n"] == 1:
        return f"{s['median']:.{digits}f}{unit}"
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}–{s['max']:.{digits}f}, {s['n']} pairs)"


def _verdict(values: list[float], ok: Callable[[float], bool]) -> str:
    if not values:
        return "not measured"
    return "**met**" if ok(statistics.median(values)) else "**not met**"


def targets(res: dict[str, Any]) -> list[str]:
    """The issue's five targets: limit, measured (median pair, on wall seconds), met or not; beside the
    ratios of one process against another, the same ratio on CPU seconds, which other work on the
    machine stretches less."""
    mix, feats = res["mix"], res["features"]
    lines = [
        "| target (issue 15, this 2-core machine) | limit | measured (wall seconds) | same on CPU seconds | met? |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    add_floor = ratios(mix["add"], mix["floor"])
    lines.append(
        f"| `archive add` of the mix ÷ its bare extraction | ≤ 2.0× | {_spread(add_floor)} | "
        f"{_spread(ratios(mix['add'], mix['floor'], 'cpu_s'))} | {_verdict(add_floor, lambda r: r <= 2.0)} |"
    )
    tax = ratios(mix["taxonomy"], mix["add"])
    lines.append(
        f"| reindex after a taxonomy edit ÷ the first add | ≤ 0.5× | {_spread(tax)} | "
        f"{_spread(ratios(mix['taxonomy'], mix['add'], 'cpu_s'))} | {_verdict(tax, lambda r: r <= 0.5)} |"
    )
    one = ratios(mix["add_one"], mix["add"])
    measured = _spread(one) if feats.get("add_workers") else f"`--workers`: {NOT_AVAILABLE}"
    lines.append(
        f"| `add --workers 1` ÷ `add` on all cores | ≥ 1.6× | {measured} | – | {_verdict(one, lambda r: r >= 1.6)} |"
    )
    lines.append(_serve_target(res.get("serve", {})))
    lines.append(_memory_target(res.get("memory", {})))
    return lines


def _serve_target(serve: dict[str, Any]) -> str:
    head = "| `serve --workers 2` ÷ `--workers 1`, requests/s, zero errors | ≥ 1.3× |"
    if "skipped" in serve or not serve:
        return f"{head} {serve.get('skipped', 'not run')} | – | not measured |"
    if not serve["2"]:
        return f"{head} {serve.get('note', NOT_AVAILABLE)} | – | not measured |"
    r = ratios(serve["2"], serve["1"], "requests_per_s")
    errors = sum(x["non_2xx"] + x["socket_errors"] for x in serve["1"] + serve["2"])
    ok = bool(r) and statistics.median(r) >= 1.3 and errors == 0
    return f"{head} {_spread(r)}, {errors:.0f} errors | – | {'**met**' if ok else '**not met**'} |"


def _memory_target(mem: dict[str, Any]) -> str:
    head = "| peak memory of `add`, 10× the files ÷ 1× | ≤ 1.5× |"
    if not mem or "skipped" in mem:
        return f"{head} {mem.get('skipped', 'not run')} | – | not measured |"
    small, large = (mem[str(n)]["add"] for n in mem["sizes"])
    r = large["tree_peak_mb"] / small["tree_peak_mb"]
    single = large["max_single_mb"] / small["max_single_mb"]
    return (
        f"{head} {r:.2f}× (process tree: {large['tree_peak_mb']:,.0f} ÷ {small['tree_peak_mb']:,.0f} MB; largest "
        f"process {single:.2f}×), {mem['sizes'][1]:,} ÷ {mem['sizes'][0]:,} files | – | "
        f"{'**met**' if r <= 1.5 else '**not met**'} |"
    )


def _cmd_row(name: str, runs: list[Row]) -> list[str]:
    wall = summary([r["wall_s"] for r in runs])
    cpu = summary([r["cpu_s"] for r in runs])
    passages = runs[-1].get("passages")
    tree = summary([r["tree_peak_mb"] for r in runs])["median"]
    single = summary([r["max_single_mb"] for r in runs])["median"]
    return [
        name,
        f"{wall['median']:.1f} s ({wall['min']:.1f}–{wall['max']:.1f})",
        f"{cpu['median']:.1f} s ({cpu['median'] / wall['median']:.0%})",
        f"{passages / wall['median']:,.0f}" if passages else "–",
        f"{tree:,.0f} MB / {single:,.0f} MB",
    ]


def commands(res: dict[str, Any]) -> list[str]:
    """Every command of the mix: wall and CPU seconds, passages/s, memory."""
    mix, feats, n = res["mix"], res["features"], res["settings"]["workers"]
    w = f" --workers {n}" if feats.get("add_workers") else ""
    wr = f" --workers {n}" if feats.get("reindex_workers") else ""
    rows = [
        _cmd_row("bare extraction (`bench.ingest_floor`)", mix["floor"]),
        _cmd_row(f"`archive add{w}` into an empty archive", mix["add"]),
    ]
    if mix["add_one"]:
        rows.append(_cmd_row("`archive add --workers 1` into an empty archive", mix["add_one"]))
    rows.append(_cmd_row(f"`archive reindex{wr}` after a taxonomy edit", mix["taxonomy"]))
    rows.append(_cmd_row(f"`archive reindex{wr}` with nothing changed", mix["unchanged"]))
    head = ["command (whole process)", "wall, median (min–max)", "CPU (of wall)", "passages/s"]
    tagged = mix["taxonomy"][-1].get("tagged_by_edit", 0) if mix["taxonomy"] else 0
    note = f"After the taxonomy edit, {tagged:,} passages carry the new agency (`jld`)."
    return [*table([*head, "peak memory: tree / largest process"], rows), "", note]


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table: the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def per_format(res: dict[str, Any]) -> list[str]:
    """Each format added alone: files, passages, `archive add`'s time and rate, its bare extraction's."""
    rows = []
    for fmt, r in res["formats"].items():
        add, floor = r["add"], r["floor"]
        inner = floor["formats"].get(fmt, {}).get("seconds", 0.0)
        rows.append(
            [
                fmt,
                f"{add['documents']:,}",
                f"{add['passages']:,}",
                f"{add['wall_s']:.1f} s",
                f"{add['passages'] / add['wall_s']:,.0f}",
                f"{floor['wall_s']:.1f} s / {inner:.2f} s",
                f"{add['wall_s'] / floor['wall_s']:.1f}× (CPU {add['cpu_s'] / floor['cpu_s']:.1f}×)",
            ]
        )
    head = [
        "format",
        "files",
        "passages",
        "`archive add`",
        "passages/s",
        "bare extraction (whole process / in-process)",
    ]
    return table([*head, "add ÷ bare"], rows)


def cluster_section(res: dict[str, Any]) -> list[str]:
    """The full rebuild through a LocalCluster against the local one."""
    c = res["cluster"]
    same = (
        "the same index (documents, passages, facet counts)"
        if c["same_index"]
        else f"**differs** in {c['differs']}"
    )
    return [
        f"`archive reindex --full --scheduler` to a `distributed.LocalCluster` of {c['workers']} worker processes: "
        f"{c['cluster']['wall_s']:.1f} s, against {c['local']['wall_s']:.1f} s for the local `archive reindex --full` "
        f"({c['cluster']['wall_s'] / c['local']['wall_s']:.2f}×); {same}. The cluster's workers are the benchmark's "
        "children: their memory is not in the command's figures."
    ]


def memory_section(res: dict[str, Any]) -> list[str]:
    """`archive add` of tiny files at two sizes: time and memory, and the unchanged reindex."""
    mem = res["memory"]
    rows = [
        [
            f"{n:,}",
            f"{add['wall_s']:.1f} s",
            f"{add['tree_peak_mb']:,.0f} MB / {add['max_single_mb']:,.0f} MB",
            f"{same['wall_s']:.1f} s ({same['tree_peak_mb']:,.0f} MB)",
        ]
        for n in mem["sizes"]
        for add, same in [(mem[str(n)]["add"], mem[str(n)]["unchanged"])]
    ]
    head = [
        "tiny text files",
        "`archive add`",
        "peak memory: tree / largest process",
        "reindex, nothing changed",
    ]
    return table(head, rows)


def serve_section(res: dict[str, Any]) -> list[str]:
    """wrk's figures for each server configuration (medians over the runs)."""
    s = res["serve"]
    rows = []
    for n in ("1", "2"):
        runs = s[n]
        if not runs:
            continue
        rps = summary([r["requests_per_s"] for r in runs])
        name = f"`archive serve --workers {n}`" if runs[0].get("workers") else "`archive serve`"
        rows.append(
            [
                name,
                f"{rps['median']:.0f} ({rps['min']:.0f}–{rps['max']:.0f})",
                f"{statistics.median(r.get('p99_ms', 0.0) for r in runs):.0f} ms",
                f"{sum(r['non_2xx'] + r['socket_errors'] for r in runs):.0f}",
                f"{max(r['server_tree_peak_mb'] for r in runs):,.0f} MB",
            ]
        )
    head = ["server", "requests/s, median (min–max)", "p99", "errors", "server memory (tree peak)"]
    lines = [
        f"wrk, 16 connections, {s['seconds']} s a run, {s['passages']:,} passages:",
        "",
        *table(head, rows),
    ]
    return lines + ([f"\n{s['note']}."] if "note" in s else [])


METHOD = """\
- **Bare extraction** (`bench/ingest_floor.py`, the floor): one process reads every file of the batch and calls
  `archive.read_in_process(name, data)`, the reader of its format exactly as `archive add` runs it in the
  isolation worker (encoding detection and paragraphs for text; front matter and markdown-it for Markdown;
  trafilatura's main text and metadata for HTML; pypdf's text layer and rebuilt paragraphs for PDF). No
  isolation worker or time budget, no metadata merging, splitting, tagging, analysis or indexing, no copy into
  documents/. Timed as a whole process like every command here (interpreter start and imports included).
- **Commands**: this checkout's `python -m archive ...` on an archive home of its own, no other `ARCHIVE_*`
  setting; `add` takes the batch's folder (`--to batch`). The taxonomy edit adds an agency to the home's
  `taxonomy.toml` (the juge des libertés et de la détention, cited in the codes), then `archive reindex`.
  Passages are `archive stats`' count after the command.
- **Timing**: wall seconds around each whole process; CPU = user + system of the command and the processes it
  waited for (from `wait4`; above 100 % of wall, more than one core worked). Memory, polled every 0.1 s from
  /proc: the largest sum of resident sets over the command's process tree (a pool's memory is the sum of its
  workers), and the largest single process.
- **Ratios** are taken pair by pair within the run (the n-th add against the n-th bare extraction, run one after
  the other), the median pair quoted with the lowest and highest: the machine is shared and noisy.
"""


def _features(res: dict[str, Any]) -> str:
    f = res["features"]
    names = {
        "add_workers": "`add --workers`",
        "reindex_workers": "`reindex --workers`",
        "scheduler": "`reindex --scheduler`",
        "serve_workers": "`serve --workers`",
    }
    have = [v for k, v in names.items() if f.get(k)]
    missing = [v for k, v in names.items() if not f.get(k)]
    cache = max((r.get("extraction_cache_files", 0) for r in res["mix"]["add"]), default=0)
    return (
        f"This build has {', '.join(have) or 'none of issue 15’s flags'}"
        + (f"; {NOT_AVAILABLE}: {', '.join(missing)}" if missing else "")
        + f". Extraction cache (`index/extracted/`): {f'{cache:,} files after the add' if cache else 'none written'}."
    )


def render(res: dict[str, Any]) -> str:
    """The whole of ingest.md (also RESULTS.md's ingest section)."""
    m, batch, st = res["machine"], res["batch"], res["settings"]
    counts = ", ".join(f"{n:,} {fmt.upper()}" for fmt, n in batch["files"].items())
    passages = res["mix"]["add"][-1]["passages"] if res["mix"]["add"] else 0
    lines = [
        "## Ingest at archive scale (`make bench-ingest`, issue 15)",
        "",
        f"Run {res['date']}; command `{res['command']}`; core at {res['source']['commit']} "
        f"(archive/*.py digest {res['source']['archive_digest']}). Machine: {m['nproc']} cores ({m['cpu']}), "
        f"{m['memory_gb']} GB RAM, Python {m['python']}; shared with other work (load average "
        f"{res['load']['start']} at the start, {res['load']['end']} at the end), steps run one after another.",
        "",
        f"Batch (`bench/ingest_corpus.py`, seed {st['seed']}, from `codes-all`): {sum(batch['files'].values()):,} "
        f"files ({counts}), {batch['bytes'] / 1e6:.1f} MB, {passages:,} passages once added. {_features(res)}",
        "",
        "### Targets",
        "",
        *targets(res),
        "",
        f"### The mixed batch ({st['repeat']} runs of each, in turn, after {st.get('warmup', 1)} bare "
        "extraction(s) not counted)",
        "",
        *commands(res),
        "",
    ]
    sections: tuple[tuple[str, str, Callable[[dict[str, Any]], list[str]]], ...] = (
        ("formats", "Each format alone (one run each, all workers)", per_format),
        ("memory", "Memory as the batch grows", memory_section),
        ("cluster", "LocalCluster", cluster_section),
        ("serve", "Serving on several processes", serve_section),
    )
    for step, title, section in sections:
        if step in res:
            body = [f"Not measured: {res[step]['skipped']}."] if "skipped" in res[step] else section(res)
            lines += [f"### {title}", "", *body, ""]
    return "\n".join([*lines, "### Method", "", METHOD])
