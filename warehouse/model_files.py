"""The SQL models (``warehouse/models/<layer>/<name>.sql``) and checks (``warehouse/checks``).

A model file holds one lower-case ``select`` whose relation is ``<layer>.<name>``. Its header
states what it holds, its grain and, optionally, what some columns mean::

    -- One line: what the relation holds.
    -- grain: one row per …
    -- unique: key_column, key_column
    -- not_null: column, column
    -- references: column -> reference.taxonomy_terms[taxonomy]
    -- references: column, column -> reference.table
    -- columns:
    --   name: meaning

``unique`` is the grain's key (NULLs compare equal), ``not_null`` the columns never NULL, and
each ``references`` line a relationship: the columns' non-NULL values exist in a
``reference.*`` table (a code of one taxonomy, or the same-named columns of the table).
A refresh runs them (``warehouse.model_tests``) on every model whose rows may have changed.

Dependencies are the ``raw.``, ``reference.``, ``staging.``, ``marts.``, ``dq.`` and ``ops.``
tables the SQL reads, found by parsing it (``sqlglot``, DuckDB dialect); models run in
dependency order. Staging models are views, marts are tables, and ``dq`` models
(data-quality figures over the ``ops`` and ``dq`` tables) are views: bound when queried,
they show every batch landed since the last refresh.
A check file is one ``select`` of findings (``rule_id``, ``severity``, ``entity_id``,
``fiscal_period``, ``detail``, ``event_ids``) whose first header line names its rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

import sqlglot
from sqlglot import exp

MODELS_DIR = Path(__file__).with_name("models")
CHECKS_DIR = Path(__file__).with_name("checks")
LAYERS = {"staging": "view", "marts": "table", "dq": "view"}
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
SCHEMAS = frozenset({"raw", "reference", "staging", "marts", "dq", "ops"})
REFERENCE = re.compile(
    r"^(?P<columns>[a-z0-9_, ]+?)\s*->\s*(?P<relation>reference\.[a-z0-9_]+)"
    r"(?:\[(?P<taxonomy>[a-z0-9_]+)\])?$"
)


@dataclass(frozen=True)
class Reference:
    """A relationship: the model's ``columns`` (non-NULL) exist in ``relation``: as a code of
    ``taxonomy`` in ``reference.taxonomy_terms``, else as the same-named columns."""

    columns: tuple[str, ...]
    relation: str
    taxonomy: str | None = None

    def __str__(self) -> str:
        target = f"{self.relation}[{self.taxonomy}]" if self.taxonomy else self.relation
        return f"{', '.join(self.columns)} -> {target}"


@dataclass(frozen=True)
class Header:
    description: str
    grain: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()


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
    unique: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    references: list[Reference] = []
    in_columns = False
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("grain:"):
            grain, in_columns = stripped.removeprefix("grain:").strip(), False
        elif stripped.startswith("unique:"):
            unique, in_columns = _names(stripped.removeprefix("unique:")), False
        elif stripped.startswith("not_null:"):
            not_null, in_columns = _names(stripped.removeprefix("not_null:")), False
        elif stripped.startswith("references:"):
            references.append(_reference(stripped.removeprefix("references:").strip()))
            in_columns = False
        elif stripped == "columns:":
            in_columns = True
        elif in_columns and line.startswith("   ") and ":" in stripped:
            name, meaning = stripped.split(":", 1)
            for column in name.split(","):
                columns[column.strip()] = meaning.strip()
        else:
            in_columns = False
            notes.append(stripped)
    return Header(description, grain, columns, tuple(notes), unique, not_null, tuple(references))


def _names(text: str) -> tuple[str, ...]:
    """The column names of a comma-separated list (plain lower-case identifiers)."""
    names = tuple(n.strip() for n in text.split(","))
    if not names or not all(IDENTIFIER.fullmatch(n) for n in names):
        raise ValueError(f"{text.strip()!r} is not a list of column names")
    return names


def _reference(text: str) -> Reference:
    match = REFERENCE.match(text)
    if not match:
        raise ValueError(
            f"references: {text!r} is not 'column[, column] -> reference.table' or "
            f"'column -> reference.taxonomy_terms[taxonomy]'"
        )
    columns, taxonomy = _names(match["columns"]), match["taxonomy"]
    if taxonomy and (match["relation"] != "reference.taxonomy_terms" or len(columns) != 1):
        raise ValueError(f"references: {text!r}: [taxonomy] needs one column and taxonomy_terms")
    return Reference(columns, match["relation"], taxonomy)


def dependencies(sql: str, own: str | None = None) -> tuple[str, ...]:
    """The warehouse tables and views ``sql`` reads (schema-qualified), without ``own``."""
    try:
        tree = sqlglot.parse_one(sql, dialect="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ValueError(f"its SQL does not parse: {str(exc).splitlines()[0]}") from None
    found = {f"{t.db}.{t.name}" for t in tree.find_all(exp.Table) if t.db in SCHEMAS}
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
                header, depends_on = parse_header(sql), dependencies(sql, relation)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
            if not header.grain:
                raise ValueError(f"{path}: the header states no grain")
            if not header.unique:
                raise ValueError(f"{path}: the header declares no grain key (-- unique: …)")
            by_relation[relation] = Model(relation, materialized, path, sql, header, depends_on)
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
