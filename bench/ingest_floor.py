"""The floor of ingest: the bare extraction of a batch's files, one process, our readers called in-process.

For each file (sorted by path): read its bytes, then `archive.read_in_process(name, data)`, the reader of
its format exactly as `archive add` runs it inside the isolation worker (UTF-8/code page detection and
paragraphs for text; front matter and markdown-it for Markdown; trafilatura's main text, then its
metadata, for HTML; pypdf's text layer and the rebuilt paragraphs for PDF). Nothing else: no isolation
worker or time budget, no metadata merging, no splitting into passages, no tagging, no analysis, no
index, no copy into documents/. Timed from outside as a whole process (interpreter start and the
readers' imports included, as they are in `archive add`); it also reports its own in-process seconds
per format, imports excluded (each format's libraries are imported before its clock starts).

    .venv/bin/python -m bench.ingest_floor BATCH_DIR --out floor.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path

from archive import RejectedInput, read_in_process

LIBRARIES = {
    ".html": ("trafilatura",),
    ".pdf": ("pypdf",),
    ".md": ("frontmatter", "yaml", "markdown_it", "charset_normalizer"),
    ".txt": ("charset_normalizer",),
}
FORMAT_NAMES = {".html": "html", ".pdf": "pdf", ".md": "md", ".txt": "txt"}


def extract_all(root: Path) -> dict[str, dict[str, float]]:
    """Every file under `root` through its reader: per format, files, seconds, blocks, characters, rejects."""
    files = sorted(p for p in root.rglob("*") if p.suffix in LIBRARIES)
    for suffix in {p.suffix for p in files}:  # imports outside the clocks, as the reader worker does
        for module in LIBRARIES[suffix]:
            importlib.import_module(module)
    out: dict[str, dict[str, float]] = {}
    for path in files:
        row = out.setdefault(
            FORMAT_NAMES[path.suffix], {"files": 0, "seconds": 0.0, "blocks": 0, "chars": 0, "rejected": 0}
        )
        started = time.perf_counter()
        data = path.read_bytes()
        try:
            extracted = read_in_process(path.name, data)
        except RejectedInput:
            row["rejected"] += 1
            extracted = None
        row["seconds"] += time.perf_counter() - started
        row["files"] += 1
        if extracted is not None:
            row["blocks"] += len(extracted.blocks)
            row["chars"] += sum(len(b.text) for b in extracted.blocks)
    return out


def main() -> None:
    """Extract the folders given and write the per-format figures as JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", type=Path)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    a.out.write_text(json.dumps(extract_all(a.root), indent=1))


if __name__ == "__main__":
    main()
