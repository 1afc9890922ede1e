"""The suites' calendar-date pattern takes exactly the ISO dates ``strptime`` takes."""

from __future__ import annotations

import re
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from contracts.export.gx_suites import CALENDAR_DATE

# the ends of the range, and years on each side of every leap rule (÷4, ÷100, ÷400)
YEARS = [0, 1, 2, 4, 96, 100, 104, 400, 1600, 1700, 1899, 1900, 1996, 2000, 2023, 2024, 2100]
YEARS += [2400, 9996, 9999]


def _parses(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _candidates() -> list[str]:
    return [
        f"{year:04d}-{month:02d}-{day:02d}"
        for year in YEARS
        for month in range(14)
        for day in range(33)
    ]


def test_pattern_takes_what_strptime_takes():
    texts = _candidates()
    assert sum(map(_parses, texts)) > 5000  # most of them are dates: a real comparison
    for text in texts:
        assert bool(re.fullmatch(CALENDAR_DATE, text)) == _parses(text), text


def test_arrow_kernel_agrees():
    """GX matches the frame's Arrow-backed strings with Arrow's RE2 kernel."""
    texts = _candidates()
    matched = pc.match_substring_regex(pa.array(texts), CALENDAR_DATE).to_pylist()
    assert matched == [_parses(t) for t in texts]
