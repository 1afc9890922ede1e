"""Reads the warehouse in a loop while an ingest commits; prints one JSON line per read.

Each read checks, in one snapshot, that every landed, quarantined or duplicate record is
below its partition's committed offset and that they add up to the offsets.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from contracts.spec import contracts
from finradar.settings import load_settings
from warehouse.lake import connect, warehouse_exists

RAW = "".join(
    f"    select kafka_topic, kafka_partition, kafka_offset from raw.{c.table}\n    union all\n"
    for c in contracts().values()
)
QUERY = f"""
with offsets as (select kafka_topic, kafka_partition, next_offset from ops.kafka_offsets),
records as (
{RAW}    select kafka_topic, kafka_partition, kafka_offset from quarantine.events
    union all select kafka_topic, kafka_partition, kafka_offset from ops.duplicate_events
)
select
    (select count(*) from records),
    (select coalesce(sum(next_offset), 0) from offsets),
    (select count(*) from records r left join offsets o using (kafka_topic, kafka_partition)
      where o.next_offset is null or r.kafka_offset >= o.next_offset)
"""


def main() -> None:
    """``lake_reader.py VAR [--one-session]``: with ``--one-session`` every read is a
    statement of one long-lived session (each still reads the newest snapshot), not a
    session of its own (opening one costs half a second of CPU on a shared warehouse)."""
    settings = load_settings(var_dir=Path(sys.argv[1]))
    one_session = "--one-session" in sys.argv[2:]
    while not warehouse_exists(settings):
        time.sleep(0.2)
    con = None
    while True:
        try:
            con = con if one_session and con is not None else connect(settings, read_only=True)
            rows, offsets, beyond = con.execute(QUERY).fetchone()
            if not one_session:
                con.close()
        except Exception as exc:  # the schema is being created: read again
            if con is not None:
                con.close()
                con = None
            print(json.dumps({"error": str(exc)[:200], "consistent": True}), flush=True)
            time.sleep(0.2)
            continue
        print(
            json.dumps(
                {
                    "rows": rows,
                    "offsets": offsets,
                    "beyond": beyond,
                    "consistent": rows == offsets and beyond == 0,
                }
            ),
            flush=True,
        )
        time.sleep(0.5)


if __name__ == "__main__":
    main()
