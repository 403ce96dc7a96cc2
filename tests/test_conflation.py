"""The conflation set of `make bench-quality` (bench/conflation.tsv) and the analyzer's answers to it."""

from __future__ import annotations

from collections import Counter

from archive import analysis
from bench import conflation

PAIRS = conflation.load()


def test_the_set_has_enough_pairs_each_with_a_kind_and_a_source() -> None:
    counts = Counter(p.expect for p in PAIRS)
    assert counts["meet"] >= 150 and counts["apart"] >= 150
    assert all(p.kind and p.source in {"issue", "groups", "french"} for p in PAIRS)
    assert len({(p.a, p.b) for p in PAIRS}) == len(PAIRS)


def test_the_set_holds_the_issue_examples() -> None:
    pairs = {(p.a, p.b): p.expect for p in PAIRS}
    for a, b in [
        ("casier", "cas"),
        ("favoritisme", "favorable"),
        ("personnaliser", "personnalité"),
        ("publique", "publicité"),
        ("publique", "publication"),
        ("pêche", "péché"),
    ]:
        assert pairs[a, b] == "apart"
    for a, b in [
        ("pédocriminalité", "pedocriminalite"),
        ("condamnée", "condamnes"),
        ("opérations", "opération"),
        ("l'enquête", "enquête"),
    ]:
        assert pairs[a, b] == "meet"


def test_the_analyzer_answers_every_issue_example_but_the_accent_homograph() -> None:
    wrong = [p for p in PAIRS if p.source == "issue" and conflation.meets(p) != (p.expect == "meet")]
    assert [(p.a, p.b) for p in wrong] == [("pêche", "péché")]


def test_scores_count_the_pairs_kept_right() -> None:
    pairs = [
        conflation.Pair("casier", "cas", "apart", "derivation", "issue", ""),
        conflation.Pair("condamnée", "condamnes", "meet", "accent", "issue", ""),
    ]
    with analysis.stemming(lambda word: analysis.fold(word)[:3]):  # every word cut to three letters
        score = conflation.score(pairs)
    assert (score["meet_recall"], score["apart_precision"]) == (1.0, 0.0)
    assert score["apart_failed"] == ["casier/cas (derivation: cas, cas)"]
