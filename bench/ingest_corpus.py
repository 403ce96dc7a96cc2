"""The ingest benchmark's batch: files an archivist would add, generated (seeded) from the legal codes.

Each file starts at a different *chapter* of `codes-all` (the consecutive articles of a code under one
heading), chapters taken in a seeded shuffled order, and takes the articles from there (into the next
chapters of the same code) until it reaches its drawn length (log-normal, median 400 words): about 11
passages a file. Each article is a section (« Article L. 123-4 ») and its paragraphs follow. The formats,
in the issue's proportions (600 HTML, 200 PDF, 600 Markdown, 600 text files at 2,000 files):

- **HTML**: a news or legal site's page around the text: cookie banner, navigation, breadcrumb, an aside
  of related links, share buttons, a footer, analytics scripts; title, date and site name in `<meta>`.
- **PDF**: written by fpdf2 with DejaVu Sans (Unicode; fpdf2's core fonts are Latin-1 only and would lose
  « œ » and « ’ »), a running header, page numbers, title/author/subject/creation date in the info.
- **Markdown**: YAML front matter (title, date, source), `#` title, `##` per article.
- **Text**: title line, hard-wrapped at 72 columns; half UTF-8, a third cp1252, the rest Latin-1 (where
  « œ » and « ’ » become « oe » and « ' », as in old files).

    .venv/bin/python -m bench.ingest_corpus --files 2000 --out /tmp/batch
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import random
import shutil
import textwrap
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import corpus

SEED = 20251215
SHARES = {"html": 600, "pdf": 200, "md": 600, "txt": 600}
"""Files of each format in the issue's batch of 2,000; other sizes keep the proportions."""
DEFAULT_FILES = sum(SHARES.values())
SUFFIX = {"html": ".html", "pdf": ".pdf", "md": ".md", "txt": ".txt"}
MEDIAN_WORDS = 400
STAMP = ".batch.json"
"""What a written batch was made with (hidden: `archive add` of the folder leaves it out)."""
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


@dataclass(frozen=True)
class Piece:
    """The text of one generated file: a title, its sections (article, paragraphs) and its metadata."""

    title: str
    code: str
    sections: tuple[tuple[str, tuple[str, ...]], ...]
    date: str
    source: str

    def words(self) -> int:
        """Words of the sections' paragraphs."""
        return sum(len(p.split()) for _, paras in self.sections for p in paras)


def counts(files: int) -> dict[str, int]:
    """Files of each format for a batch of `files` (the issue's proportions; at least one of each)."""
    out = {fmt: max(1, round(files * share / DEFAULT_FILES)) for fmt, share in SHARES.items()}
    out["txt"] = max(1, files - sum(v for k, v in out.items() if k != "txt"))
    return out


def pieces(n: int, seed: int = SEED, directory: Path | None = None) -> Iterator[Piece]:
    """`n` pieces of text in the seeded order: each starts a different chapter, so every file is distinct."""
    rows = corpus.read_rows(corpus.ALL, directory or corpus.CORPUS_DIR)
    starts = [
        i
        for i, row in enumerate(rows)
        if i == 0 or (rows[i - 1].code, rows[i - 1].heading) != (row.code, row.heading)
    ]
    rng = random.Random(seed)
    rng.shuffle(starts)
    for start in starts[:n]:
        target = min(5000, max(100, rng.lognormvariate(0, 0.6) * MEDIAN_WORDS))
        taken, words = [rows[start]], len(rows[start].text.split())
        for row in rows[start + 1 :]:
            if words >= target or row.code != taken[0].code:
                break
            taken.append(row)
            words += len(row.text.split())
        yield _piece(taken, rng)


def _piece(rows: list[corpus.Row], rng: random.Random) -> Piece:
    first = rows[0]
    heading = first.heading.split(":", 1)[-1].strip() or f"article {first.article}"
    sections = tuple(
        (f"Article {r.article}", tuple(p.strip() for p in r.text.split("\n\n") if p.strip())) for r in rows
    )
    date = dt.date(rng.randint(1995, 2024), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
    source = rng.choices(corpus.SOURCES, corpus.SOURCE_WEIGHTS)[0]
    return Piece(f"{first.code} — {heading}"[:140], first.code, sections, date, source)


# ---------------------------------------------------------------- the formats


def markdown(piece: Piece) -> bytes:
    """A Markdown file with YAML front matter (title, date, source)."""
    lines = [
        "---",
        f"title: {json.dumps(piece.title, ensure_ascii=False)}",
        f"date: {piece.date}",
        f"source: {json.dumps(piece.source, ensure_ascii=False)}",
        "---",
        "",
        f"# {piece.title}",
        "",
    ]
    for heading, paras in piece.sections:
        lines += [f"## {heading}", "", *(p + "\n" for p in paras)]
    return "\n".join(lines).encode("utf-8")


_LATIN1 = str.maketrans({"œ": "oe", "Œ": "OE", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...", "–": "-"})


def text(piece: Piece, encoding: str) -> bytes:
    """A plain text file: title line, then each article's heading and its paragraphs, wrapped at 72."""
    out = [piece.title, ""]
    for heading, paras in piece.sections:
        out += [heading, ""]
        out += [textwrap.fill(p, 72) + "\n" for p in paras]
    body = "\n".join(out)
    if encoding == "latin-1":
        body = body.translate(_LATIN1)
    return body.encode(encoding, errors="replace")


_NAV = (
    "Accueil",
    "Actualités",
    "Justice",
    "Société",
    "Économie",
    "Codes et lois",
    "Jurisprudence",
    "Contact",
)
_SCRIPT = (
    "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
    "gtag('js',new Date());gtag('config','G-XXXXXX');"
)


def page(piece: Piece, related: list[str]) -> bytes:
    """An HTML page: the text in <article>, inside a site's boilerplate (banner, nav, aside, footer)."""
    e = html.escape
    body = "".join(
        f"<h2>{e(h)}</h2>\n" + "".join(f"<p>{e(p)}</p>\n" for p in paras) for h, paras in piece.sections
    )
    links = "".join(f'<li><a href="/article/{i}">{e(t)}</a></li>' for i, t in enumerate(related))
    nav = "".join(f'<li><a href="/{e(n.lower())}">{e(n)}</a></li>' for n in _NAV)
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>{e(piece.title)} | {e(piece.source)}</title>
<meta name="description" content="{e(piece.title)}">
<meta property="og:site_name" content="{e(piece.source)}">
<meta property="article:published_time" content="{piece.date}">
<link rel="stylesheet" href="/static/site.css"><script>{_SCRIPT}</script></head>
<body>
<div id="cookie-banner" class="cookie-consent"><p>Nous utilisons des cookies pour mesurer l'audience et
personnaliser le contenu. Vous pouvez accepter ou refuser ces cookies à tout moment.</p>
<button>Tout accepter</button> <button>Tout refuser</button> <a href="/cookies">Paramétrer</a></div>
<header><a class="logo" href="/">{e(piece.source)}</a><nav><ul>{nav}</ul></nav>
<form action="/recherche"><input name="q" placeholder="Rechercher"></form></header>
<main><nav class="breadcrumb"><a href="/">Accueil</a> › <a href="/codes">Codes</a> › {e(piece.code)}</nav>
<article><h1>{e(piece.title)}</h1>
<p class="byline">Publié le <time datetime="{piece.date}">{piece.date}</time> par la rédaction</p>
{body}<div class="share">Partager : <a href="#">Facebook</a> <a href="#">X</a> <a href="#">LinkedIn</a></div>
</article>
<aside class="related"><h3>À lire aussi</h3><ul>{links}</ul>
<div class="newsletter">Recevez chaque matin notre lettre d'information juridique. <a href="/abonnement">
S'abonner</a></div></aside></main>
<footer><ul><li><a href="/mentions-legales">Mentions légales</a></li><li><a href="/cgu">Conditions
d'utilisation</a></li><li><a href="/plan">Plan du site</a></li></ul><p>© {piece.date[:4]} {e(piece.source)}.
Tous droits réservés.</p></footer>
<script src="/static/analytics.js" async></script><script>document.querySelector('.cookie-consent');</script>
</body></html>
""".encode()


def font_dir() -> Path | None:
    """The folder holding DejaVu Sans (regular and bold), or None."""
    for d in FONT_DIRS:
        if (d / "DejaVuSans.ttf").is_file() and (d / "DejaVuSans-Bold.ttf").is_file():
            return d
    return None


def pdf(piece: Piece) -> bytes:
    """A PDF written with fpdf2: DejaVu Sans, running header, page numbers, the info dictionary."""
    from fpdf import FPDF

    class _Document(FPDF):
        def header(self) -> None:
            self.set_font("DejaVu", "", 8)
            self.cell(0, 8, piece.code, align="C", new_x="LMARGIN", new_y="NEXT")

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("DejaVu", "", 8)
            self.cell(0, 10, f"Page {self.page_no()}", align="C")

    fonts = font_dir()
    if fonts is None:
        raise SystemExit(
            "DejaVu Sans not found (Debian: apt-get install fonts-dejavu-core): the PDFs need it"
        )
    doc = _Document()
    doc.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    doc.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    doc.set_title(piece.title)
    doc.set_author(piece.source)
    doc.set_subject(piece.code)
    doc.set_creation_date(dt.datetime.fromisoformat(piece.date + "T10:00:00+00:00"))
    doc.add_page()
    doc.set_font("DejaVu", "B", 14)
    doc.multi_cell(0, 8, piece.title, new_x="LMARGIN", new_y="NEXT")
    for heading, paras in piece.sections:
        doc.ln(3)
        doc.set_font("DejaVu", "B", 11)
        doc.cell(0, 7, heading, new_x="LMARGIN", new_y="NEXT")
        doc.set_font("DejaVu", "", 10)
        for para in paras:
            doc.multi_cell(0, 5, para, new_x="LMARGIN", new_y="NEXT")
            doc.ln(2)
    return bytes(doc.output())


# ---------------------------------------------------------------- the batch


def write(
    out: Path, files: int = DEFAULT_FILES, seed: int = SEED, directory: Path | None = None
) -> dict[str, int]:
    """Write the batch into out/<format>/ (once: kept while its `batch.json` says the same size and seed)."""
    stamp = out / STAMP
    wanted = counts(files)
    if stamp.is_file() and json.loads(stamp.read_text()) == {"seed": seed, "files": wanted}:
        return wanted
    for fmt in SHARES:  # a batch of another size or seed: its files go
        shutil.rmtree(out / fmt, ignore_errors=True)
    rng = random.Random(seed + 1)
    formats = [fmt for fmt, n in wanted.items() for _ in range(n)]
    rng.shuffle(formats)
    titles: list[str] = []
    for i, (fmt, piece) in enumerate(zip(formats, pieces(len(formats), seed, directory), strict=True)):
        name = unicodedata.normalize("NFKD", corpus.slug(piece.code)).encode("ascii", "ignore").decode()
        target = out / fmt / f"{i:05d}-{name[:40]}{SUFFIX[fmt]}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_render(fmt, piece, rng, titles))
        titles.append(piece.title)
    stamp.write_text(json.dumps({"seed": seed, "files": wanted}))
    return wanted


def _render(fmt: str, piece: Piece, rng: random.Random, titles: list[str]) -> bytes:
    if fmt == "html":
        return page(piece, rng.sample(titles, min(5, len(titles))))
    if fmt == "pdf":
        return pdf(piece)
    if fmt == "md":
        return markdown(piece)
    return text(piece, rng.choices(("utf-8", "cp1252", "latin-1"), (3, 2, 1))[0])


def tiny(out: Path, files: int, seed: int = SEED) -> Path:
    """`files` small distinct text files (a sentence or two each) in `out`, for the memory-scaling step."""
    stamp = out / STAMP
    if stamp.is_file() and json.loads(stamp.read_text()) == {"tiny": files, "seed": seed}:
        return out
    rng = random.Random(seed)
    words = "enquête garde vue parquet tribunal juge saisie amende délit prévenu audience".split()
    out.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        body = " ".join(rng.choice(words) for _ in range(30))
        (out / f"note-{i:06d}.txt").write_text(f"Note {i}\n\nLa note {i} dit : {body}.\n", "utf-8")
    stamp.write_text(json.dumps({"tiny": files, "seed": seed}))
    return out


def main() -> None:
    """Write a batch from the command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=DEFAULT_FILES)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    print(write(a.out, a.files, a.seed))


if __name__ == "__main__":
    main()
