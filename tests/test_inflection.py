"""The inflection rules (`fold`, `stem`): their doctests are their specification; the analyzer's
tables (tests/test_analysis.py) test them through `key`."""

from __future__ import annotations

import doctest

from archive import inflection


def test_doctests() -> None:
    result = doctest.testmod(inflection)
    assert result.attempted >= 3 and result.failed == 0
