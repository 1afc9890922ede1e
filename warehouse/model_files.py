"""The SQL models (``warehouse/models/<layer>/<name>.sql``) and checks (``warehouse/checks``).

A model file holds one lower-case ``select`` whose relation is ``<layer>.<name>``. Its header
states what it holds, its grain and, optionally, what some columns mean::

    -- One line: what the relation holds.
    -- grain: one row per …
    -- columns:
    --   name: meaning

Dependencies are the ``raw.``, ``reference.``, ``staging.``, ``marts.``, ``dq.`` and ``ops.``
relations the SQL names; models run in dependency order. Staging models are views, marts
are tables, and ``dq`` models (data-quality figures over the ``ops`` and ``dq`` tables) are
views: bound when queried, they show every batch landed since the last refresh.
A check file is one ``select`` of findings (``rule_id``, ``severity``, ``entity_id``,
``fiscal_period``, ``detail``, ``event_ids``) whose first header line names its rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

MODELS_DIR = Path(__file__).with_name("models")
CHECKS_DIR = Path(__file__).with_name("checks")
LAYERS = {"staging": "view", "marts": "table", "dq": "view"}
RELATION = re.compile(r"\b(raw|reference|staging|marts|dq|ops)\.([a-z_][a-z0-9_]*)\b")


@dataclass(frozen=True)
class Header:
    description: str
    grain: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Model:
    relation: str
    materialized: str  # view | table
    path: Path
    sql: str
    header: Header
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    rule_id: str
    path: Path
    sql: str
    header: Header
    depends_on: tuple[str, ...]


def parse_header(text: str) -> Header:
    """The leading ``--`` comment block of a SQL file."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].rstrip())
    if not lines:
        raise ValueError("the file does not start with a -- header")
    description, grain, columns, notes = lines[0].strip(), "", {}, []
    in_columns = False
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("grain:"):
            grain, in_columns = stripped.removeprefix("grain:").strip(), False
        elif stripped == "columns:":
            in_columns = True
        elif in_columns and line.startswith("   ") and ":" in stripped:
            name, meaning = stripped.split(":", 1)
            for column in name.split(","):
                columns[column.strip()] = meaning.strip()
        else:
            in_columns = False
            notes.append(stripped)
    return Header(description, grain, columns, tuple(notes))


def dependencies(sql: str, own: str | None = None) -> tuple[str, ...]:
    body = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    found = {f"{m.group(1)}.{m.group(2)}" for m in RELATION.finditer(body)}
    found.discard(own or "")
    return tuple(sorted(found))


@cache
def models() -> tuple[Model, ...]:
    """Every model, in an order where each comes after what it reads."""
    by_relation: dict[str, Model] = {}
    for layer, materialized in LAYERS.items():
        for path in sorted((MODELS_DIR / layer).glob("*.sql")):
            relation = f"{layer}.{path.stem}"
            sql = path.read_text(encoding="utf-8")
            try:
                header = parse_header(sql)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
            if not header.grain:
                raise ValueError(f"{path}: the header states no grain")
            by_relation[relation] = Model(
                relation, materialized, path, sql, header, dependencies(sql, relation)
            )
    graph = {r: [d for d in m.depends_on if d in by_relation] for r, m in by_relation.items()}
    for relation, model in by_relation.items():
        layer = relation.split(".")[0]
        for dep in model.depends_on:
            if dep.startswith(("staging.", "marts.")) and dep not in by_relation:
                raise ValueError(f"{model.path}: reads {dep}, which no model defines")
            if layer == "staging" and dep.startswith("marts."):
                raise ValueError(f"{model.path}: a staging model cannot read a mart ({dep})")
    return tuple(by_relation[r] for r in TopologicalSorter(graph).static_order())


@cache
def checks() -> tuple[Check, ...]:
    """Every reconciliation check, by rule id."""
    out = []
    for path in sorted(CHECKS_DIR.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        header = parse_header(sql)
        rule_id = header.description.split(":", 1)[0].strip()
        if rule_id != path.stem:
            raise ValueError(f"{path}: the header names rule {rule_id!r}, not {path.stem!r}")
        out.append(Check(rule_id, path, sql, header, dependencies(sql)))
    return tuple(out)
