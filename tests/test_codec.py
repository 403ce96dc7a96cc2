"""The codec's version check: the pin it checks is pyproject.toml's, and anything else installed fails."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from archive import codec

ROOT = Path(__file__).resolve().parent.parent


def test_the_codec_pins_the_whoosh_of_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    whoosh = [d for d in project["dependencies"] if codec.normalised(d).startswith("whoosh")]
    assert whoosh == [f"{codec.WHOOSH_DISTRIBUTION}=={codec.WHOOSH_VERSION}"]


def test_the_installed_whoosh_is_the_pinned_one() -> None:
    found = codec.installed()
    assert [(codec.normalised(name), version) for name, version in found] == [
        (codec.WHOOSH_DISTRIBUTION, codec.WHOOSH_VERSION)
    ]
    codec.check(found)


@pytest.mark.parametrize(
    "found",
    [
        [("Whoosh-Reloaded", "2.7.5")],
        [("whoosh_reloaded", "2.7.5")],
        [("whoosh-reloaded", "2.7.5"), ("Whoosh.Reloaded", "2.7.5")],  # the same one twice on the path
    ],
)
def test_the_pinned_distribution_passes_however_its_name_is_spelled(found: list[tuple[str, str]]) -> None:
    codec.check(found)


@pytest.mark.parametrize(
    ("found", "named"),
    [
        ([], "none"),
        ([("Whoosh", "2.7.4")], "Whoosh 2.7.4"),
        ([("whoosh-reloaded", "2.7.6")], "whoosh-reloaded 2.7.6"),
        ([("whoosh3", "3.0.1")], "whoosh3 3.0.1"),
        ([("Whoosh-Reloaded", "2.7.5"), ("Whoosh", "2.7.4")], "Whoosh-Reloaded 2.7.5, Whoosh 2.7.4"),
        ([("whoosh-ng", "1.0"), ("whoosh-reloaded", "2.7.5")], "whoosh-ng 1.0, whoosh-reloaded 2.7.5"),
    ],
)
def test_another_whoosh_or_another_beside_it_fails_naming_both_versions_and_the_tests(
    found: list[tuple[str, str]], named: str
) -> None:
    with pytest.raises(codec.CodecMismatch) as raised:
        codec.check(found)
    message = str(raised.value)
    assert f"installed Whoosh distributions are: {named}." in message
    assert f"{codec.WHOOSH_DISTRIBUTION} {codec.WHOOSH_VERSION}" in message
    assert "tests/test_indexer.py" in message and "tests/test_postings.py" in message
    assert raised.value.problem in message
