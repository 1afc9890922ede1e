"""Child processes for the DuckLake isolation test: a writer and a read-only reader."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from finradar.settings import load_settings
from warehouse.lake import connect


def write(var_dir: Path, transactions: int, rows: int) -> None:
    # start once the reader is attached, and leave it time to look between commits: on a
    # busy machine a reader that starts late would only ever see the end state
    ready = var_dir / "reader-ready"
    deadline = time.monotonic() + 120
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    con = connect(load_settings(var_dir=var_dir))
    for i in range(transactions):
        con.execute("BEGIN")
        con.execute("INSERT INTO raw.events SELECT ?, range FROM range(?)", [i, rows])
        con.execute("INSERT INTO ops.offsets VALUES (?, ?)", [i, (i + 1) * rows])
        con.execute("COMMIT")
        time.sleep(0.02)
    con.close()


def read(var_dir: Path, stop_file: Path) -> None:
    con = connect(load_settings(var_dir=var_dir), read_only=True)
    (var_dir / "reader-ready").touch()
    observations = []
    while True:
        done = stop_file.exists()
        events, offset_rows, top = con.execute(
            "SELECT (SELECT count(*) FROM raw.events), (SELECT count(*) FROM ops.offsets),"
            " (SELECT coalesce(max(next_offset), 0) FROM ops.offsets)"
        ).fetchone()
        observations.append([events, offset_rows, top])
        if done:
            break
    print(json.dumps(observations))


if __name__ == "__main__":
    role, var = sys.argv[1], Path(sys.argv[2])
    if role == "write":
        write(var, int(sys.argv[3]), int(sys.argv[4]))
    else:
        read(var, Path(sys.argv[3]))
