"""Analyzer chains compared in `make bench-quality` (issue 13): the conflation set, ranking, speed.

Each chain replaces only the stemming step of `archive.analysis` (tokens, elisions, stop words, compounds
and numbers stay the archive's) through `analysis.stemming`, and the whole archive is built and searched
with it: one index per chain over the quality corpus, built in this process (no helper process, which
would import the default chain), so equal scores are ordered alike for every chain.

- `lexicon` (chosen, `archive.analysis.base`): the key the French lexicon (`archive/lexicon.py`, derived
  from simplemma's dictionary) gives a word it knows, the rules' stem for the others.
- `rules` (`archive.analysis.stem`): inflections removed by rules from the accent-folded word, alone (the
  analyzer before issue 13 was finished).
- `fixed-point`: the analyzer before issue 13, Snowball (PyStemmer) on the folded word until it stops
  changing.
- `light_french`: Savoy's light stemmer as Lucene/Elasticsearch run it (`bench/light_french.py`), folded.
- `simplemma`: the simplemma French lemma of the word as written, folded.
- `snowball-once`: Snowball once on the accented word, a word written without accents first mapped to
  the accented form the vocabulary holds most often (the corpus's words here), the stem folded.
- `rules+ation`, `simplemma+rules`: variants tried on the way (a derivational -ation rule; lemmas then
  the rules).
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simplemma
import Stemmer

from archive import Archive, Document, SearchRequest, Settings, Taxonomy, analysis, build_index

from . import conflation, light_french

Step = Callable[[str], str]
_SNOWBALL = Stemmer.Stemmer("french")


@dataclass(frozen=True)
class Chain:
    """A candidate stemming step: a lowercase word, accents kept, to its key."""

    name: str
    description: str
    step: Step


def fixed_point(word: str) -> str:
    """The analyzer before issue 13: Snowball on the folded word until its output stops changing."""
    folded = analysis.fold(word)
    if len(folded) > 3 and folded[-1] == "s" and folded[-2] in "uo":
        folded = folded[:-1]
    stem = folded
    for _ in range(4):
        nxt = _SNOWBALL.stemWord(stem)
        if nxt == stem:
            break
        stem = nxt
    return stem[:-2] + "c" if stem.endswith("iqu") else stem


def lemma(word: str) -> str:
    """simplemma's French lemma of the word as written."""
    return str(simplemma.lemmatize(word, lang="fr"))


def accented(words: Counter[str]) -> Step:
    """Snowball once on the accented word; an unaccented word first becomes its most frequent accented form."""
    forms: dict[str, str] = {}
    for word, _count in words.most_common():
        forms.setdefault(analysis.fold(word), word)

    def step(word: str) -> str:
        if word == analysis.fold(word):
            word = forms.get(word, word)
        return analysis.fold(_SNOWBALL.stemWord(word))

    return step


def with_ation(word: str) -> str:
    """The rules, plus -ation removed from words of nine letters or more (`infiltration`)."""
    folded = analysis.fold(word)
    if len(folded) >= 9 and folded.endswith(("ation", "ations")):
        return folded[: folded.rindex("ation")]
    return analysis.stem(word)


def chains(words: Counter[str]) -> list[Chain]:
    """The candidates, the chosen one first; `words` (corpus words as written) feed `snowball-once`."""
    fold = analysis.fold
    return [
        Chain("lexicon", "lexicon keys where known, else the rules (chosen)", analysis.base),
        Chain("rules", "inflection rules on the folded word (before issue-13 finish)", analysis.stem),
        Chain("fixed-point", "Snowball to a fixed point on the folded word (before issue 13)", fixed_point),
        Chain(
            "light_french",
            "Savoy's light stemmer (Elasticsearch), folded",
            lambda w: fold(light_french.stem(w)),
        ),
        Chain("simplemma", "simplemma French lemma, folded", lambda w: fold(lemma(w))),
        Chain("snowball-once", "Snowball once on the accented word, unaccented mapped", accented(words)),
        Chain("rules+ation", "the rules plus -ation removal", with_ation),
        Chain("simplemma+rules", "simplemma lemma, then the rules", lambda w: analysis.stem(lemma(w))),
    ]


class ChainPeer:
    """Our archive analysed with one chain (inside `analysis.stemming`): built in this process, searched
    with `Archive.search`."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.archive: Archive | None = None

    def build(self, directory: Path, documents: list[Document]) -> float:
        """Index the documents (no helper process): the seconds it took."""
        shutil.rmtree(directory, ignore_errors=True)
        start = time.perf_counter()
        build_index(directory / "index", documents, Taxonomy.load().fingerprint, parallel_after=None)
        self.archive = Archive(Settings(home=directory))
        return time.perf_counter() - start

    def rank(self, text: str, limit: int = 100) -> list[str]:
        """Document ids of the top `limit` passages for free text."""
        assert self.archive is not None
        return [h.document for h in self.archive.search(SearchRequest(text, per_page=limit)).hits]


def corpus_words(documents: list[Document]) -> Counter[str]:
    """The words of the documents' passages as written (lowercase), with their counts."""
    words: Counter[str] = Counter()
    for d in documents:
        for p in d.passages:
            words.update(t.word.lower() for t in analysis.tokens(p.text) if t.word.isalpha())
    return words


def measure(
    work: Path, documents: list[Document], rank: Callable[[ChainPeer], tuple[float, float, list[float]]]
) -> dict[str, Any]:
    """Every chain on the conflation set, on ranking (`rank`: MRR@10, nDCG@10 and nDCG@10 per judged query
    of a built peer) and on
    speed (build seconds; analysis of up to 20,000 passages and of every distinct word, caches cold):
    the results by chain name, in the order of `chains`. Indexes are rebuilt each run (seconds each)."""
    pairs = conflation.load()
    words = corpus_words(documents)
    texts = [p.text for d in documents for p in d.passages][:20_000]
    distinct = sorted(words)
    out: dict[str, Any] = {}
    for chain in chains(words):
        peer = ChainPeer(chain)
        with analysis.stemming(chain.step):
            scores = conflation.score(pairs)
            seconds = peer.build(work / chain.name, documents)
            mrr10, ndcg10, per_query = rank(peer)
        out[chain.name] = {
            "description": chain.description,
            **scores,
            "mrr10": mrr10,
            "ndcg10": ndcg10,
            "ndcg_per_query": per_query,
            "build_s": seconds,
            **conflation.throughput(chain.step, texts, distinct),
        }
        print(
            chain.name,
            f"meet {scores['meet_recall']:.3f} apart {scores['apart_precision']:.3f}",
            f"mrr {mrr10:.3f} ndcg {ndcg10:.3f}",
            flush=True,
        )
    return out


WHY = """\
**Why `lexicon`.** The analyzer before issue 13 owed its recall to over-stemming: run until it stops
changing, Snowball strips suffix after suffix (`casier` → `cas`, `personnalisé` → `personnal`) and
conflates derivations (`publique`/`publicité`, `favoritisme`/`favorable`). Snowball once and Savoy's light
stemmer still remove derivational suffixes and lose verb forms. Rules that remove inflections only
(`rules`) keep derivations apart, but no rule on letters reaches irregular forms (`condamnait`, `saisit`,
`prévu`, `commis`) or tells a noun from the verb whose stem it spells (`manière`/`manier`,
`port`/`porter`, `recel`/`receler`, `vol`/`voler`). simplemma's dictionary knows both, but alone
(`simplemma`) it is accent-sensitive (`prevenu` is not `prévenu`) and inconsistent from one form to the
next (`condamnés` → `condamné`, `condamnée` → `condamner`), and lemmas then rules (`simplemma+rules`)
keep the rules' merges. `lexicon` derives from the dictionary, once, the words whose key should differ
from the rules' stem — verb forms to their verb's key, nouns whose stem is a verb's to a key of their own
— keyed by the folded word, so that accents still never matter and the vocabulary of folded words still
serves prefixes, fuzzy terms and suggestions; every other word keeps the rules' stem (README, "French
analysis"; the rules of the derivation in `archive/lexicon.py`). What it cannot separate: words that fold
alike (`pêche`/`péché`, `côte`/`côté`, `arme`/`armé`), nouns spelled as a participle (`partie`/`partir`,
`armée`/`armer`) and homographs of inflected forms (`cour`/`cours`, `France`/`franc`). Its merges of
irregular verb forms cost some known-item MRR against `rules` (queries of five words copied from one
article: a wider key finds more articles), while keeping nouns from verbs gains judged nDCG."""


def render(chains_: dict[str, Any], queries: list[str]) -> list[str]:
    """The analyzer section of results/quality.md from `measure`'s results (`queries`: the judged ones)."""
    chosen, rules, before = chains_["lexicon"], chains_["rules"], chains_["fixed-point"]
    first = next(iter(chains_.values()))
    lines = [
        "### French analysis: candidate chains (issue 13)",
        "",
        f"Conflation set `bench/conflation.tsv`: {first['meet_pairs']} pairs that must meet and "
        f"{first['apart_pairs']} that must not, each with its kind and source (the issue's examples, pairs "
        "from the largest groups of corpus words the previous keys merged, general French). Each chain "
        "replaces only the stemming step of `archive/analysis.py`; the archive is built with it in one "
        "process and searched on the corpus above, so the MRR and nDCG of this table compare with each other "
        "(not exactly with the first table's, built with a helper process). Build: seconds for the whole "
        "index; analysis: passages per second analysed as the indexer does and corpus words keyed per "
        "second, caches cold (the lexicon's table loaded), best of three (the machine is shared: a few tens "
        "of percent are noise).",
        "",
        "| chain | must-meet recall | must-not precision | MRR@10 | nDCG@10 | build s | passages/s | words/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, c in chains_.items():
        lines.append(
            f"| `{name}`: {c['description']} | {c['meet_recall']:.3f} | {c['apart_precision']:.3f} | "
            f"{c['mrr10']:.3f} | {c['ndcg10']:.3f} | {c['build_s']:.1f} | {c['passages_per_s']:,.0f} | "
            f"{c['words_per_s']:,.0f} |"
        )
    lines += [
        "",
        *_verdict(chosen, before),
        _moved(queries, before, chosen, "`fixed-point` to `lexicon`"),
        _moved(queries, rules, chosen, "`rules` to `lexicon`"),
        "",
        *_kinds(chains_),
        "",
        WHY,
        "",
        "",  # a blank line before whatever section follows
    ]
    return lines


def _moved(queries: list[str], a: dict[str, Any], b: dict[str, Any], what: str) -> str:
    moved = [
        f"`{q}` {x:.2f} → {y:.2f}"
        for q, x, y in zip(queries, a["ndcg_per_query"], b["ndcg_per_query"], strict=True)
        if abs(x - y) >= 0.01
    ]
    return f"Judged queries whose nDCG@10 moved from {what}: " + ("; ".join(moved) or "none") + "."


def _verdict(chosen: dict[str, Any], before: dict[str, Any]) -> list[str]:
    checks = [
        ("must-meet recall not below", chosen["meet_recall"] >= before["meet_recall"]),
        ("must-not precision ≥ 0.95", chosen["apart_precision"] >= 0.95),
        ("MRR@10 not below", chosen["mrr10"] >= before["mrr10"]),
        ("nDCG@10 not below", chosen["ndcg10"] >= before["ndcg10"]),
    ]
    return [
        "Targets for the chosen chain, against the analyzer before issue 13 (`fixed-point`) in this run: "
        + "; ".join(f"{what}: {'yes' if ok else '**no**'}" for what, ok in checks)
        + "."
    ]


def _kinds(chains_: dict[str, Any]) -> list[str]:
    shown = ("lexicon", "rules", "fixed-point")
    lines = [
        "| expect | kind | " + " | ".join(f"`{n}`" for n in shown) + " |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for expect in ("meet", "apart"):
        for kind in chains_["lexicon"][expect + "_by_kind"]:
            shares = " | ".join(f"{chains_[n][expect + '_by_kind'][kind]:.2f}" for n in shown)
            lines.append(f"| {expect} | {kind} | {shares} |")
    lines += ["", "Pairs `lexicon` gets wrong (the keys of each side):", ""]
    for expect, what in (("meet", "do not meet"), ("apart", "meet")):
        lines.append(f"- must {expect}, {what}: " + "; ".join(chains_["lexicon"][expect + "_failed"]) + ".")
    return lines
