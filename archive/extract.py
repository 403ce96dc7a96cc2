"""From a file's bytes to clean blocks of text and the metadata the file carries, one reader per format.

Each reader either returns an `Extracted` or raises `RejectedInput` with a reason a person understands.
"""

from __future__ import annotations

import functools
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from . import isolation
from .decoding import decode
from .errors import RejectedInput
from .metadata import html_source
from .models import Block, Extracted

if TYPE_CHECKING:  # the reader worker imports this module, never the cache
    from .extracted import ExtractedCache

VERSION = 2
"""Bump it when a change here, in decoding.py or in `metadata.html_source` changes what some file reads as:
the extraction cache then reads every file again (it adds the readers' library versions itself)."""

FORMATS: dict[str, str] = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
"""File extensions the archive reads, and the format each one means."""

MEDIA_TYPES: dict[str, str] = {
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html",
    "pdf": "application/pdf",
}

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n")


def format_of(name: str) -> str | None:
    """The format of a file name by its extension, or None when the archive cannot read it."""
    return FORMATS.get(PurePosixPath(name).suffix.lower())


def libraries(name: str) -> tuple[str, ...]:
    """The modules the reader of a file named `name` imports: a worker imports them before the file's
    time budget starts (none when no reader takes the file)."""
    fmt = format_of(name)
    return _LIBRARIES[fmt] if fmt else ()


def extract(
    name: str, data: bytes, max_bytes: int, cache: ExtractedCache | None = None, sha: str | None = None
) -> Extracted:
    """Read one file. `name` only decides the format; `data` is its whole content (SHA-256 `sha`, if known).
    With a `cache`, the reading of the same bytes by the same readers is taken from it when kept there."""
    fmt = format_of(name)
    if fmt is None:
        suffix = PurePosixPath(name).suffix or "(none)"
        raise RejectedInput(
            name,
            "unsupported_format",
            f"unsupported format {suffix}: the archive reads {', '.join(sorted(FORMATS))}",
        )
    if not data.strip():
        raise RejectedInput(name, "empty", "empty file")
    if len(data) > max_bytes:
        raise RejectedInput(
            name,
            "too_large",
            f"file too large ({len(data) / 1e6:.1f} MB, the limit is {max_bytes / 1e6:.0f} MB)",
        )
    # every reader runs in a worker process that is stopped when the file uses up its time budget;
    # a reader's bug costs one file (RejectedInput), never the batch
    read = functools.partial(isolation.run, _READERS[fmt], name, data, _LIBRARIES[fmt])
    extracted = read() if cache is None else cache.get_or_read(name, data, sha, fmt, read)
    if not any(b.text.strip() for b in extracted.blocks):
        raise RejectedInput(name, "empty", "no text to index in this file")
    return extracted


def read_in_process(name: str, data: bytes) -> Extracted:
    """The format's reader on `data` in this process: no worker, no time budget, no size or empty check.

    What `extract` runs inside the isolation worker, for measuring the floor of extraction (`bench/ingest.py`)
    and nothing else: here a hostile file can hang or crash the caller, which `extract` exists to prevent.
    """
    fmt = format_of(name)
    if fmt is None:
        raise RejectedInput(name, "unsupported_format", f"unsupported format: {name}")
    return _READERS[fmt](name, data)


# ---------------------------------------------------------------- text


def _paragraphs(text: str) -> Iterator[str]:
    """Blank-line separated paragraphs, hard-wrapped lines joined, spaces squeezed."""
    for chunk in _BLANK_LINES.split(text):
        para = _SPACES.sub(" ", " ".join(line.strip() for line in chunk.split("\n"))).strip()
        if para:
            yield para


def _read_txt(name: str, data: bytes) -> Extracted:
    text, encoding = decode(name, data)
    paras = list(_paragraphs(text))
    blocks = [Block(p) for p in paras]
    metadata: dict[str, Any] = {}
    # spaced as its paragraph is: French typography puts a no-break space before ? : ; ! (« extrait ? »)
    first = _SPACES.sub(" ", text.strip().split("\n", 1)[0]).strip()
    if len(paras) > 1 and first == paras[0] and _title_line(first, sum(map(len, paras[1:]))):
        blocks[0] = Block(first, heading=True)
        metadata["title"] = first
    return Extracted(tuple(blocks), metadata, "txt", encoding)


def _title_line(first: str, after: int) -> bool:
    """Whether a text's first line, alone in its paragraph, is its title. Legal headings run long (« Code
    de procédure pénale — Des saisies spéciales — Chapitre Ier : Dispositions communes. », up to 300
    characters) and may end with a full stop. A line ending in `:` introduces what follows; one ending in a
    full stop counts when the text after it (`after` characters) is at least twice as long, as a heading's
    is (a text opening with a short sentence then gets that sentence as its title, which still reads
    better than its file name; a closing « Fin. » does not make its first line a title)."""
    if len(first) > _TITLE_CHARS or first.endswith(":"):
        return False
    return not first.endswith(".") or 2 * len(first) <= after


_TITLE_CHARS = 320


# ---------------------------------------------------------------- markdown


def _read_md(name: str, data: bytes) -> Extracted:
    import frontmatter
    import yaml

    text, encoding = decode(name, data)
    try:
        post = frontmatter.loads(text)
    except (yaml.YAMLError, ValueError, TypeError) as e:  # PyYAML raises ValueError on `date: 2024-13-01`
        raise RejectedInput(
            name, "bad_metadata", f"front matter is not valid YAML: {_first_line(e)}"
        ) from None
    metadata = dict(post.metadata) if isinstance(post.metadata, dict) else {}
    blocks = markdown_blocks(post.content)
    if "title" not in metadata:
        heading = next((b.text for b in blocks if b.heading), None)
        if heading:
            metadata["title"] = heading
    return Extracted(tuple(blocks), metadata, "md", encoding)


def _first_line(error: Exception) -> str:
    return str(error).strip().split("\n", 1)[0]


def markdown_blocks(source: str) -> list[Block]:
    """Headings and paragraphs of a Markdown text, markup removed (links keep their text, HTML tags go)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    blocks: list[Block] = []
    heading = False
    row: list[str] = []
    for tok in md.parse(source):
        if tok.type == "heading_open":
            heading = True
        elif tok.type == "heading_close":
            heading = False
        elif tok.type == "inline":
            text = _SPACES.sub(" ", _inline_text(tok.children or [])).strip()
            if tok.map is None and row is not None and text:
                row.append(text)
            elif text:
                blocks.append(Block(text, heading))
        elif tok.type in ("fence", "code_block"):
            text = _SPACES.sub(" ", " ".join(tok.content.split())).strip()
            if text:
                blocks.append(Block(text))
        elif tok.type == "tr_close" and row:
            blocks.append(Block(" | ".join(row)))
            row = []
    return blocks


def _inline_text(children: list[Any]) -> str:
    out: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif child.type == "image":
            out.append(_inline_text(child.children or []))
    return "".join(out)


# ---------------------------------------------------------------- html


_MAX_TAG_BYTES = 262_144
"""A tag longer than this (a 5 MB attribute, 100,000 attributes) is an attack, not a web page.

Scripts are scanned too: 256 KB of code without a `>` does not occur in real pages."""


def _longest_tag(data: bytes) -> int:
    """The length of the longest `<...>` in the page, in one linear scan."""
    longest = pos = 0
    while (start := data.find(b"<", pos)) != -1:
        end = data.find(b">", start)
        if end == -1:
            return max(longest, len(data) - start)
        longest = max(longest, end - start)
        pos = end + 1
    return longest


def _read_html(name: str, data: bytes) -> Extracted:
    import trafilatura

    if _longest_tag(data) > _MAX_TAG_BYTES:
        raise RejectedInput(
            name, "too_complex", "an HTML tag longer than 256 KB: not a page a reader would see"
        )

    try:
        body = trafilatura.extract(
            data,
            favor_precision=True,
            include_comments=False,
            include_tables=True,
            output_format="markdown",
            include_formatting=True,
            deduplicate=False,
        )
        # extensive=False: a date is read from the page's metadata, never guessed from "© 2024" in a footer
        meta = trafilatura.extract_metadata(data, extensive=False)
    except Exception as e:  # trafilatura raises a variety of parser errors on broken pages
        raise RejectedInput(
            name, "unreadable", f"could not parse this HTML page ({type(e).__name__})"
        ) from None
    if not body:
        raise RejectedInput(name, "empty", "no readable main text in this HTML page")
    if len(body.split()) < _MIN_HTML_WORDS:  # a page of menus: what is left is navigation, not an article
        raise RejectedInput(
            name, "empty", f"no readable main text in this HTML page (only {body.strip()[:40]!r})"
        )
    metadata: dict[str, Any] = {}
    if meta is not None:
        for field, attr in (
            ("title", "title"),
            ("date", "date"),
            ("description", "description"),
            ("url", "url"),
        ):
            value = getattr(meta, attr, None)
            if value:
                metadata[field] = value
    source = html_source(data, getattr(meta, "sitename", None), [metadata.get("title")])
    if source:
        metadata["source"] = source
    lang = re.search(rb"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2})", data[:4096], re.IGNORECASE)
    if lang:
        metadata["language"] = lang.group(1).decode("ascii").lower()
    return Extracted(tuple(markdown_blocks(body)), metadata, "html")


# ---------------------------------------------------------------- pdf

_MIN_HTML_WORDS = 5
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?\d{1,4}(?:\s*(?:/|sur)\s*\d{1,4})?$", re.IGNORECASE)


def _read_pdf(name: str, data: bytes) -> Extracted:
    import pypdf
    from pypdf.errors import PdfReadError

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise RejectedInput(name, "unreadable", "not a PDF file (no %PDF header)")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise RejectedInput(name, "encrypted", "encrypted PDF: cannot read its text without the password")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except RejectedInput:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as e:
        raise RejectedInput(name, "unreadable", f"damaged PDF: {type(e).__name__}") from None
    except Exception as e:  # pypdf's decoders raise more than its documented errors on hostile files
        if "password" in str(e).lower() or "crypt" in type(e).__name__.lower():
            raise RejectedInput(
                name, "encrypted", "encrypted PDF: cannot read its text without the password"
            ) from None
        raise RejectedInput(name, "unreadable", f"damaged PDF: {type(e).__name__}") from None
    if not "".join(pages).strip():
        raise RejectedInput(name, "no_text_layer", "PDF with no text layer (scanned? no text layer)")
    metadata = _pdf_metadata(info) if info else {}
    return Extracted(tuple(_pdf_blocks(pages)), metadata, "pdf")


def _pdf_metadata(info: Any) -> dict[str, Any]:
    """Title, description, source and date from a PDF's information dictionary, when it says them."""
    metadata: dict[str, Any] = {}
    if info.title and str(info.title).strip():
        metadata["title"] = str(info.title).strip()
    if info.subject and str(info.subject).strip():
        metadata["description"] = str(info.subject).strip()
    if info.author and str(info.author).strip():
        metadata["source"] = str(info.author).strip()
    try:
        created = info.creation_date
    except Exception:  # a malformed date string in the info dictionary
        created = None
    if created:
        metadata["date"] = created.date().isoformat()
    return metadata


def _pdf_blocks(pages: list[str]) -> list[Block]:
    """Rebuild paragraphs from PDF lines: join wrapped lines, undo end-of-line hyphenation, find headings."""
    split_pages = [
        [_SPACES.sub(" ", ln).strip() for ln in unicodedata.normalize("NFC", page).split("\n")]
        for page in pages
    ]
    running = _running_lines(split_pages)
    lines: list[str] = []
    for page_lines in split_pages:
        lines.extend(ln for ln in page_lines if not _PAGE_NUMBER.match(ln) and ln not in running)
    width = max((len(ln) for ln in lines), default=0)
    paragraphs: list[tuple[str, bool]] = []
    current = ""
    for i, line in enumerate(lines):
        if not line:
            if current:
                paragraphs.append((current, False))
                current = ""
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if not current and _looks_like_heading(line, nxt, width):
            paragraphs.append((line, True))
            continue
        if current.endswith("-") and line[:1].islower():
            current = current[:-1] + line
        else:
            current = f"{current} {line}" if current else line
        if line.endswith((".", "!", "?", "»", ":")) and len(line) < 0.8 * width:
            paragraphs.append((current, False))
            current = ""
    if current:
        paragraphs.append((current, False))
    return [Block(text, heading) for text, heading in paragraphs]


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Running headers and footers: the same line near the top or bottom of most pages."""
    if len(pages) < 2:
        return set()
    seen: dict[str, int] = {}
    for page in pages:
        content = [ln for ln in page if ln]
        for line in set(content[:2] + content[-2:]):
            seen[line] = seen.get(line, 0) + 1
    return {line for line, n in seen.items() if n >= max(2, (len(pages) + 1) // 2)}


def _looks_like_heading(line: str, nxt: str, width: int) -> bool:
    words = line.split()
    return (
        0 < len(words) <= 12
        and len(line) < 0.7 * max(width, 1)
        and not line.endswith((".", ",", ";", ":", "-"))
        and (line[0].isupper() or line[0].isdigit())
        and bool(nxt)
    )


_LIBRARIES: dict[str, tuple[str, ...]] = {
    "txt": ("charset_normalizer",),
    "md": ("charset_normalizer", "frontmatter", "yaml", "markdown_it"),
    "html": ("trafilatura", "lxml.html"),
    "pdf": ("pypdf",),
}
"""What each reader imports: the worker imports it before a file's time budget starts."""

_READERS: dict[str, Callable[[str, bytes], Extracted]] = {
    "txt": _read_txt,
    "md": _read_md,
    "html": _read_html,
    "pdf": _read_pdf,
}
