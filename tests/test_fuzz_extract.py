"""Fuzzing the extractors: every hostile file is extracted or rejected with a reason, in bounded memory.

The cases go through `extract` as `archive add` runs it, in one worker process (the readers imported
once): each file is read in the archive's own reader process (`archive.isolation`), which a crash, a
hang or a runaway allocation costs a rejection, never the batch. The worker reports how each case ended,
how long it took, and the largest resident size a reader process reached so far above the worker's own
(the live reader's VmHWM, and `RUSAGE_CHILDREN` for the readers already replaced). Before, each case ran
in a forked child that started a reader process of its own (0.7 s per case, most of this module's time).
`test_extract.py` holds the functional cases (encodings read right, fixtures, fractions of truncation);
this module holds the hostile ones."""

from __future__ import annotations

import codecs
import functools
import json
import random
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from archive.home import Archive
from archive.request import SearchRequest
from archive.settings import Settings

from .conftest import HANG_GUARD

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent
MAX_PEAK_MB = 300
MAX_BYTES = 50 * 1024 * 1024

_WORKER = r"""
import json, multiprocessing, resource, sys, time
from archive import isolation
from archive.extract import extract
from archive.errors import RejectedInput
import pypdf, trafilatura, charset_normalizer, frontmatter, markdown_it  # noqa: F401  (imported once)

MAX_BYTES = int(sys.argv[2])

def rss_mb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field)) / 1024

def reader_peak_mb():
    # the largest resident size any reader reached so far: the live ones, and those already replaced
    peaks = [resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]
    for child in multiprocessing.active_children():
        if child.name == isolation.NAME:
            try:
                with open(f"/proc/{child.pid}/status") as f:
                    peaks += [int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM")]
            except OSError:
                pass
    return max(peaks)

base = rss_mb("VmRSS")  # this process, the readers imported: a reader holds as much before any file
out = []
for name, path in json.load(open(sys.argv[1])):
    data = open(path, "rb").read()
    started = time.perf_counter()
    try:
        found = extract(name, data, MAX_BYTES)
        result = {"outcome": "extracted", "blocks": len(found.blocks)}
    except RejectedInput as e:
        result = {"outcome": "rejected", "code": e.reason_code, "reason": e.reason}
    except BaseException as e:  # ReaderUnavailable too: a reader that crashed twice on the file
        result = {"outcome": "raised", "error": f"{type(e).__name__}: {str(e)[:200]}"}
    seconds = time.perf_counter() - started
    result.update(name=name, seconds=round(seconds, 3), peak_mb=round(reader_peak_mb() - base, 1))
    out.append(result)
print(json.dumps(out))
"""


def run_cases(tmp_path: Path, cases: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """Extract each (name, data) in turn in one worker; one dict per case: outcome, code, seconds, peak_mb.

    A file that hangs or balloons is stopped by the reader's own CPU budget and memory limit (a rejection);
    the timeout here is a guard against a hang of the whole worker, not a speed limit."""
    listing = []
    for i, (name, data) in enumerate(cases):
        path = tmp_path / f"case-{i}"
        path.write_bytes(data)
        listing.append((name, str(path)))
    (tmp_path / "cases.json").write_text(json.dumps(listing))
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, str(tmp_path / "cases.json"), str(MAX_BYTES)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60 + HANG_GUARD * len(cases),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results: list[dict[str, Any]] = json.loads(done.stdout.splitlines()[-1])
    return results


def assert_clean(results: list[dict[str, Any]]) -> None:
    """Every case extracted or rejected with a reason (no crash, no timeout), in bounded memory."""
    bad = [
        r
        for r in results
        if r["outcome"] not in ("extracted", "rejected")
        or (r["outcome"] == "rejected" and not (r.get("code") and r.get("reason")))
        or r["peak_mb"] > MAX_PEAK_MB
    ]
    assert not bad, json.dumps(bad, indent=1, ensure_ascii=False)[:4000]


# ------------------------------------------------------------------ PDF builders


def pdf(objects: list[bytes], *, xref: bool = True, root: int = 1) -> bytes:
    """A PDF file of numbered objects (1 0 obj ...), with a correct xref table unless told otherwise."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    start = len(out)
    if xref:
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, start)
    return bytes(out)


def page_pdf(content: bytes, filters: bytes = b"", extra: bytes = b"") -> bytes:
    """One page whose content stream is `content` (already encoded for `filters`)."""
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> " + extra + b">>",
            b"<< /Length %d %s>>\nstream\n" % (len(content), filters) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


TEXT_OPS = b"BT /F1 12 Tf 72 712 Td (Le blanchiment aggrave a ete juge par le tribunal.) Tj ET\n"


@functools.cache
def _zero_bomb() -> bytes:
    """A FlateDecode stream of ~400 KB that inflates to 200 MB of zero bytes."""
    squeeze = zlib.compressobj(9)
    block = b"\0" * (4 * 1024 * 1024)
    raw = b"".join(squeeze.compress(block) for _ in range(50)) + squeeze.flush()
    return page_pdf(raw, b"/Filter /FlateDecode ")


@pytest.fixture
def zero_bomb() -> bytes:
    return _zero_bomb()


def test_the_text_pdf_fixture_is_extracted_by_the_worker(batch: Results) -> None:
    """The harness itself: a good PDF comes back extracted (so 'rejected' below means something)."""
    [result] = batch["fixture"].values()
    assert result["outcome"] == "extracted" and result["blocks"] > 0


def _flips_and_cuts() -> list[tuple[str, bytes]]:
    original = (FIXTURES / "texte.pdf").read_bytes()
    rng = random.Random(20240627)
    cases = []
    for i in range(60):
        data = bytearray(original)
        for _ in range(rng.choice([1, 2, 5, 20, 100])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cases.append((f"flip-{i}.pdf", bytes(data)))
    offsets = sorted({*range(0, len(original), max(1, len(original) // 40)), 5, 9, len(original) - 1})
    return cases + [(f"cut-{n}.pdf", original[:n]) for n in offsets]


def test_random_byte_flips_and_truncations_of_a_pdf(batch: Results) -> None:
    assert len(batch["flips"]) == len(_flips_and_cuts())
    assert_clean(list(batch["flips"].values()))


def test_flate_bomb_in_a_pdf_is_rejected_in_bounded_memory(batch: Results, zero_bomb: bytes) -> None:
    assert len(zero_bomb) < 1024 * 1024
    [result] = batch["bomb"].values()
    assert_clean([result])
    assert result["outcome"] == "rejected", result


def _inflating_text_layer() -> bytes:
    """~10 KB of compressed drawing operators (60,000 lines of text)."""
    return page_pdf(zlib.compress(TEXT_OPS * 60_000, 9), b"/Filter /FlateDecode ")


def test_pdf_whose_small_stream_inflates_to_a_huge_text_layer(batch: Results) -> None:
    """~10 KB of compressed drawing operators (60,000 lines of text): read or refused with a reason."""
    assert len(_inflating_text_layer()) < 64 * 1024
    assert_clean(list(batch["inflating"].values()))


def _nested(open_: bytes, close: bytes, depth: int, core: bytes = b"1") -> bytes:
    return open_ * depth + core + close * depth


HOSTILE_PDFS = {
    "nested-arrays-in-content": page_pdf(_nested(b"[", b"]", 100_000) + b"\n" + TEXT_OPS),
    "nested-arrays-in-page": page_pdf(TEXT_OPS, extra=b"/Junk " + _nested(b"[", b"]", 100_000) + b" "),
    "nested-dicts-in-page": page_pdf(TEXT_OPS, extra=b"/Junk " + _nested(b"<< /A ", b" >>", 50_000) + b" "),
    "unterminated-array": page_pdf(TEXT_OPS, extra=b"/Junk " + b"[" * 50_000),
    "no-xref": pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(TEXT_OPS) + TEXT_OPS + b"\nendstream",
        ],
        xref=False,
    ),
    "xref-offsets-wrong": page_pdf(TEXT_OPS).replace(b"0000000015 00000 n", b"9999999999 00000 n"),
    "startxref-past-the-end": page_pdf(TEXT_OPS).replace(b"startxref\n", b"startxref\n9999999"),
    "startxref-negative": page_pdf(TEXT_OPS).replace(b"startxref\n", b"startxref\n-"),
    "page-tree-cycle": pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
            b"<< /Type /Pages /Kids [2 0 R] /Parent 2 0 R /Count 1 >>",
        ]
    ),
    "contents-referencing-itself": pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /Contents [3 0 R 3 0 R] >>",
        ]
    ),
    "root-missing": pdf([b"<< /Type /Pages /Kids [] /Count 0 >>"], root=9),
    "length-lies": page_pdf(TEXT_OPS).replace(b"/Length %d" % len(TEXT_OPS), b"/Length 999999999"),
    "huge-count": page_pdf(TEXT_OPS).replace(b"/Count 1", b"/Count 2147483647"),
    "unknown-filter": page_pdf(TEXT_OPS, b"/Filter /NoSuchDecode "),
    "filter-chain": page_pdf(zlib.compress(zlib.compress(TEXT_OPS)), b"/Filter [/FlateDecode /FlateDecode] "),
    "bad-flate": page_pdf(b"x\x9c" + b"\xff" * 500, b"/Filter /FlateDecode "),
    "predictor-bomb": page_pdf(
        zlib.compress(b"\0" * 10_000),
        b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 2147483647 /Colors 255 >> ",
    ),
    "ascii-hex-garbage": page_pdf(b"zz" * 5000, b"/Filter /ASCIIHexDecode "),
    "lzw-garbage": page_pdf(bytes(range(256)) * 20, b"/Filter /LZWDecode "),
    "encrypt-dict-broken": page_pdf(TEXT_OPS).replace(
        b"/Root 1 0 R", b"/Root 1 0 R /Encrypt << /Filter /X >>"
    ),
    "only-header": b"%PDF-1.7\n",
    "header-then-zeros": b"%PDF-1.4\n" + b"\0" * 100_000,
    "info-dict-hostile": page_pdf(TEXT_OPS).replace(
        b"/Root 1 0 R", b"/Root 1 0 R /Info << /Title [1 2] /CreationDate (D:99999999) /Author << >> >>"
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE_PDFS))
def test_malicious_pdf_structures(batch: Results, name: str) -> None:
    assert_clean([batch["hostile"][f"{name}.pdf"]])


# ------------------------------------------------------------------ HTML

FRENCH_P = "<p>Le tribunal a condamné les prévenus pour blanchiment aggravé en bande organisée.</p>"

HOSTILE_HTML = {
    "100k-nested-divs": b"<html><body>" + b"<div>" * 100_000 + FRENCH_P.encode() + b"</div>" * 100_000,
    "100k-unclosed": b"<html><body>" + b"<div><span><p>" * 33_000 + FRENCH_P.encode(),
    "100k-closing-only": b"</div>" * 100_000 + FRENCH_P.encode(),
    "nested-tables": b"<table><tr><td>" * 20_000 + FRENCH_P.encode(),
    "utf8-declared-cp1252-given": b'<meta charset="utf-8"><article>' + FRENCH_P.encode("cp1252") * 5,
    "unknown-charset": b'<meta charset="x-no-such-charset"><article>' + FRENCH_P.encode() * 5,
    "utf16-without-bom": ("<html><body><article>" + FRENCH_P * 5).encode("utf-16-le"),
    "utf16-declared-utf8-given": b'<meta charset="utf-16"><article>' + FRENCH_P.encode() * 5,
    "invalid-utf8-everywhere": b"<html><body><article><p>"
    + b"\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\x28" * 500,
    "nul-bytes": b"<html>\0<body>\0" + FRENCH_P.encode() * 5 + b"\0" * 1000,
    "huge-attribute": b'<html><body><div class="' + b"a" * 5_000_000 + b'">' + FRENCH_P.encode() * 5,
    "many-attributes": b"<div " + b" ".join(b"a%d=1" % i for i in range(100_000)) + b">" + FRENCH_P.encode(),
    "comment-never-closed": b"<html><body>" + FRENCH_P.encode() * 5 + b"<!--" + b"x" * 100_000,
    "entity-flood": b"<html><body><p>" + b"&amp;&#x10FFFF;&#0;&#xD800;&nosuch;" * 20_000 + b"</p>",
    "xml-billion-laughs": b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(b'<!ENTITY %c "%s">' % (98 + i, (b"&%c;" % (97 + i)) * 10) for i in range(9))
    + b"]><html><body><p>&j;</p></body></html>",
    "script-only": b"<html><body><script>" + b"var x = 1;" * 100_000 + b"</script></body></html>",
}


@pytest.mark.parametrize("name", list(HOSTILE_HTML))
def test_hostile_html(batch: Results, name: str) -> None:
    assert_clean([batch["hostile"][f"{name}.html"]])


# ------------------------------------------------------------------ text in every common encoding

FRENCH = (
    "Note de synthèse\n\nLa Pédocriminalité et le blanchiment aggravé : l’enquête a révélé 1 200 € "
    "d’œuvres saisies.\n"
)
RUSSIAN = "Отмывание денег\n\nСуд признал обвиняемых виновными в отмывании денег.\n"
JAPANESE = "資金洗浄\n\n裁判所は被告人に有罪判決を下した。捜査は続いている。\n"


def _encodings() -> list[tuple[str, bytes, str | None]]:
    """(id, bytes, text expected back or None when only 'extracted or rejected' is promised)."""
    supported = [
        ("utf-8", FRENCH.encode("utf-8"), FRENCH),
        ("utf-8-bom", codecs.BOM_UTF8 + FRENCH.encode("utf-8"), FRENCH),
        ("utf-16-le-bom", codecs.BOM_UTF16_LE + FRENCH.encode("utf-16-le"), FRENCH),
        ("utf-16-be-bom", codecs.BOM_UTF16_BE + FRENCH.encode("utf-16-be"), FRENCH),
        ("utf-32-le-bom", codecs.BOM_UTF32_LE + FRENCH.encode("utf-32-le"), FRENCH),
        ("utf-32-be-bom", codecs.BOM_UTF32_BE + FRENCH.encode("utf-32-be"), FRENCH),
        ("iso-8859-15", FRENCH.replace("’", "'").encode("iso8859_15"), FRENCH.replace("’", "'")),
        ("latin-1", FRENCH.replace("’", "'").replace("€", "EUR").replace("œ", "oe").encode("latin_1"), None),
    ]
    other = [
        ("utf-16-le-no-bom", FRENCH.encode("utf-16-le"), None),
        ("utf-16-be-no-bom", FRENCH.encode("utf-16-be"), None),
        ("utf-32-le-no-bom", FRENCH.encode("utf-32-le"), None),
        ("mac_roman", FRENCH.replace("€", "EUR").encode("mac_roman"), None),
        ("cp850", FRENCH.replace("€", "EUR").replace("’", "'").replace("œ", "oe").encode("cp850"), None),
        ("koi8-r", RUSSIAN.encode("koi8_r"), None),
        ("cp1251", RUSSIAN.encode("cp1251"), None),
        ("shift_jis", JAPANESE.encode("shift_jis"), None),
        ("euc-jp", JAPANESE.encode("euc_jp"), None),
        ("gb18030", JAPANESE.encode("gb18030"), None),
        ("utf-8-bom-then-latin-1", codecs.BOM_UTF8 + FRENCH.encode("latin_1", "replace"), None),
        ("utf-16-bom-odd-length", codecs.BOM_UTF16_LE + FRENCH.encode("utf-16-le") + b"\x00\xd8", None),
        ("utf-32-bom-garbage", codecs.BOM_UTF32_LE + b"\xff\xff\xff\xff" * 50, None),
        ("random-high-bytes", bytes(random.Random(7).randrange(128, 256) for _ in range(5000)), None),
        ("control-soup", bytes(random.Random(8).randrange(1, 32) for _ in range(5000)), None),
    ]
    return supported + other


ENCODINGS = _encodings()


def test_text_in_every_common_encoding(batch: Results) -> None:
    assert len(batch["encodings"]) == 2 * len(ENCODINGS)
    assert_clean(list(batch["encodings"].values()))


@pytest.mark.parametrize(
    ("data", "text"), [(d, t) for _, d, t in ENCODINGS if t], ids=[i for i, _, t in ENCODINGS if t]
)
def test_supported_encodings_read_back_the_french_text(data: bytes, text: str) -> None:
    from archive.extract import extract

    found = extract("note.txt", data, MAX_BYTES)
    words = " ".join(b.text for b in found.blocks)
    assert "Pédocriminalité" in words and "aggravé" in words and "saisies" in words


# ------------------------------------------------------------------ misleading extensions

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    + bytes(random.Random(9).randrange(256) for _ in range(2000))
)
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + zlib.compress(FRENCH.encode() * 10) + b"PK\x05\x06" + b"\0" * 18


def _misleading() -> list[tuple[str, bytes]]:
    texte = (FIXTURES / "texte.pdf").read_bytes()
    page = (FIXTURES / "page.html").read_bytes()
    return [
        ("texte.txt", texte),
        ("texte.md", texte),
        ("texte.html", texte),
        ("archive.pdf", ZIP),
        ("archive.txt", ZIP),
        ("page.md", page),
        ("page.txt", page),
        ("page.pdf", page),
        ("image.html", PNG),
        ("image.txt", PNG),
        ("image.md", PNG),
        ("image.pdf", PNG),
        ("note.pdf", FRENCH.encode()),
    ]


def test_misleading_extensions(batch: Results) -> None:
    results = batch["misleading"]
    assert len(results) == len(_misleading())
    assert_clean(list(results.values()))
    assert results["archive.pdf"]["outcome"] == "rejected"
    assert results["image.pdf"]["outcome"] == "rejected"
    assert results["note.pdf"]["outcome"] == "rejected"
    assert results["image.txt"]["outcome"] == "rejected"  # binary


# ------------------------------------------------------------------ every case above, in one worker

Results = dict[str, dict[str, dict[str, Any]]]
"""Group of cases -> file name -> how its extraction ended (see `run_cases`)."""


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Results:
    """Every case of this module's extraction tests, run once in one worker: starting a worker and its
    reader process, the readers imported, costs seconds; reading most cases, milliseconds."""
    groups = {
        "fixture": [("texte.pdf", (FIXTURES / "texte.pdf").read_bytes())],
        "flips": _flips_and_cuts(),
        "bomb": [("bombe.pdf", _zero_bomb())],
        "inflating": [("texte-gonfle.pdf", _inflating_text_layer())],
        "hostile": [(f"{n}.pdf", d) for n, d in HOSTILE_PDFS.items()]
        + [(f"{n}.html", d) for n, d in HOSTILE_HTML.items()],
        "encodings": [(f"{label}.{ext}", data) for ext in ("txt", "md") for label, data, _ in ENCODINGS],
        "misleading": _misleading(),
    }
    cases = [(f"{group}/{name}", data) for group, named in groups.items() for name, data in named]
    results: Results = {group: {} for group in groups}
    for result in run_cases(tmp_path_factory.mktemp("batch"), cases):
        group, result["name"] = result["name"].split("/", 1)
        results[group][result["name"]] = result
    return results


# ------------------------------------------------------------------ the `archive add` path


def test_archive_add_processes_a_hostile_batch_to_the_end(tmp_path: Path, zero_bomb: bytes) -> None:
    home = tmp_path / "home"
    (home / "documents").mkdir(parents=True)
    batch = tmp_path / "recu"
    batch.mkdir()
    texte = (FIXTURES / "texte.pdf").read_bytes()
    files: dict[str, bytes | str] = {
        "a-bonne-note.txt": "Note sur la contrebande\n\nLes douaniers ont saisi des cigarettes de contrebande.\n",
        "b-bombe.pdf": zero_bomb,
        "c-tronque.pdf": texte[: len(texte) // 3],
        "d-image.html": PNG,
        "e-archive.pdf": ZIP,
        "f-imbrique.html": HOSTILE_HTML["100k-nested-divs"],
        "g-binaire.txt": b"\x00\x01\x02" * 1000,
        "h-koi8.txt": RUSSIAN.encode("koi8_r"),
        "i-cycle.pdf": HOSTILE_PDFS["page-tree-cycle"],
        "z-autre-note.md": "# Escroquerie\n\nUne escroquerie aux faux placements a été jugée à Lyon.\n",
    }
    for name, content in files.items():
        (batch / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    done = subprocess.run(
        [sys.executable, "-m", "web.cli", "--home", str(home), "add", str(batch), "--to", "2024"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output[-3000:]
    assert done.returncode == 1, output[-3000:]  # something was rejected, nothing crashed
    for rejected in ("b-bombe.pdf", "d-image.html", "e-archive.pdf", "g-binaire.txt", "i-cycle.pdf"):
        assert any("rejected" in line and rejected in line for line in output.splitlines()), (
            rejected,
            output,
        )
    archive = Archive(Settings(home=home))
    try:
        assert archive.search(SearchRequest("contrebande")).total >= 1
        assert archive.search(SearchRequest("escroquerie")).total >= 1
    finally:
        archive.close()
    stored = {p.name for p in (home / "documents").rglob("*") if p.is_file()}
    assert {"a-bonne-note.txt", "z-autre-note.md"} <= stored
    assert not {"b-bombe.pdf", "d-image.html", "e-archive.pdf", "g-binaire.txt"} & stored
