"""A warehouse holding N synthetic events, built in minutes instead of the ingest's hours.

The first ``--base`` messages of ``contracts.synthetic.SyntheticStream(n, bad_rate, seed)``
go through the ingest's own decode, contract check and normaliser (``check_batch``,
``Normaliser.tables``; no Kafka, no GX). Their valid events (first copy of each id) are then
replicated in DuckDB SQL until the stream's N messages are covered, each replica ``k`` with

* new ``event_id`` (``<id>.r<k>``), ``respondent_id``, Kafka offsets and ``batch_id``;
* its institution moved to another of the same type and tier (a step of 7 through the
  tier's population: spend levels stay plausible, every institution gets events);
* a new publication date in the same year (``occurred_at`` and a spend figure's
  ``vintage``): the vintages of a figure multiply as they would in the stream;
* spend amounts scaled by a factor in [0.9, 1.1]: restated figures differ.

So the key cardinalities (institutions × scope × class × technology × period, vintages per
key, respondents, milestones per institution × capability) grow as the stream's would at N.
Each replica lands as one commit (like an ingest batch). A bad record of the base that the
platform lands (``unit_scale_error``) is replicated with the rest; quarantined ones are not
landed (nothing downstream of ``raw.*`` reads them). The seed reports' 164 figures
(``contracts.corpus.seed_events``: segments, groups, industry aggregates) land once, so group
roll-ups and the checks on them have rows too.

    python -m tests.bench.big_warehouse --events 5000000 --dir var/bench/wh-5m

The folder is the ``var`` folder of the settings (``FINRADAR_VAR_DIR``): the catalog is
``<dir>/warehouse/catalog.sqlite``. ``<dir>/big_warehouse.json`` records what was built; a
second call with the same arguments reuses it.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from contracts.corpus.seed_events import spend_and_deployment_events
from contracts.synthetic import CHUNK, POPULATION, SyntheticStream, population
from finradar.settings import Settings, load_settings
from handoff.records import KafkaRecord
from pipelines.checking import check_batch
from pipelines.normalise import Normaliser
from warehouse.lake import connect
from warehouse.schema import create_all

BASE_EVENTS = 100_000
MARKER = "big_warehouse.json"
STEP = 7  # coprime with every tier's population size
EVENT_TABLES = ("spend_disclosures", "deployment_milestones", "survey_responses")


def build(
    var_dir: Path,
    events: int,
    *,
    base: int = BASE_EVENTS,
    bad_rate: float = 0.02,
    seed: int = 7,
    quiet: bool = False,
) -> Settings:
    """Create (or reuse) the warehouse of ``events`` synthetic messages under ``var_dir``."""
    say = (lambda *a: None) if quiet else print
    settings = load_settings(var_dir=var_dir)
    wanted = {
        "events": events,
        "base": min(base, events),
        "bad_rate": bad_rate,
        "seed": seed,
        "seed_reports": True,
    }
    marker = settings.var / MARKER
    if marker.is_file() and json.loads(marker.read_text())["built"] == wanted:
        say(f"reusing the warehouse of {events:,} events at {settings.warehouse_dir}")
        return settings
    if settings.warehouse_dir.exists():
        raise SystemExit(f"{settings.warehouse_dir} holds another warehouse; remove it first")
    started = time.perf_counter()
    con = connect(settings)
    try:
        create_all(con)
        _base_tables(con, wanted["base"], bad_rate, seed, say)
        _population(con, seed)
        landed = _replicate(con, events, wanted["base"], say)
    finally:
        con.close()
    seconds = time.perf_counter() - started
    marker.write_text(
        json.dumps({"built": wanted, "landed": landed, "seconds": round(seconds, 1)}, indent=1)
    )
    say(f"built {sum(landed.values()):,} rows in {seconds:.0f} s: {landed}")
    return settings


def _base_tables(
    con: duckdb.DuckDBPyConnection, base: int, bad_rate: float, seed: int, say: Any
) -> None:
    """Temp tables ``base_<table>``: the normalised valid events of the first ``base``
    messages of the stream, typed as ``raw.*``, first copy of each event id."""
    started = time.perf_counter()
    stream = SyntheticStream(base, bad_rate, seed)
    now = datetime.now(UTC)
    normaliser = Normaliser("big-base", now, b"finradar-local-development-key")
    offsets: dict[str, int] = {}
    columns: dict[str, set[str]] = {}
    for name in (*EVENT_TABLES, "survey_answers"):
        con.execute(f"create temp table base_{name} as select * from raw.{name} limit 0")
        if name == "survey_answers":  # the staged answers carry their message's coordinates
            for column, kind in (("kafka_topic", "varchar"), ("kafka_offset", "bigint")):
                con.execute(f"alter table base_{name} add column {column} {kind}")
        columns[name] = {r[0] for r in con.execute(f"describe base_{name}").fetchall()}
    for chunk in stream.chunks():
        records = []
        for m in stream.chunk(chunk):
            offset = offsets[m.topic] = offsets.get(m.topic, -1) + 1
            records.append(KafkaRecord(m.topic, 0, offset, 1_750_000_000_000, m.key, m.value))
        _add_to_base(con, normaliser.tables(check_batch(records, now)), columns)
        say(f"  base: {min(base, (chunk + 1) * CHUNK):,} messages normalised")
    # and the seed reports' figures once (segments, groups and industry aggregates)
    records = []
    for event in spend_and_deployment_events():
        topic = stream.topics[event["event_type"]]
        offset = offsets[topic] = offsets.get(topic, -1) + 1
        key = event["subject"]["entity_id"].encode()
        value = json.dumps(event, ensure_ascii=False).encode()
        records.append(KafkaRecord(topic, 0, offset, 1_750_000_000_000, key, value))
    _add_to_base(con, normaliser.tables(check_batch(records, now)), columns)
    # the landing keeps the first copy of an event id (duplicates, conflicts go elsewhere)
    for name in EVENT_TABLES:
        con.execute(
            f"""
            create or replace temp table base_{name} as
            select * from base_{name}
            qualify row_number() over (partition by event_id order by kafka_offset) = 1
            """
        )
    con.execute(
        """
        create or replace temp table base_survey_answers as
        select a.* from base_survey_answers as a
        semi join base_survey_responses as r
            on r.event_id = a.event_id and r.kafka_topic = a.kafka_topic
            and r.kafka_offset = a.kafka_offset
        """
    )
    say(f"  base: {base:,} messages normalised in {time.perf_counter() - started:.0f} s")


def _add_to_base(
    con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table], columns: dict[str, set[str]]
) -> None:
    for name in (*EVENT_TABLES, "survey_answers"):
        if name in tables:
            con.register("chunk_rows", tables[name])
            kept = ", ".join(f'"{c}"' for c in tables[name].column_names if c in columns[name])
            con.execute(f"insert into base_{name} ({kept}) select {kept} from chunk_rows")
            con.unregister("chunk_rows")


def _population(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    """``base_population``: each synthetic institution, its tier's prefix, index and size."""
    sizes = {(itype, tier): count for itype, tier, count, _ in POPULATION}
    rows = []
    for inst in population(seed):
        prefix, index = inst.entity_id.rsplit("_", 1)
        rows.append(
            {
                "entity_id": inst.entity_id,
                "prefix": prefix + "_",
                "idx": int(index),
                "size": sizes[(inst.institution_type, inst.tier)],
            }
        )
    con.register("population_rows", pa.Table.from_pylist(rows))
    con.execute("create or replace temp table base_population as from population_rows")
    con.unregister("population_rows")


def _replica_sql(table: str, k: int, base: int, limit: int) -> str:
    """``select`` of replica ``k`` of ``base_<table>``, typed as ``raw.<table>``."""
    step = k * STEP
    entity = (
        f"coalesce(p.prefix || lpad(cast((p.idx - 1 + {step}) % p.size + 1 as varchar), 3, '0'),"
        " b.entity_id)"
    )
    new_id = f"b.event_id || '.r{k}'"
    h = f"hash({new_id})"
    offset = f"b.kafka_offset + {k * base}"  # a topic's offsets in the base are < base
    # the stream publishes a year's figures in the first half of the next year
    year = "date_part('year', timezone('UTC', b.occurred_at))"
    day = f"make_date({year}, 1 + ({h} % 6)::int, 1 + (({h} // 6) % 28)::int)"
    occurred = f"cast(strftime({day}, '%Y-%m-%d') || ' 09:00:00+08:00' as timestamptz)"
    synthetic = "b.event_id like 'syn-%'"  # the seed reports' events land once, unchanged
    seq = "cast(regexp_extract(b.event_id, '-([0-9]+)$', 1) as bigint)"
    replaced = {
        "event_id": new_id,
        "entity_id": entity,
        "occurred_at": occurred,
        "kafka_offset": offset,
        "batch_id": f"'big-{k:05d}'",
        "ingested_at": f"b.ingested_at + interval {k} minute",
    }
    if table in EVENT_TABLES:
        replaced["message_key"] = entity
        replaced["content_sha256"] = f"sha256({new_id} || b.content_sha256)"
    if table in ("survey_responses", "survey_answers"):
        replaced["respondent_id"] = f"'r-' || {new_id}"
    if table == "spend_disclosures":
        factor = f"(0.9 + (({h} // 168) % 201) / 1000.0)"
        replaced["vintage"] = day
        replaced["amount"] = f"round(b.amount * {factor}, 3)"
        replaced["amount_yi"] = f"round(b.amount * {factor}, 3) * (b.amount_yi / b.amount)"
    if table == "survey_answers":
        del replaced["ingested_at"]
    columns = ", ".join(f"{expr} as {name}" for name, expr in replaced.items())
    return f"""
        select b.* replace ({columns})
        from base_{table} as b
        left join base_population as p on p.entity_id = b.entity_id
        where ({synthetic} and {seq} < {limit}) or ({k} = 0 and not {synthetic})
    """


def _replicate(con: duckdb.DuckDBPyConnection, events: int, base: int, say: Any) -> dict[str, int]:
    """Land replicas of the base until ``events`` messages are covered, one commit each."""
    replicas = math.ceil(events / base)
    started = time.perf_counter()
    for k in range(replicas):
        limit = min(base, events - k * base)  # messages of this replica (the last: fewer)
        con.execute("begin")
        for table in (*EVENT_TABLES, "survey_answers"):
            select = _replica_sql(table, k, base, limit)
            if table == "survey_answers":
                con.execute(
                    f"insert into raw.survey_answers by name "
                    f"select * exclude (kafka_topic, kafka_offset) from ({select})"
                )
            else:
                con.execute(f"insert into raw.{table} by name {select}")
        con.execute("commit")
        done = k * base + limit
        rate = done / (time.perf_counter() - started)
        say(f"  landed replica {k + 1}/{replicas}: {done:,} messages ({rate:,.0f}/s)")
    return {
        table: con.execute(f"select count(*) from raw.{table}").fetchone()[0]
        for table in (*EVENT_TABLES, "survey_answers")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000, help="stream messages")
    parser.add_argument("--dir", type=Path, help="var folder (default var/bench/wh-<N>)")
    parser.add_argument("--base", type=int, default=BASE_EVENTS)
    parser.add_argument("--bad-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    folder = args.dir or default_dir(args.events)
    build(folder, args.events, base=args.base, bad_rate=args.bad_rate, seed=args.seed)


def default_dir(events: int) -> Path:
    return load_settings().var / "bench" / f"wh-{events}"


if __name__ == "__main__":
    main()
