"""What decoding a batch into columns costs, per event type, one core, no broker: the
figures behind the next step of the ingest's rate (README, "Ingest and the warehouse").

On the valid messages of N synthetic ones, best of 3 each, per message:

* ``orjson + gather``: the batch check's way (``contracts.batch_checks``): each message
  decoded to a dict by ``orjson``, then a list per declared field (``_gather``);
* ``DuckDB, typed``: DuckDB's JSON reader over the batch as one Arrow column
  (``from_json`` with each field's landed type), to Arrow arrays. It casts what it can
  (``"12"`` becomes 12.0), so it checks no type: it is the floor of a decode to Arrow;
* ``DuckDB, text and type``: each declared field's JSON text and ``json_type``, what a
  check of types needs, to Arrow arrays;
* ``  to Python lists``: those arrays converted to lists, as the batch check's rules and the
  normalisation read their columns today;
* ``DuckDB, field rules``: that query with each declared field's type, presence, enum,
  pattern, length and bound rules in SQL, a verdict a message, beside each field's text and
  the SHA-256 of the bytes: a floor of a check done in DuckDB, without what it would add (dates,
  cross-field and survey rules, key counts, the personal-data screen);
* ``compiled, field rules``: the same rules compiled from the contract
  (``tests.bench.compiled_check``: typed structs, the rules, the SHA-256 and Arrow-layout
  columns), if cargo is on the PATH;
* ``batch check + normalise``: what the pipeline spends on the same messages today
  (``pipelines.checking.check_batch`` and ``Normaliser.tables``, no write).

    python -m tests.bench.profile_decode [N]
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from contracts.batch_checks import TypeBatch, _gather, _layout
from contracts.export.arrow import arrow_type
from contracts.export.ddl import duckdb_type
from contracts.spec import EventContract, Field, contracts
from contracts.synthetic import SyntheticStream
from contracts.taxonomy import codes
from finradar.settings import load_settings
from handoff.records import KafkaRecord
from pipelines.checking import check_batch
from pipelines.normalise import Normaliser
from tests.bench import compiled_check
from warehouse.lake import sql_text

# the ``json_type`` of a field's value each kind takes (``date`` and ``timestamp`` are text)
JSON_TYPES = {
    "string": ("VARCHAR",),
    "date": ("VARCHAR",),
    "timestamp": ("VARCHAR",),
    "integer": ("BIGINT", "UBIGINT"),
    "number": ("BIGINT", "UBIGINT", "DOUBLE"),
    "object": ("OBJECT",),
    "array": ("ARRAY",),
}

BATCH = 10_000  # messages a batch, about what a pass's 3 MiB batches hold


def _best(step: Callable[[], Any], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - started)
    return best


def _structure(contract: EventContract, leaf: Callable[[Any], str]) -> str:
    """``from_json``'s structure of the contract's declared fields, each leaf as ``leaf``."""
    shape: dict[str, Any] = {}
    for f in contract.root.fields:
        shape[f.name] = {c.name: leaf(c) for c in f.fields} if f.kind == "object" else leaf(f)
    return json.dumps(shape)


def _text_and_type(contract: EventContract) -> str:
    """A query of each declared field's JSON text and ``json_type`` over table ``m``."""
    _, leaves, _ = _layout(contract.event_type)
    parts = []
    for path in leaves:
        field = "s." + ".".join(f'"{name}"' for name in path.split("."))
        parts += [f'json_type({field}) as "type {path}"', f'{field} as "text {path}"']
    structure = _structure(contract, lambda f: "JSON")
    return f"select {', '.join(parts)} from (select from_json(v, '{structure}') as s from m)"


def _rules(field: Field, kind: str, text: str) -> str:
    """SQL true where a field's ``json_type`` (``kind``, NULL where absent) and text (``text``)
    keep ``field``'s rules."""
    present = f"coalesce({kind} <> 'NULL', false)"
    types = ", ".join(sql_text(t) for t in JSON_TYPES[field.kind])
    rules = [f"{kind} in ({types})"]
    if field.enum:
        rules.append(f"{text} in ({', '.join(sql_text(c) for c in codes(field.enum))})")
    if field.pattern:
        rules.append(f"regexp_full_match({text}, {sql_text(field.pattern.strip('^$'))})")
    rules += [f"length({text}) {op} {n}" for op, n in compiled_check.length_limits(field)]
    number = f"try_cast({text} as double)"
    rules += [f"{number} {op} {bound}" for op, bound in compiled_check.bound_limits(field)]
    kept = " and ".join(rules)
    return f"({present} and {kept})" if field.required else f"(not {present} or ({kept}))"


def _checked(contract: EventContract) -> str:
    """A query of each message's verdict under the declared fields' rules (``_rules``), each
    field's text and the SHA-256 of the bytes, over table ``m``: each field's type and text
    read once, then its rules."""
    verdicts, read, texts = [], ["v"], []
    for f in contract.root.fields:
        for field, path in (
            [(c, f"{f.name}.{c.name}") for c in f.fields] if f.kind == "object" else [(f, f.name)]
        ):
            value = "s." + ".".join(f'"{name}"' for name in path.split("."))
            k = len(texts)
            read += [f"json_type({value}) as k{k}", f"{value} ->> '$' as t{k}"]
            verdicts.append(_rules(field, f"k{k}", f"t{k}"))
            texts.append(f't{k} as "{path}"')
    structure = _structure(contract, lambda f: "JSON")
    return (
        f"select {' and '.join(verdicts)} as clean, sha256(v) as content_sha256, "
        f"{', '.join(texts)} from (select {', '.join(read)} from "
        f"(select v, from_json(v, '{structure}') as s from m))"
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    now = datetime.now(UTC)
    values: dict[str, list[bytes]] = {}
    for m in SyntheticStream(n, 0.0, 5):
        if m.value:
            values.setdefault(m.topic, []).append(m.value)
    con = duckdb.connect()
    con.execute("set threads = 1")  # a worker's one core
    normaliser = Normaliser("profile", now, b"key")
    built_under = load_settings().var / "bench" / "compiled_check"
    gc.disable()  # the check runs with the collector paused (``pipelines.batch_gc``)
    for contract in sorted(contracts().values(), key=lambda c: c.topic):
        batch = values.get(contract.topic, [])
        if not batch:
            continue
        count = len(batch)

        def orjson_gather(c: EventContract = contract, b: list[bytes] = batch) -> None:
            screened = TypeBatch(c)
            screened.events = [orjson.loads(v) for v in b]
            _gather(screened)

        con.register("m", pa.table({"v": pa.array(batch, pa.binary()).cast(pa.string())}))
        typed = _structure(contract, lambda f: duckdb_type(arrow_type(f)))
        typed_query = f"select unnest(from_json(v, '{typed}')) from m"
        text_query = _text_and_type(contract)
        checked_query = _checked(contract)
        arrays = con.execute(text_query).to_arrow_table()
        records = [KafkaRecord(contract.topic, 0, i, 0, None, v) for i, v in enumerate(batch)]
        # the rules are right for the valid messages (else the figure would time a wrong query)
        clean = con.execute(f"select count_if(clean) from ({checked_query})").fetchone()[0]

        def today(r: list[KafkaRecord] = records) -> None:
            for start in range(0, len(r), BATCH):
                normaliser.tables(check_batch(r[start : start + BATCH], now))

        figures = [
            ("orjson + gather", _best(orjson_gather)),
            ("DuckDB, typed", _best(lambda q=typed_query: con.execute(q).to_arrow_table())),
            ("DuckDB, text and type", _best(lambda q=text_query: con.execute(q).to_arrow_table())),
            ("  to Python lists", _best(lambda t=arrays: [c.to_pylist() for c in t.columns])),
            ("DuckDB, field rules", _best(lambda q=checked_query: con.execute(q).to_arrow_table())),
        ]
        program = compiled_check.build(contract, built_under)
        passes = f"{clean:,} in DuckDB"
        if program is not None:
            seconds, passed = compiled_check.run(program, batch)
            figures.append(("compiled, field rules", seconds * count))
            passes += f", {passed:,} compiled"
        figures.append(("batch check + normalise", _best(today)))
        con.unregister("m")
        fields = len(arrays.columns) // 2
        print(f"{contract.event_type} ({count:,} messages, {fields} fields; rules pass {passes})")
        for label, seconds in figures:
            print(f"  {label:<24}{1e6 * seconds / count:6.2f} µs a message")
        if program is None:
            print("  compiled: cargo is not on the PATH, not measured")


if __name__ == "__main__":
    main()
