"""The plain script a user might write instead of finradar: kafka-python → ``json.loads``
→ pyarrow → a DuckDB insert per 100,000 messages (one insert of the whole backlog held
7.4 GiB at 1,000,000 messages and was killed at 5,000,000), no checks, no validation, no
exactly-once. The ingest benchmark's second baseline: what validation and bookkeeping cost
on top of it.

    python -m tests.bench.plain_ingest BOOTSTRAP DATABASE
"""

from __future__ import annotations

import json
import sys

import duckdb
import pyarrow as pa

from tests.bench.read_all import consumer_at_start


def main() -> None:
    bootstrap, database = sys.argv[1], sys.argv[2]
    consumer, parts, end = consumer_at_start(bootstrap)
    con = duckdb.connect(database)
    inserted = 0
    rows = _empty()
    while any(consumer.position(tp) < end[tp] for tp in parts):
        for records in consumer.poll(timeout_ms=1000, max_records=10_000).values():
            for m in records:
                try:
                    event = json.loads(m.value)
                    rows["event_id"].append(str(event.get("event_id")))
                    rows["event_type"].append(str(event.get("event_type")))
                except Exception:
                    continue
                rows["topic"].append(m.topic)
                rows["body"].append(m.value.decode("utf-8", "replace"))
        if len(rows["topic"]) >= CHUNK:
            inserted += _insert(con, rows, inserted == 0)
            rows = _empty()
    consumer.close()
    inserted += _insert(con, rows, inserted == 0)
    print(json.dumps({"rows": inserted}))


CHUNK = 100_000


def _empty() -> dict[str, list]:
    return {k: [] for k in ("topic", "event_id", "event_type", "body")}


def _insert(con: duckdb.DuckDBPyConnection, rows: dict[str, list], first: bool) -> int:
    events = pa.table(rows)
    con.register("events_read", events)
    if first:
        con.execute("create table events as select * from events_read")
    else:
        con.execute("insert into events select * from events_read")
    con.unregister("events_read")
    return events.num_rows


if __name__ == "__main__":
    main()
