"""The year facet drawn as a small horizontal bar chart: one bar per year, newest first, undated last.

No script and no inline style (the Content-Security-Policy forbids both): a bar's length is one of
STEPS classes of the stylesheet (`.bar.w0` to `.bar.w20`). Each bar sits in the label of its checkbox,
beside its count written out, so the chart reads as the list of years it is for screen readers and
without CSS; the bar itself is hidden from assistive technology.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive import UNDATED, FacetValue

STEPS = 20
"""Lengths a bar can take: a twentieth of the longest is a few pixels in the sidebar, finer would not show."""


@dataclass(frozen=True)
class Bar:
    """A year of the facet, and its bar's length in STEPS-ths of the longest (1 at least when counted)."""

    facet: FacetValue
    length: int
    undated: bool  # the documents without a date (`year=sans-date`), shown apart


def bars(values: tuple[FacetValue, ...]) -> list[Bar]:
    """The bars of the year facet's values, in their order."""
    longest = max((f.count for f in values), default=0)
    return [
        Bar(f, max(1, round(STEPS * f.count / longest)) if f.count else 0, f.value == UNDATED) for f in values
    ]
