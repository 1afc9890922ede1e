"""The tests each model declares in its header (``-- unique:``, ``-- not_null:``,
``-- references:``; ``warehouse.model_files``), run by ``refresh`` inside its transaction.

One query per model counts its tests' offending rows, evaluating the model once (a
materialized CTE of the columns its tests read): the grain key's repeated values (grouped,
NULLs equal), each not-null column's NULLs, and each relationship's values missing from its
``reference.*`` table (an anti-join). A query per model, not one for all: a materialized CTE
is held until its query ends, and all of them at once outgrew the session's memory limit
(a refresh of 5,000,000 events failed with DuckDB's out-of-memory error). Only a model with
a failing test is queried again, for a few offending rows. A failure raises
``FinradarError`` with one line naming the model, the test and those rows, so nothing of
the refresh is committed.

A model is tested when its rows may have changed: it was rebuilt, it is a view a rebuilt
model reads (its inputs changed), or it is a view no table reads (``dq.*`` over the ``ops``
tables every batch appends to). A refresh that rebuilt nothing tests only those views.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from finradar.errors import FinradarError
from warehouse.model_files import Header, Model, Reference

EXAMPLES = 3  # offending rows a failure shows
SHOWN = 3  # failures the message spells out (in build order: upstream first), then only models


def to_test(all_models: Iterable[Model], rebuilt: Iterable[str]) -> list[Model]:
    """The models whose rows may have changed in this refresh, in build order."""
    all_models = list(all_models)
    by_relation = {m.relation: m for m in all_models}
    read_by_a_table = {
        d for m in all_models if m.materialized == "table" for d in _upstream(m, by_relation)
    }
    chosen = set(rebuilt) & set(by_relation)
    for relation in list(chosen):
        upstream = _upstream(by_relation[relation], by_relation)
        chosen |= {r for r in upstream if by_relation[r].materialized == "view"}
    chosen |= {
        m.relation
        for m in all_models
        if m.materialized == "view" and m.relation not in read_by_a_table
    }
    return [m for m in all_models if m.relation in chosen]


def _upstream(model: Model, by_relation: dict[str, Model]) -> set[str]:
    """Every model ``model`` reads, directly or through others."""
    seen: set[str] = set()
    todo = [d for d in model.depends_on if d in by_relation]
    while todo:
        relation = todo.pop()
        if relation not in seen:
            seen.add(relation)
            todo += [d for d in by_relation[relation].depends_on if d in by_relation]
    return seen


def run(con: duckdb.DuckDBPyConnection, models: Iterable[Model]) -> int:
    """Run the declared tests of ``models``; raise ``FinradarError`` (one line) naming the
    failing models and tests, the first few with offending rows. Returns how many tests ran."""
    models = list(models)
    failures: list[tuple[str, str]] = []  # (relation, what failed)
    failing = _failing(con, models)
    for model in (m for m in models if m.relation in failing):
        header = model.header
        tests = [("unique", _unique)] if header.unique else []
        tests += [("not_null", _not_null)] if header.not_null else []
        for name, test in tests:
            problem = test(con, model)
            if problem:
                failures.append(
                    (model.relation, f"{model.relation} {name}({_key(model, name)}): {problem}")
                )
        for reference in header.references:
            problem = _references(con, model, reference)
            if problem:
                failures.append(
                    (model.relation, f"{model.relation} references({reference}): {problem}")
                )
    if failures:
        shown = "; ".join(text for _, text in failures[:SHOWN])
        more = sorted({relation for relation, _ in failures[SHOWN:]})
        raise FinradarError(
            f"refresh failed {len(failures)} model test(s), nothing was committed: {shown}"
            + (f"; and {len(failures) - SHOWN} more in {', '.join(more)}" if more else "")
        )
    return sum(len(_counts(m.header, "m")) for m in models)


def _failing(con: duckdb.DuckDBPyConnection, models: list[Model]) -> set[str]:
    """The models with a failing test, a query each: the model evaluated once (a
    materialized CTE of the columns its tests read), its tests' offending counts added up."""
    failing = set()
    for model in models:
        counts = _counts(model.header, "m0")
        if not counts:
            continue
        columns = ", ".join(_columns(model.header))
        offending = con.execute(
            f"with m0 as materialized (select {columns} from {model.relation}) "
            f"select {' + '.join(counts)}"
        ).fetchone()[0]
        if offending:
            failing.add(model.relation)
    return failing


def _counts(header: Header, source: str) -> list[str]:
    """One scalar subquery per declared test over ``source`` (aliased ``m``): the repeated
    grain keys, each not-null column's NULLs, each reference's missing values."""
    counts = []
    if header.unique:
        key = ", ".join(header.unique)
        counts.append(
            f"(select count(*) from (select 1 from {source} as m group by {key} "
            f"having count(*) > 1))"
        )
    counts += [f"(select count(*) from {source} as m where {c} is null)" for c in header.not_null]
    counts += [
        f"(select count(*) from {source} as m where {_missing(ref)})" for ref in header.references
    ]
    return counts


def _columns(header: Header) -> list[str]:
    """The columns the tests read, each once: the model is evaluated for these only."""
    named = [*header.unique, *header.not_null, *(c for r in header.references for c in r.columns)]
    return list(dict.fromkeys(named))


def _missing(ref: Reference) -> str:
    """A condition on ``m``: its ``ref`` columns are all set and ``ref``'s table lacks them."""
    if ref.taxonomy:
        match = f"r.taxonomy = '{ref.taxonomy}' and r.code = m.{ref.columns[0]}"
    else:
        match = " and ".join(f"r.{c} = m.{c}" for c in ref.columns)
    return (
        " and ".join(f"m.{c} is not null" for c in ref.columns)
        + f" and not exists (select 1 from {ref.relation} as r where {match})"
    )


def _key(model: Model, test: str) -> str:
    return ", ".join(model.header.unique if test == "unique" else model.header.not_null)


def _unique(con: duckdb.DuckDBPyConnection, model: Model) -> str:
    """The grain key's values that occur more than once (NULL equals NULL, as in group by)."""
    key = ", ".join(model.header.unique)
    rows = con.execute(
        f"select {key}, count(*) as n, count(*) over () as repeated from {model.relation} "
        f"group by {key} having count(*) > 1 order by n desc limit {EXAMPLES}"
    ).fetchall()
    if not rows:
        return ""
    shown = ", ".join(f"({_values(r[:-2])}) ×{r[-2]}" for r in rows)
    return f"{rows[0][-1]} key(s) repeat, e.g. {shown}"


def _not_null(con: duckdb.DuckDBPyConnection, model: Model) -> str:
    """The not-null columns holding NULLs, with the grain key of a few such rows."""
    columns = model.header.not_null
    counts = con.execute(
        "select "
        + ", ".join(f"count(*) filter (where {c} is null)" for c in columns)
        + f" from {model.relation}"
    ).fetchone()
    nulls = {c: n for c, n in zip(columns, counts, strict=True) if n}
    if not nulls:
        return ""
    where = " or ".join(f"{c} is null" for c in nulls)
    key = ", ".join(model.header.unique)
    rows = con.execute(
        f"select {key} from {model.relation} where {where} limit {EXAMPLES}"
    ).fetchall()
    counted = ", ".join(f"{c} NULL in {n} row(s)" for c, n in nulls.items())
    return f"{counted}, e.g. {key} = " + ", ".join(f"({_values(r)})" for r in rows)


def _references(con: duckdb.DuckDBPyConnection, model: Model, ref: Reference) -> str:
    """The columns' non-NULL values ``ref``'s table does not hold."""
    columns = ref.columns
    rows = con.execute(
        f"select {', '.join(f'm.{c}' for c in columns)}, count(*) as n, "
        f"count(*) over () as missing from {model.relation} as m where {_missing(ref)} "
        f"group by {', '.join(f'm.{c}' for c in columns)} order by n desc limit {EXAMPLES}"
    ).fetchall()
    if not rows:
        return ""
    shown = ", ".join(f"({_values(r[:-2])}) in {r[-2]} row(s)" for r in rows)
    return f"{rows[0][-1]} value(s) not in {ref.relation}, e.g. {shown}"


def _values(row: tuple) -> str:
    return ", ".join("NULL" if v is None else str(v) for v in row)
