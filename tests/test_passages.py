"""Passages: properties that hold for any text, and the shapes a researcher expects."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.models import Block
from archive.passages import CHARS_PER_WORD, split

words = st.text(alphabet="abcdéèàçôAZ,;«»’'.!?-0123456789 ", min_size=1, max_size=60)
paragraph = st.lists(words, min_size=1, max_size=30).map(" ".join)
block = st.builds(Block, paragraph, st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(block, min_size=0, max_size=25), st.integers(1, 30), st.integers(0, 120))
def test_passages_cover_the_text_in_order_without_loss_or_overlap(
    blocks: list[Block], low: int, extra: int
) -> None:
    high = low + extra
    text = "\n\n".join(b.text for b in blocks)
    passages = split(blocks, "d.txt", low, high)
    previous_end = 0
    for i, p in enumerate(passages, start=1):
        assert p.position == i
        assert p.id == f"d.txt#p{i}"
        assert text[p.start : p.end] == p.text
        assert p.text.strip() == p.text and p.text
        assert p.start >= previous_end
        assert not text[previous_end : p.start].strip(), "text lost between passages"
        n = len(p.text.split())
        assert n <= high or n == 1
        assert len(p.text) <= high * CHARS_PER_WORD
        previous_end = p.end
    assert not text[previous_end:].strip(), "text lost after the last passage"


@settings(max_examples=50, deadline=None)
@given(st.lists(block, min_size=1, max_size=10))
def test_splitting_is_deterministic(blocks: list[Block]) -> None:
    assert split(blocks, "d", 10, 50) == split(blocks, "d", 10, 50)


def test_an_over_long_token_is_cut_into_passages_of_the_maximum_size() -> None:
    """A 10 MB "word" (base64, junk without spaces) became one passage of 10 MB, shown whole in every
    result list and document page: it is cut into pieces of at most max_words * CHARS_PER_WORD."""
    token = "x" * 5000
    passages = split([Block(f"début {token} fin")], "d", 2, 10)
    limit = 10 * CHARS_PER_WORD
    assert all(len(p.text) <= limit for p in passages)
    assert token in "".join(p.text for p in passages).replace(" ", "")
    huge = split([Block("a" * 10_000_000)], "d", 40, 200)
    assert len(huge) == -(-10_000_000 // (200 * CHARS_PER_WORD))
    assert max(len(p.text) for p in huge) == 200 * CHARS_PER_WORD


SHAPES = {
    # sentence ends followed by a lower-case word: each '. ' is a candidate end that is not one
    "lower-case": "le prévenu a été entendu par les enquêteurs le 3 mars. puis il a été relâché. ",
    # runs of marks with nothing after them: each mark of a run began a match that re-scanned the run
    "dots": ".",  # one run of dots as long as the text
    "marks": "!?…",
    "closers": ".»)" * 3000 + "x ",
}


def _split_cpu_seconds(unit: str, megabytes: float) -> float:
    """CPU seconds (best of three) to split one paragraph of `megabytes` made of `unit` repeated."""
    text = unit * max(1, int(megabytes * 1_000_000 / len(unit)))
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        split([Block(text)], "d", 40, 200)
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("shape", SHAPES)
def test_splitting_time_grows_linearly_with_the_text(shape: str) -> None:
    """Sentence splitting was quadratic on hostile shapes, holding the write lock and the interpreter:
    a sentence end followed by a lower-case word (0.56 MB: 8.9 s, 1.14 MB: 41.8 s, 10 MB: hours), and
    runs of dots or other marks (20,000 dots: 6 s, 80,000: 91 s). From 0.1 to 2 MB (20x the text) linear
    work costs about 20x; quadratic cost 400x. CPU time, so a loaded machine does not matter; the bound
    (80x) leaves a factor 4 either way."""
    small = _split_cpu_seconds(SHAPES[shape], 0.1)
    large = _split_cpu_seconds(SHAPES[shape], 2.0)
    assert large < 80 * max(small, 0.002), (small, large)


def test_short_paragraphs_merge_and_headings_name_sections() -> None:
    blocks = [
        Block("Les faits", heading=True),
        Block("Une phrase courte."),
        Block("Une autre phrase courte."),
        Block("La procédure", heading=True),
        Block(" ".join(["mot"] * 30) + "."),
    ]
    passages = split(blocks, "d", min_words=10, max_words=40)
    assert [(p.section, p.text.split("\n\n")[0]) for p in passages] == [
        ("Les faits", "Les faits"),
        ("La procédure", "La procédure"),
    ]
    assert "Une autre phrase courte." in passages[0].text


def test_long_paragraph_is_cut_at_sentences_into_balanced_pieces() -> None:
    sentence = "Le tribunal a condamné M. Dupont à deux ans de prison pour escroquerie en bande organisée."
    passages = split([Block(" ".join([sentence] * 30))], "d", min_words=40, max_words=200)
    sizes = [len(p.text.split()) for p in passages]
    assert len(passages) == 3 and max(sizes) <= 200 and min(sizes) >= 40
    assert all(p.text.endswith("organisée.") for p in passages)
    assert all(p.text.startswith("Le tribunal") for p in passages)
