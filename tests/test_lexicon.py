"""The French lexicon: its derivation rules on a small dictionary, its cache, and what loading it costs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import inflection, lexicon

ER = "e es ons ez ent ais ait ions iez aient a èrent é ée és ées er ant".split()


def verb(infinitive: str, *irregular: str) -> dict[str, str]:
    """The forms of an -er verb (regular endings), plus irregular ones."""
    stem = infinitive[:-2]
    return {**{stem + e: infinitive for e in ER}, **{f: infinitive for f in irregular}}


def noun(lemma: str, *forms: str) -> dict[str, str]:
    return {lemma: lemma, **{f: lemma for f in forms}}


DICTIONARY = {
    **verb("condamner"),
    **noun("condamné", "condamnés"),  # an adjective of its own, spelled as the participle
    **verb("manier"),
    **noun("manière", "manières"),  # a noun whose stem is a verb's
    **verb("porter"),
    **noun("port", "ports"),
    **verb("peiner"),
    **noun("peine", "peines"),  # folds like the participle `peiné`: cannot be told apart
    **verb("pouvoir", "peut", "peuvent", "pourra"),
    **noun("pouvoir", "pouvoirs"),  # the infinitive is a noun too
    **verb("importer"),
    **noun("important", "importante", "importants"),  # an adjective in -ant, with forms of its own
    **verb("exercer", "exerçons"),
    "exerçant": "exerçant",  # listed alone: the verb's present participle
    **verb("commettre", "commet", "commettent", "commis"),
    **noun("commis"),
    "commise": "commettre",
    "commises": "commettre",
    **verb("mettre", "met", "mettent", "mis"),
    **verb("miser"),  # `mise`: read as `miser`, and the feminine of `mis`
    "ii": "deux",
}


@pytest.fixture(scope="module")
def table() -> dict[str, str]:
    return lexicon.derive(DICTIONARY)


def key(table: dict[str, str], word: str) -> str:
    folded = inflection.fold(word)
    return table.get(folded) or inflection.stem(folded)


@pytest.mark.parametrize(
    "words, why",
    [
        (["condamnait", "condamnaient", "condamner", "condamné", "condamnés", "condamnée"], "verb forms"),
        (["commis", "commise", "commet", "commettre"], "an irregular participle, its feminine a verb form"),
        (["exerçant", "exercer", "exerçons"], "a present participle listed alone"),
        (["mis", "mise", "mises"], "`mise` is `mis`'s feminine as much as `miser`'s present"),
        (["manière", "manières", "maniere"], "a noun keeps its forms"),
        (["peine", "peines", "peiner", "peiné"], "words that fold alike keep the rules' stems"),
    ],
)
def test_these_meet(table: dict[str, str], words: list[str], why: str) -> None:
    assert len({key(table, w) for w in words}) == 1, why


@pytest.mark.parametrize(
    "a, b, why",
    [
        ("manière", "manier", "a noun whose stem is a verb's is protected"),
        ("port", "porter", "... marked, when its folded spelling is the verb's key"),
        ("important", "importer", "an adjective in -ant with forms of its own is a word of its own"),
        ("peut", "pouvoirs", "the forms of a verb whose infinitive is a noun keep the rules' stems"),
        ("ii", "deux", "a form whose lemma starts with another letter (numerals, suppletion) is left out"),
    ],
)
def test_these_stay_apart(table: dict[str, str], a: str, b: str, why: str) -> None:
    assert key(table, a) != key(table, b), why


def test_keys_are_the_folded_spelling_marked_only_when_taken(table: dict[str, str]) -> None:
    assert key(table, "manière") == "maniere"
    assert key(table, "port") == "port" + lexicon.MARKER
    assert key(table, "porter") == "port"


def test_the_table_holds_only_what_differs_from_the_rules(table: dict[str, str]) -> None:
    assert all(inflection.stem(word) != k for word, k in table.items())
    assert all(word == inflection.fold(word) for word in table)


def test_the_real_dictionary_gives_the_documented_keys() -> None:
    known = lexicon.keys()
    assert 50_000 < len(known) < 150_000
    assert known["condamnait"] == "condamn" and known["maniere"] == "maniere" and known["recel"] == "recel_"


def test_the_dictionary_knows_french_words_not_typos() -> None:
    assert all(
        lexicon.known(w) for w in ("casier", "cahier", "personnaliser", "condamnait", "garde", "enquete")
    )
    assert not any(
        lexicon.known(w) for w in ("enqute", "blanchimant", "juridictionelle", "", "a\nb", "cas ier")
    )


def test_the_cache_keeps_the_dictionarys_folded_words(tmp_path: Path, small: list[int]) -> None:
    words = lexicon.load(tmp_path).words.split()
    assert words == sorted(set(words)) and {"condamne", "maniere", "peut", "pouvoir"} <= set(words)
    assert lexicon.load(tmp_path).words == lexicon.load(tmp_path).words and small == [1]


# ---- the cache -------------------------------------------------------------------------------------


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """`lexicon.dictionary` replaced by the small one above; the list counts derivations."""
    derived: list[int] = []
    derive = lexicon.derive

    def counting(forms: dict[str, str]) -> dict[str, str]:
        derived.append(1)
        return derive(forms)

    monkeypatch.setattr(lexicon, "dictionary", lambda: dict(DICTIONARY))
    monkeypatch.setattr(lexicon, "derive", counting)
    yield derived


def test_the_table_is_derived_once_then_read_from_the_cache(tmp_path: Path, small: list[int]) -> None:
    first = lexicon.load(tmp_path)
    assert small == [1] and (tmp_path / lexicon.cache_name()).is_file()
    second = lexicon.load(tmp_path)
    assert small == [1] and second == first
    assert first.keys == lexicon.derive(DICTIONARY)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data.replace(b"condamn", b"kondamn"),  # altered
        lambda data: b"",
        lambda data: b"\xff\xfe" + data,
    ],
)
def test_a_damaged_cache_is_derived_again(tmp_path: Path, small: list[int], damage: object) -> None:
    first = lexicon.load(tmp_path)
    path = tmp_path / lexicon.cache_name()
    assert callable(damage)
    path.write_bytes(damage(path.read_bytes()))
    assert lexicon.load(tmp_path) == first and small == [1, 1]
    assert lexicon.load(tmp_path) == first and small == [1, 1]  # and written again


def test_an_unwritable_cache_directory_still_gives_the_table(tmp_path: Path, small: list[int]) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    assert lexicon.load(blocked / "archive").keys == lexicon.derive(DICTIONARY)


def test_only_the_oldest_tables_are_removed_when_a_new_one_is_written(tmp_path: Path, small: list[int]) -> None:
    """Other versions sharing the folder keep their tables (the newest written), or each would delete the
    others' at every start and derive its own again."""
    others = [tmp_path / f"lexicon-fr-simplemma0.{n}-0123456789abcdef.txt" for n in range(5)]
    for age, other in enumerate(others):
        other.write_text("another version's table")
        os.utime(other, (1_000_000 - age, 1_000_000 - age))  # others[0] written last
    lexicon.load(tmp_path)
    kept = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert kept == sorted([lexicon.cache_name(), *(o.name for o in others[:3])])


CONCURRENT = """
import json, sys
from pathlib import Path
from archive import lexicon
from tests.test_lexicon import DICTIONARY
derive = lexicon.derive
def counting(forms):
    print("derived", flush=True)
    return derive(forms)
lexicon.dictionary = lambda: dict(DICTIONARY)
lexicon.derive = counting
print(lexicon.load(Path(sys.argv[1])).digest)
"""


def test_processes_started_together_derive_once_and_agree(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(tmp_path)], cwd=root, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=120)[0].split() for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert sum(out.count("derived") for out in outputs) == 1
    assert len({out[-1] for out in outputs}) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lexicon.lock", lexicon.cache_name()]


LIGHT = """
import json, sys, time
import archive.analysis as analysis
from archive import lexicon
before = ["simplemma" in sys.modules, lexicon._loaded is not None]
analysis.key("condamnait")
print(json.dumps(before + ["simplemma" in sys.modules, lexicon._loaded is not None]))
"""


def test_importing_the_analyzer_loads_nothing_and_the_cached_table_needs_no_simplemma() -> None:
    lexicon.table()  # the user's cache is warm from here on
    out = subprocess.run([sys.executable, "-c", LIGHT], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [False, False, False, True]
