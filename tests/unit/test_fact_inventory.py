"""The fact-sheet inventory (contracts/corpus/fact_inventory): every figure it says the corpus
carries is carried at that value, every figure left out or out of scope says why, and, where
the fact sheets are at hand, each printed text stands on the line it cites."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from contracts.corpus.coverage import (
    carried_by_observations,
    corpus_figures,
    inventory,
    problems,
    summary,
)

FACTS = Path(__file__).resolve().parents[3] / "shared" / "domain" / "facts"


def test_every_carried_figure_is_in_the_corpus_at_its_value() -> None:
    assert problems(None) == []


@pytest.mark.skipif(not FACTS.is_dir(), reason=f"the seed fact sheets are not at {FACTS}")
def test_every_printed_figure_stands_on_the_fact_sheet_line_it_cites() -> None:
    assert problems(FACTS) == []


def test_every_figure_left_out_says_why() -> None:
    for f in inventory():
        assert (f.out_of_scope or f.left_out or f.figure or "").strip(), f
        assert f.about.strip() and f.printed.strip(), f


def test_a_restated_figure_is_one_value_counted_once() -> None:
    values: dict[str, set] = {}
    for f in inventory():
        if f.figure is not None:
            values.setdefault(f.figure, set()).add(f.value)
    assert {figure: v for figure, v in values.items() if len(v) > 1} == {}
    counted = sum(in_scope for _, _, in_scope, _, _ in summary())
    restated = Counter(f.figure for f in inventory() if f.figure is not None and f.in_scope)
    entries = sum(f.in_scope for f in inventory())
    assert counted == entries - sum(n - 1 for n in restated.values())


def test_the_corpus_carries_most_in_scope_figures() -> None:
    rows = summary()
    in_scope = sum(r[2] for r in rows)
    carried = sum(r[3] for r in rows)
    assert in_scope > 550  # the three fact sheets, not a sample of them
    assert carried / in_scope >= 0.70
    assert {f.figure for f in inventory() if f.figure} <= set(corpus_figures())


def test_observations_carry_figures_no_other_event_type_could() -> None:
    observed = carried_by_observations()
    for sheet, _, _, carried, _ in summary():
        assert 0 < observed[sheet] <= carried, sheet
    figures = {f.figure for f in inventory() if f.figure is not None}
    assert sum(observed.values()) < len(figures)
