"""Two codec alternatives of issue 12 measured against today's posting reads, on an index bench.run built.

    .venv/bin/python -m bench.run --passages 200000 --peers archive --http-seconds 0
    .venv/bin/python -m bench.codec_formats --index bench/data/200000/archive/index [--rounds 5]

(a) Positions as raw `array('I')` bytes instead of Whoosh's `Positions.encode` (a count, then a pickled
list of gaps: one `pickle.loads` per posting). The phrase queries' terms are re-encoded block by block as
our writer writes blocks (protocol 3, pickletools-optimised, deflated alike); today's check (the loop of
`Arrays.phrase`), the same loop over raw values and a numpy check over one positions array per term are
timed interleaved, each term's values decoded from its blocks (cold) or already decoded (warm).
(b) Per-segment CSR arrays: a term key's hash -> offsets into one docnums and one float32 weights array
(the keys kept to confirm the hash), derived into a scratch directory as `.npy` files opened with
`np.load(mmap_mode="r")`, as one uncompressed `.npz` per segment, its members memory-mapped in place, and
as the same `.npz` through `np.load` (a member read whole at first use). Each layout and today's block
reads run in fresh processes, page cache warm or dropped (`posix_fadvise`): open time, RSS, the terms read
at open (facets, dates, kinds), then the terms of the 320 queries, fetched twice.

Prints Markdown (bench/results/codec.md keeps a run); every alternative answer is checked equal to
today's. Whoosh is read directly: from archive/ only the French analysis (query words to keys) and the
schema classes the index unpickles are used. Deleted documents are ignored (a fresh index has none).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import itertools
import json
import os
import pickle
import pickletools
import shutil
import subprocess
import sys
import time
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh import index as whoosh_index
from whoosh.system import unpack_int

from archive import analysis

Ids = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Term = tuple[str, str]
Chain = tuple[tuple[str, str, int], ...]
Raw = list[tuple[bytes, int]]  # a term's posting list in each segment holding it, with the segment's offset
Segment = dict[str, Any]  # one segment's CSR arrays by name
HERE = Path(__file__).resolve().parent
QUERY_FIELDS = ("content", "section", "title")  # where an unfielded word is looked for
CSR_FIELDS = ("agency", "content", "date", "kind", "offence", "section", "source", "title", "type", "year")
LOAD_FIELDS = ("agency", "date", "kind", "offence", "source", "type", "year")  # what `Arrays.load` reads
LAYOUTS = ("whoosh", "npy-mmap", "npz-mmap", "npz")
VARIANTS = ("today", "raw-loop", "raw-vector")
MAX_EXPANSION = 200  # archive.query: a prefix stands for its 200 most frequent words
COMPRESSION, COMPRESS_FROM = 1, 96  # archive.indexer, archive.pool: how posting blocks are deflated


# -- Whoosh's posting lists, read as archive/postings.py reads them -----------------------------------


def generation(index_dir: Path) -> Path:
    """The Whoosh directory of an archive index (its CURRENT generation), or `index_dir` itself."""
    current = index_dir / "CURRENT"
    return index_dir / current.read_text().strip() if current.exists() else index_dir


def stored_list(leaf: Any, info: Any) -> bytes:
    """The bytes of the posting list a term info points to in one segment."""
    start, length = info.extent()
    if isinstance(length, tuple):  # whoosh3's W3TermInfo.from_bytes leaves it in its unpacked tuple
        (length,) = length
    data: bytes = leaf._terms._postfile.get(start, length)
    return data


def raw_postings(reader: Any, term: Term) -> Raw:
    """A term's posting list, as stored, in each segment that holds it."""
    found = [(leaf, offset) for leaf, offset in reader.leaf_readers() if term in leaf]
    return [(stored_list(leaf, leaf._terms.term_info(term[0], term[1].encode())), o) for leaf, o in found]


def blocks(raw: bytes) -> Iterator[tuple[tuple[Any, ...], tuple[Any, Any, Any]]]:
    """Each block of a whoosh3 posting list: its info tuple and its (docnum gaps, weights, values)."""
    stream, position = io.BytesIO(raw), 4
    while position < len(raw):
        (size,) = unpack_int(raw[position : position + 4])
        stream.seek(position + 4)
        info = pickle.load(stream)
        end = position + 4 + abs(size)
        data = raw[stream.tell() : end]
        yield info, pickle.loads(zlib.decompress(data) if info[3] else data)
        if size < 0:
            return
        position = end


def decode(raw: Raw, with_values: bool = False) -> tuple[Ids, Floats, list[bytes]]:
    """Docnums, weights and (when asked) values of a posting list: today's read (`Arrays._read`)."""
    ids: list[Ids] = []
    weights: list[Floats] = []
    values: list[bytes] = []
    for data, offset in raw:
        for _, (gaps, w, v) in blocks(data):
            ids.append(np.cumsum(np.asarray(gaps, dtype=np.int64)) + offset)
            if w is None or isinstance(w, float):
                weights.append(np.full(ids[-1].size, 1.0 if w is None else w))
            else:
                weights.append(np.asarray(w, dtype=np.float64))
            if with_values:
                values.extend(v)
    if not ids:
        return np.empty(0, dtype=np.int64), np.empty(0), values
    return np.concatenate(ids), np.concatenate(weights), values


# -- the queries as index terms -----------------------------------------------------------------------


def phrase_chains(queries: list[dict[str, Any]]) -> list[Chain]:
    """Each phrase query in each field, as `archive.query` reads it: each key with its offset."""
    out: list[Chain] = []
    for q in (q for q in queries if q["kind"] == "phrase"):
        seen: set[int] = set()
        parts: list[tuple[str, int]] = []
        for t in analysis.tokens(" ".join(q["words"])):
            if t.position not in seen:  # the joined form of a hyphenated word: its parts are enough
                seen.add(t.position)
                parts.extend([] if t.stop else [(t.key, t.position)])
        out.extend(tuple((f, k, p - parts[0][1]) for k, p in parts) for f in QUERY_FIELDS)
    return out


def query_terms(queries: list[dict[str, Any]], vocabulary: dict[str, int]) -> list[Term]:
    """Every (field, key) the queries look up, each once, in query order (prefixes expanded)."""
    keys: list[str] = []
    for q in queries:
        if q["kind"] == "prefix":
            prefix = analysis.fold(q["words"][0])
            words = sorted((w for w in vocabulary if w.startswith(prefix)), key=lambda w: -vocabulary[w])
            keys.extend(sorted({analysis.key(w) for w in words[:MAX_EXPANSION]}))
        else:
            keys.extend(analysis.keys(" ".join(q["words"])))
    return list(dict.fromkeys((f, k) for k in keys for f in QUERY_FIELDS))


def load_terms(reader: Any) -> list[Term]:
    """What opening `Arrays` reads whole: every term of the facet, date and kind fields."""
    return [(f, t.decode()) for f in LOAD_FIELDS for t in reader.lexicon(f)]


# -- (a) positions as raw array('I') bytes ------------------------------------------------------------


def reencode(data: bytes) -> bytes:
    """A posting list with raw position values, each block framed and deflated as `archive.pool` does."""
    out = [data[:4]]
    for info, (gaps, weights, values) in blocks(data):
        raw = tuple(array("I", itertools.accumulate(pickle.loads(v[4:]))).tobytes() for v in values)
        block = pickletools.optimize(pickle.dumps((gaps, weights, raw), 3))
        level = COMPRESSION if len(block) >= COMPRESS_FROM else 0
        packer = zlib.compressobj(level, zlib.DEFLATED, 12, 4)  # `archive.pool.deflate`
        payload = packer.compress(block) + packer.flush() if level else block
        head = pickletools.optimize(pickle.dumps((*info[:3], level, *info[4:]), 2))
        out.append(len(head + payload).to_bytes(4, "big", signed=True) + head + payload)
    size = int.from_bytes(out[-1][:4], "big", signed=True)
    out[-1] = (-size).to_bytes(4, "big", signed=True) + out[-1][4:]  # the last block's length is negative
    return b"".join(out)


def positions_pickled(value: bytes) -> list[int]:
    """Today's `archive.postings._positions`: one `pickle.loads` per posting."""
    return list(itertools.accumulate(pickle.loads(value[4:])))


def check_loop(words: list[tuple[Ids, Any, int]], candidates: Ids, positions: Callable[[bytes], Any]) -> Ids:
    """The verification loop of `Arrays.phrase`, with `positions` decoding one posting."""
    columns = [([v[i] for i in np.searchsorted(ids, candidates)], off) for ids, v, off in words]
    keep = np.zeros(candidates.size, dtype=np.bool_)
    first, rest = columns[0][0], columns[1:]
    for j in range(candidates.size):
        starts = set(positions(first[j]))
        for values, offset in rest:
            starts.intersection_update([p - offset for p in positions(values[j])])
            if not starts:
                break
        keep[j] = bool(starts)
    found: Ids = candidates[keep]
    return found


def flat(values: list[bytes]) -> tuple[npt.NDArray[np.uint32], Ids]:
    """A term's raw values as one positions array, and where each posting's positions start in it."""
    sizes = np.fromiter(map(len, values), dtype=np.int64, count=len(values)) // 4
    return np.frombuffer(b"".join(values), dtype=np.uint32), offsets(sizes)


def check_vector(words: list[tuple[Ids, Any, int]], candidates: Ids) -> Ids:
    """The same verification in numpy: (candidate, start of phrase) keys intersected word by word."""
    found: Ids | None = None
    for ids, (positions, starts), offset in words:
        where = np.searchsorted(ids, candidates)
        lo, counts = starts[where], starts[where + 1] - starts[where]
        owner = np.repeat(np.arange(candidates.size, dtype=np.int64), counts)
        first = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        start = positions[first + np.arange(owner.size)].astype(np.int64) - offset
        keys = np.unique((owner[start >= 0] << 32) | start[start >= 0])  # a position may repeat
        found = keys if found is None else np.intersect1d(found, keys, assume_unique=True)
    hit: Ids = candidates[np.unique(found >> 32)] if found is not None else candidates
    return hit


def verify(variant: str, chain: Chain, candidates: Ids, ids: dict[Term, Ids], lists: Any, cache: Any) -> Ids:
    """One phrase in one field: its words' values (from `cache`, or decoded from `lists`), then the check."""
    for f, k, _ in chain:
        if (f, k) not in cache:
            values = decode(lists[(f, k)], with_values=True)[2]
            cache[(f, k)] = flat(values) if variant == "raw-vector" else values
    words = [(ids[(f, k)], cache[(f, k)], offset) for f, k, offset in chain]
    if not candidates.size or variant == "raw-vector":
        return check_vector(words, candidates) if candidates.size else candidates
    return check_loop(
        words, candidates, positions_pickled if variant == "today" else functools.partial(array, "I")
    )


def measure_phrases(reader: Any, chains: list[Chain], rounds: int) -> dict[str, Any]:
    """Phrase verification over today's values and raw ones, interleaved; every answer compared."""
    terms = list(dict.fromkeys((f, k) for c in chains for f, k, _ in c))
    lists = {"today": {t: raw_postings(reader, t) for t in terms}}
    lists["raw"] = {t: [(reencode(d), o) for d, o in raw] for t, raw in lists["today"].items()}
    ids = {t: decode(raw)[0] for t, raw in lists["today"].items()}
    candidates = [functools.reduce(np.intersect1d, [ids[(f, k)] for f, k, _ in c]) for c in chains]
    expected: list[Ids] = []
    times: dict[str, list[list[float]]] = {}
    for r in range(rounds):
        for variant in VARIANTS[r % 3 :] + VARIANTS[: r % 3]:
            cache: dict[Term, Any] = {}
            for mode in ("cold", "warm"):  # warm: each term's values already decoded
                per_query = [0.0] * (len(chains) // len(QUERY_FIELDS))
                for i, (chain, found) in enumerate(zip(chains, candidates, strict=True)):
                    t0 = time.perf_counter()
                    answer = verify(variant, chain, found, ids, lists[variant.split("-")[0]], cache)
                    per_query[i // len(QUERY_FIELDS)] += time.perf_counter() - t0
                    if len(expected) < len(chains):
                        expected.append(answer)
                    if not np.array_equal(expected[i], answer):
                        raise RuntimeError(f"{variant} disagrees with today's phrase check on {chain}")
                times.setdefault(f"{variant}, {mode}", []).append(per_query)
    return {
        "queries": len(chains) // len(QUERY_FIELDS),
        "terms": len(terms),
        "postings": sum(i.size for i in ids.values()),
        "candidates": sum(c.size for c in candidates),
        "matches": sum(e.size for e in expected),
        "ms": {k: [1000 * median(f(q) for q in v) for f in (sum, median, max)] for k, v in times.items()},
        "decode_ms": measure_decoding(chains, candidates, ids, lists, rounds),
        "list_bytes": [sum(len(d) for raw in by_term.values() for d, _ in raw) for by_term in lists.values()],
    }


def measure_decoding(chains: list[Chain], candidates: list[Ids], ids: Any, lists: Any, rounds: int) -> Any:
    """Decoding only: the positions of every candidate posting, one call per posting."""
    chosen: dict[str, list[bytes]] = {}
    for name, by_term in lists.items():
        values = {t: decode(raw, with_values=True)[2] for t, raw in by_term.items()}
        chosen[name] = [
            values[(f, k)][i]
            for c, found in zip(chains, candidates, strict=True)
            for f, k, _ in c
            for i in np.searchsorted(ids[(f, k)], found)
        ]
    decoders: dict[str, tuple[str, Callable[[bytes], Any]]] = {
        "pickle.loads, today": ("today", positions_pickled),
        "array('I', raw)": ("raw", functools.partial(array, "I")),
        "np.frombuffer(raw)": ("raw", functools.partial(np.frombuffer, dtype=np.uint32)),
    }
    times: dict[str, list[float]] = {name: [] for name in decoders}
    for r in range(rounds):
        for name in list(decoders)[r % 3 :] + list(decoders)[: r % 3]:
            which, function = decoders[name]
            t0 = time.perf_counter()
            for value in chosen[which]:
                function(value)
            times[name].append(time.perf_counter() - t0)
    return {"postings": len(chosen["today"]), **{k: 1000 * median(v) for k, v in times.items()}}


def positions_size(reader: Any) -> dict[str, float]:
    """Every posting list of the positional fields, in bytes as stored and re-encoded with raw values."""
    t0, before, after = time.perf_counter(), 0, 0
    for leaf, _ in reader.leaf_readers():
        for data in (stored_list(leaf, i) for (f, _), i in leaf._terms.items() if f in QUERY_FIELDS):
            before, after = before + len(data), after + len(reencode(data))
    return {"stored_bytes": before, "raw_bytes": after, "seconds": time.perf_counter() - t0}


# -- (b) per-segment CSR arrays -----------------------------------------------------------------------


def key_hash(key: bytes) -> int:
    """A term key's 64-bit hash: what the CSR arrays are looked up by (the key is confirmed after)."""
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


def offsets(counts: Ids) -> Ids:
    """Where each of consecutive runs of `counts` starts, then the end."""
    found: Ids = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return found


def derive_segment(leaf: Any) -> Segment:
    """One segment's CSR arrays, read from its Whoosh posting lists, in the order of their key hashes."""
    keys, docs, floats = [], [], []
    for (fieldname, text), info in leaf._terms.items():
        if fieldname in CSR_FIELDS:
            ids, weights, _ = decode([(stored_list(leaf, info), 0)])
            if not np.array_equal(weights.astype(np.float32), weights):  # blocks hold float32 weights
                raise ValueError(f"{fieldname}:{text!r}: a weight is not a float32")
            keys.append(fieldname.encode() + b"\0" + text)
            docs.append(ids.astype(np.int32))
            floats.append(weights.astype(np.float32))
    hashes = np.fromiter(map(key_hash, keys), dtype=np.uint64, count=len(keys))
    order = np.argsort(hashes, kind="stable").tolist()
    if np.any(np.diff(hashes[order]) == 0):
        raise ValueError("two keys of one segment share a hash")
    return {
        "hashes": hashes[order],
        "starts": offsets(np.array([docs[i].size for i in order], dtype=np.int64)),
        "docnums": np.concatenate([docs[i] for i in order]),
        "weights": np.concatenate([floats[i] for i in order]),
        "keys": np.frombuffer(b"".join(keys[i] for i in order), dtype=np.uint8),
        "key_starts": offsets(np.array([len(keys[i]) for i in order], dtype=np.int64)),
    }


def save_aligned(path: Path, arrays: Segment) -> None:
    """An uncompressed `.npz` whose arrays start on 64-byte boundaries (an unknown extra field pads each
    local header) so that they can be memory-mapped in place: `np.savez` leaves them unaligned, and
    numpy copies a whole unaligned array before a `searchsorted`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, values in arrays.items():
            data = io.BytesIO()
            np.lib.format.write_array(data, values)  # the array starts 64-aligned within its .npy
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            pad = -(archive.fp.tell() + 30 + len(info.filename) + 4) % 64  # type: ignore[union-attr]
            info.extra = b"\xfe\xca" + pad.to_bytes(2, "little") + bytes(pad)
            archive.writestr(info, data.getvalue())


def derive(reader: Any, out: Path) -> dict[str, float]:
    """Every segment's CSR arrays written as `.npy` files and as one `.npz`: times and sizes."""
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    segments = {leaf._segment.segment_id(): derive_segment(leaf) for leaf, _ in reader.leaf_readers()}
    found = {"read_s": time.perf_counter() - t0, "terms": sum(a["hashes"].size for a in segments.values())}
    found["postings"] = sum(a["docnums"].size for a in segments.values())
    for layout in ("npy", "npz"):
        t0 = time.perf_counter()
        for name, arrays in segments.items():
            (out / layout / name).mkdir(parents=True)
            for member, values in arrays.items() if layout == "npy" else ():
                np.save(out / "npy" / name / f"{member}.npy", values)
            if layout == "npz":
                save_aligned(out / "npz" / name / "csr.npz", arrays)
        for path in (out / layout).rglob("*.np?"):
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        found[f"{layout}_write_s"] = time.perf_counter() - t0
        found[f"{layout}_bytes"] = sum(p.stat().st_size for p in (out / layout).rglob("*.np?"))
    return found


def npz_mapped(path: Path) -> Segment:
    """The members of an uncompressed `.npz`, each memory-mapped where it lies in the zip file."""
    arrays: Segment = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as f:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{path}: {info.filename} is compressed")
            f.seek(info.header_offset + 26)  # the local header: its name's and extra field's lengths
            skip = int.from_bytes(f.read(2), "little") + int.from_bytes(f.read(2), "little")
            f.seek(info.header_offset + 30 + skip)
            if np.lib.format.read_magic(f) != (1, 0):  # what `write_array` writes for these arrays
                raise ValueError(f"{path}: {info.filename} is not a version 1.0 .npy")
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            arrays[info.filename.removesuffix(".npy")] = np.memmap(
                path, dtype=dtype, mode="r", offset=f.tell(), shape=shape, order="F" if fortran else "C"
            )
    return arrays


class _Members(dict[str, Any]):
    """An `np.load`ed `.npz`: each member read whole at its first use, then kept."""

    def __init__(self, npz: Any) -> None:
        super().__init__()
        self.npz = npz

    def __missing__(self, name: str) -> Any:
        self[name] = value = self.npz[name]
        return value


def fetcher(layout: str, reader: Any, derived: Path) -> Callable[[Term], tuple[Ids, Floats]]:
    """How a layout fetches a term's postings (its files opened first); "whoosh" reads blocks as today."""
    if layout == "whoosh":
        return lambda term: decode(raw_postings(reader, term))[:2]
    segments: list[tuple[Segment, int]] = []
    for leaf, offset in reader.leaf_readers():
        where = derived / layout[:3] / leaf._segment.segment_id()
        if layout == "npz":
            segments.append((_Members(np.load(where / "csr.npz")), offset))
            continue
        if layout == "npz-mmap":
            mapped = npz_mapped(where / "csr.npz")
        else:
            mapped = {p.stem: np.load(p, mmap_mode="r") for p in where.glob("*.npy")}
        if not all(a.flags.aligned for a in mapped.values()):
            raise ValueError(f"{where}: unaligned arrays")
        segments.append(({k: a.view(np.ndarray) for k, a in mapped.items()}, offset))  # no memmap overhead
    return functools.partial(fetch, segments)


def fetch(segments: list[tuple[Segment, int]], term: Term) -> tuple[Ids, Floats]:
    """A term's docnums and weights from the CSR arrays: what `Arrays.postings` returns today."""
    key = f"{term[0]}\0{term[1]}".encode()
    wanted = np.uint64(key_hash(key))
    ids: list[Ids] = []
    weights: list[Floats] = []
    for arrays, offset in segments:
        i = int(np.searchsorted(arrays["hashes"], wanted))
        if i < arrays["hashes"].size and arrays["hashes"][i] == wanted:
            k0, k1 = arrays["key_starts"][i : i + 2]
            if arrays["keys"][k0:k1].tobytes() == key:
                a, b = arrays["starts"][i : i + 2]
                ids.append(arrays["docnums"][a:b].astype(np.int64) + offset)
                weights.append(arrays["weights"][a:b].astype(np.float64))
    if not ids:
        return np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(ids), np.concatenate(weights)


def check_layouts(reader: Any, derived: Path, terms: list[Term]) -> int:
    """Every layout answers every term as today's reads do; the number of terms compared."""
    for layout in LAYOUTS[1:]:
        get = fetcher(layout, reader, derived)
        for term in terms:
            want = decode(raw_postings(reader, term))
            if not all(np.array_equal(x, y) for x, y in zip(get(term), want[:2], strict=True)):
                raise RuntimeError(f"{layout} disagrees with today's read of {term}")
    return len(terms)


def memory() -> dict[str, float]:
    """This process's resident memory in MB: all of it, anonymous, file-backed (mapped files)."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {
        k: int(status[f].split()[0]) / 1024
        for k, f in (("rss", "VmRSS"), ("anon", "RssAnon"), ("file", "RssFile"))
    }


def child(layout: str, index_dir: Path, derived: Path, terms: list[Term]) -> dict[str, Any]:
    """One fresh process: open, read what opening reads, then fetch the queries' terms twice."""
    t0 = time.perf_counter()
    reader = whoosh_index.open_dir(str(generation(index_dir))).reader()
    t1 = time.perf_counter()
    get = fetcher(layout, reader, derived)
    found: dict[str, Any] = {"whoosh_open_ms": 1000 * (t1 - t0), "open_ms": 1000 * (time.perf_counter() - t1)}
    found["rss_open"] = memory()
    for phase, wanted in (("load", load_terms(reader)), ("first", terms), ("again", terms)):
        times = []
        for term in wanted:
            t0 = time.perf_counter()
            get(term)
            times.append(time.perf_counter() - t0)
        found |= {f"{phase}_ms": 1000 * sum(times), f"{phase}_p50_us": 1e6 * median(times)}
        found |= {f"{phase}_p99_us": 1e6 * float(np.percentile(times, 99)), f"rss_{phase}": memory()}
    return found


def drop_cache(paths: list[Path]) -> None:
    """Ask the kernel to forget the cached pages of these files (the next read goes to the disk)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)


def measure_layouts(index_dir: Path, derived: Path, terms: list[Term], rounds: int) -> dict[str, Any]:
    """Each layout in fresh processes, interleaved: page cache warm (a first round unrecorded) or dropped."""
    (derived / "terms.json").write_text(json.dumps(terms))
    files = [p for p in generation(index_dir).iterdir() if p.is_file()] + sorted(derived.rglob("*.np?"))
    runs: dict[str, list[dict[str, Any]]] = {}
    for cache in ("warm", "dropped"):
        for r in range(-1 if cache == "warm" else 0, rounds):
            for layout in LAYOUTS[r % 4 :] + LAYOUTS[: r % 4]:
                drop_cache(files if cache == "dropped" else [])
                command = [sys.executable, "-m", "bench.codec_formats", "--index", str(index_dir), "--child"]
                command += [layout, "--derived", str(derived), "--terms", str(derived / "terms.json")]
                out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=HERE.parent)
                runs.setdefault(f"{layout}, cache {cache}", []).extend(
                    [json.loads(out.stdout)] if r >= 0 else []
                )
    names = [f"{layout}, cache {cache}" for cache in ("warm", "dropped") for layout in LAYOUTS]
    return {name: {k: _median_of(runs[name], k) for k in runs[name][0]} for name in names}


def _median_of(found: list[dict[str, Any]], key: str) -> Any:
    if isinstance(found[0][key], dict):
        return {k: median(f[key][k] for f in found) for k in found[0][key]}
    return median(f[key] for f in found)


def render(found: dict[str, Any]) -> str:
    """The numbers as Markdown, each time also as today's divided by the alternative's (x)."""
    a, d, s = found["phrases"], found["derived"], found["sizes"]
    decoded = {k: v for k, v in a["decode_ms"].items() if k != "postings"}
    lines = [f"- {found[k]}" for k in ("date", "command", "machine", "index")] + [
        f"\n### (a) Phrase verification: {a['queries']} phrase queries x 3 fields, {a['terms']} terms, "
        f"{a['postings']:,} postings, {a['candidates']:,} candidates, {a['matches']:,} matches\n",
        "| variant, values | all queries ms | x | per query p50 ms | x | slowest query ms | x |",
        "| --- |" + " ---: |" * 6,
    ]
    for k, v in a["ms"].items():
        base = a["ms"]["today, " + k.split(", ")[1]]
        lines.append(
            "| "
            + " | ".join(
                [k, *(f"{t:.{1 if t >= 10 else 2}f} | {b / t:.2f}" for t, b in zip(v, base, strict=True))]
            )
            + " |"
        )
    lines += [
        f"\nDecoding only, the positions of the {a['decode_ms']['postings']:,} candidate postings: "
        + ", ".join(f"{k} {v:.1f} ms" for k, v in decoded.items())
        + ".",
        f"\nPosting lists of the phrase terms: {a['list_bytes'][0]:,} bytes today, {a['list_bytes'][1]:,} raw.",
    ]
    if s:
        lines.append(
            f"All posting lists of content, section and title: {s['stored_bytes']:,} bytes today, "
            f"{s['raw_bytes']:,} with raw values (re-encoded in {s['seconds']:.0f} s)."
        )
    lines += [
        f"\n### (b) CSR arrays: {d['terms']:,} terms, {d['postings']:,} postings, {found['segments']} segments\n",
        f"Derived by reading every block in {d['read_s']:.1f} s; written as .npy in {d['npy_write_s']:.2f} s "
        f"({d['npy_bytes'] / 1e6:.1f} MB), as .npz in {d['npz_write_s']:.2f} s ({d['npz_bytes'] / 1e6:.1f} MB). "
        f"{found['checked']:,} terms read equal to today's. {found['terms']:,} query terms (the 320 queries' "
        f"words x 3 fields, prefixes expanded), {found['load_terms']:,} terms read at open.\n",
        "| layout, page cache | Whoosh open ms | layout open ms | RSS open MB (anon/file) | open terms ms | x "
        "| 1st fetch ms | x | p50 us | p99 us | 2nd fetch ms | p50 us | RSS end MB (anon/file) |",
        "| --- |" + " ---: |" * 12,
    ]
    for name, m in found["layouts"].items():
        o, e, w = m["rss_open"], m["rss_again"], found["layouts"]["whoosh, " + name.split(", ")[1]]
        lines.append(
            f"| {name} | {m['whoosh_open_ms']:.0f} | {m['open_ms']:.1f} | {o['rss']:.0f} ({o['anon']:.0f}/"
            f"{o['file']:.0f}) | {m['load_ms']:.0f} | {w['load_ms'] / m['load_ms']:.1f} | {m['first_ms']:.0f} | "
            f"{w['first_ms'] / m['first_ms']:.1f} | {m['first_p50_us']:.0f} | {m['first_p99_us']:.0f} | "
            f"{m['again_ms']:.0f} | {m['again_p50_us']:.0f} | {e['rss']:.0f} ({e['anon']:.0f}/{e['file']:.0f}) |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure both alternatives (or, with --child, one layout in this process) and print Markdown."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, help="an archive index directory (or a generation)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--derived", type=Path, default=Path("/tmp/codec_formats"), help="scratch for CSR files")
    p.add_argument("--queries", type=Path, default=HERE / "queries.json")
    p.add_argument("--skip-sizes", action="store_true", help="do not re-encode every positional list")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    p.add_argument("--child", choices=LAYOUTS, help=argparse.SUPPRESS)
    p.add_argument("--terms", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--render", type=Path, help="print the Markdown of a --json file again, measure nothing")
    a = p.parse_args()
    if a.render:
        print(render(json.loads(a.render.read_text())))
        return
    if a.index is None:
        p.error("--index is required")
    if a.child:
        terms = [(f, t) for f, t in json.loads(a.terms.read_text())]
        print(json.dumps(child(a.child, a.index, a.derived, terms)))
        return
    reader = whoosh_index.open_dir(str(generation(a.index))).reader()
    queries = json.loads(a.queries.read_text())
    terms = query_terms(queries, json.loads((generation(a.index) / "vocabulary.json").read_text())["counts"])
    import whoosh

    cpu = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
    found: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": f"`python -m bench.codec_formats {' '.join(sys.argv[1:])}`",
        "machine": f"{cpu[0].split(':')[1].strip()}, {os.cpu_count()} cores shared with other work, Python "
        f"{sys.version.split()[0]}, numpy {np.__version__}, whoosh {whoosh.versionstring()}",
        "index": f"{reader.doc_count_all():,} Whoosh documents, {len(reader.leaf_readers())} segments, "
        f"{sum(f.stat().st_size for f in generation(a.index).iterdir()) / 1e6:.0f} MB; medians of {a.rounds} rounds",
        "segments": len(reader.leaf_readers()),
        "terms": len(terms),
        "load_terms": len(load_terms(reader)),
        "phrases": measure_phrases(reader, phrase_chains(queries), a.rounds),
        "sizes": None if a.skip_sizes else positions_size(reader),
        "derived": derive(reader, a.derived),
    }
    found["checked"] = check_layouts(reader, a.derived, terms + load_terms(reader))
    found["layouts"] = measure_layouts(a.index, a.derived, terms, a.rounds)
    if a.json:
        a.json.write_text(json.dumps(found, indent=1))
    print(render(found))


if __name__ == "__main__":
    main()
