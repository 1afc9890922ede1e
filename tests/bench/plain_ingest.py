"""The plain script a user might write instead of finradar: kafka-python → ``json.loads``
→ pyarrow → one DuckDB insert, no checks, no validation, no exactly-once. The ingest
benchmark's second baseline: what validation and bookkeeping cost on top of it.

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
    rows: dict[str, list] = {k: [] for k in ("topic", "event_id", "event_type", "body")}
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
    consumer.close()
    events = pa.table(rows)
    con = duckdb.connect(database)
    con.register("events_read", events)
    con.execute("create table events as select * from events_read")
    print(json.dumps({"rows": events.num_rows}))


if __name__ == "__main__":
    main()
