"""The fact-sheet inventory: every figure the seed fact sheets give, and where the corpus has it.

One file per fact sheet, ``fact_inventory/seed-facts-*.yaml``, lists each figure a report
prints, as the fact sheet gives it, with the fact sheet's line:

```yaml
fact_sheet: seed-facts-003.md
figures:
  - line: 170                 # the fact sheet's line that gives the figure
    printed: "176.33"         # the figure as written on that line (a substring of it)
    about: CCB 2019 金融科技投入, 亿元
    figure: seed-003-chart16-ccb-2019/amount   # <event_id>/<field>: the event carrying it
    value: 176.33             # the figure in that field's own unit (a share 2.5% is 0.025)
  - line: 402
    printed: "1950"
    about: Diners Club founded
    out_of_scope: history, not financial institutions' technology or their markets
  - line: 300
    printed: "11.57%"
    about: 智能客服 share of the AI-finance market, 2020
    left_out: the reason the corpus has no event for it
```

A figure is in scope when it is about financial institutions, their segments or their markets
(``out_of_scope`` says why not). An in-scope figure is either carried by an event
(``figure``) or ``left_out`` with its reason. ``figure`` ids are the ``figure_id`` of
``marts.reported_figures``; a survey's printed share is ``survey/<survey_id>/<question_id>/
<option>/published_share`` (the share its constructed respondents give, at printed
precision). The warehouse test reads each back and compares it with ``value``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from contracts.corpus.seed_events import spend_and_deployment_events
from contracts.spec import contracts
from contracts.survey_catalog import SurveyCatalog
from contracts.yaml_files import read_yaml

INVENTORY_DIR = Path(__file__).with_name("fact_inventory")


@dataclass(frozen=True)
class InventoriedFigure:
    """One figure of a fact sheet and what the corpus does with it."""

    fact_sheet: str
    line: int
    printed: str
    about: str
    figure: str | None = None
    value: Decimal | None = None
    out_of_scope: str | None = None
    left_out: str | None = None

    @property
    def in_scope(self) -> bool:
        return self.out_of_scope is None

    @property
    def state(self) -> str:
        if self.out_of_scope is not None:
            return "out_of_scope"
        return "event" if self.figure is not None else "left_out"


def _figure(fact_sheet: str, row: dict[str, Any]) -> InventoriedFigure:
    kinds = [k for k in ("figure", "out_of_scope", "left_out") if row.get(k) is not None]
    if len(kinds) != 1:
        raise ValueError(
            f"{fact_sheet} line {row.get('line')}: give exactly one of figure, out_of_scope, "
            f"left_out (got {kinds or 'none'})"
        )
    if row.get("figure") is not None and row.get("value") is None:
        raise ValueError(f"{fact_sheet} line {row['line']}: a figure needs its value")
    return InventoriedFigure(
        fact_sheet=fact_sheet,
        line=int(row["line"]),
        printed=str(row["printed"]),
        about=str(row["about"]),
        figure=row.get("figure"),
        value=Decimal(str(row["value"])) if row.get("value") is not None else None,
        out_of_scope=row.get("out_of_scope"),
        left_out=row.get("left_out"),
    )


@cache
def inventory() -> tuple[InventoriedFigure, ...]:
    """Every inventoried figure of every fact sheet, in file and line order."""
    figures: list[InventoriedFigure] = []
    for path in sorted(INVENTORY_DIR.glob("seed-facts-*.yaml")):
        doc = read_yaml(path)
        figures.extend(_figure(doc["fact_sheet"], row) for row in doc["figures"])
    return tuple(figures)


def figure_fields(event_type: str) -> tuple[str, ...]:
    """The payload fields of an event type that hold a printed figure: its numbers (a spend
    amount and its shares, rates and headcounts; an observation's value, range end and base;
    a milestone's case count), from the contract. KPIs of a milestone are figures too."""
    return tuple(
        f.name for f in contracts()[event_type].payload.fields if f.kind in ("number", "integer")
    )


def _event_figures(event: dict[str, Any]) -> dict[str, Decimal]:
    payload = event["payload"]
    figures = {
        f"{event['event_id']}/{name}": Decimal(str(payload[name]))
        for name in figure_fields(event["event_type"])
        if payload.get(name) is not None
    }
    for kpi in payload.get("kpis") or []:
        if kpi.get("value") is not None:
            figures[f"{event['event_id']}/kpis/{kpi['name']}"] = Decimal(str(kpi["value"]))
    return figures


# the survey figures the warehouse recomputes from the respondents' answers
SURVEY_FIGURE_KEYS = ("published_share", "published_mean")


def _published(prefix: str, definition: dict[str, Any]) -> dict[str, Decimal]:
    return {
        f"{prefix}/{key}": Decimal(str(definition[key]))
        for key in SURVEY_FIGURE_KEYS
        if definition.get(key) is not None
    }


def corpus_figures() -> dict[str, Decimal]:
    """Every figure the seed corpus carries, by ``figure_id``: the events' printed fields and
    the surveys' printed shares and means (``survey/<survey_id>/<question_id>[/<option>]/
    published_*``)."""
    figures: dict[str, Decimal] = {}
    for event in spend_and_deployment_events():
        figures.update(_event_figures(event))
    for survey in SurveyCatalog.load():
        for q in survey.questions.values():
            prefix = f"survey/{survey.survey_id}/{q.question_id}"
            figures.update(_published(prefix, q.definition))
            for option in q.definition.get("options") or []:
                figures.update(_published(f"{prefix}/{option['option_id']}", option))
    return figures


def problems(facts_dir: Path | None) -> list[str]:
    """What is wrong with the inventory: an unknown figure id, a value the corpus does not
    carry, and (when the fact sheets are at hand) a printed text not on its line."""
    carried = corpus_figures()
    found: list[str] = []
    lines: dict[str, list[str]] = {}
    for f in inventory():
        where = f"{f.fact_sheet}:{f.line} {f.printed!r}"
        if f.figure is not None:
            if f.figure not in carried:
                found.append(f"{where}: no figure {f.figure}")
            elif carried[f.figure] != f.value:
                found.append(f"{where}: {f.figure} is {carried[f.figure]}, not {f.value}")
        if facts_dir is not None:
            if f.fact_sheet not in lines:
                path = facts_dir / f.fact_sheet
                lines[f.fact_sheet] = path.read_text(encoding="utf-8").splitlines()
            text = lines[f.fact_sheet]
            if not 1 <= f.line <= len(text) or f.printed not in text[f.line - 1]:
                found.append(f"{where}: not on line {f.line} of {f.fact_sheet}")
    return found


def summary() -> list[tuple[str, int, int, int, int]]:
    """Per fact sheet: figures, in scope, carried by an event, left out. A figure the fact
    sheet gives at several lines (a restatement: one ``figure`` id) counts once."""
    rows: dict[str, list[int]] = {}
    seen: set[tuple[str, str]] = set()
    for f in inventory():
        if f.figure is not None:
            if (f.fact_sheet, f.figure) in seen:
                continue
            seen.add((f.fact_sheet, f.figure))
        row = rows.setdefault(f.fact_sheet, [0, 0, 0, 0])
        row[0] += 1
        row[1] += f.in_scope
        row[2] += f.in_scope and f.state == "event"
        row[3] += f.state == "left_out"
    return [(sheet, *counts) for sheet, counts in sorted(rows.items())]  # type: ignore[misc]


def carried_by_observations() -> dict[str, int]:
    """Per fact sheet: the in-scope figures only an ``observation`` event (contract v1.2)
    carries; the rest were carried by the three event types before it. Counted once each."""
    observed = {
        e["event_id"] for e in spend_and_deployment_events() if e["event_type"] == "observation"
    }
    counted: dict[str, set[str]] = {}
    for f in inventory():
        if f.in_scope and f.figure is not None and f.figure.split("/", 1)[0] in observed:
            counted.setdefault(f.fact_sheet, set()).add(f.figure)
    return {sheet: len(figures) for sheet, figures in counted.items()}


def main() -> int:
    """``python -m contracts.corpus.coverage [facts_dir]``: coverage and problems."""
    facts = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    observed = carried_by_observations()
    for sheet, total, in_scope, events, left in summary():
        share = events / in_scope if in_scope else 0.0
        before = events - observed.get(sheet, 0)
        print(
            f"{sheet}: {total} figures, {in_scope} in scope, {events} events ({share:.0%}; "
            f"{before} ({before / in_scope:.0%}) without observations), {left} left out"
        )
    found = problems(facts)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
