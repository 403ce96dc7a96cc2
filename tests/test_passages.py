"""Passages: properties that hold for any text, and the shapes a researcher expects."""

from __future__ import annotations

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
        assert len(p.text) <= high * CHARS_PER_WORD or n == 1
        previous_end = p.end
    assert not text[previous_end:].strip(), "text lost after the last passage"


@settings(max_examples=50, deadline=None)
@given(st.lists(block, min_size=1, max_size=10))
def test_splitting_is_deterministic(blocks: list[Block]) -> None:
    assert split(blocks, "d", 10, 50) == split(blocks, "d", 10, 50)


def test_single_unbreakable_token_stands_alone() -> None:
    token = "x" * 5000
    passages = split([Block(f"début {token} fin")], "d", 2, 10)
    assert token in [p.text for p in passages]


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
