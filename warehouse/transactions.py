"""Run a unit of work in one DuckLake transaction, retrying when the catalog is contended.

Each commit can carry a DuckLake commit message (``lake.snapshots()``: ``author`` is
``finradar``, ``commit_message`` says what committed, e.g. ``ingest <batch_id>``)."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import TypeVar

import duckdb

T = TypeVar("T")

# SQLite busy, or another writer committed a conflicting change first
RETRYABLE = ("database is locked", "Failed to commit DuckLake transaction", "conflict")


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.Error) and any(s in str(exc) for s in RETRYABLE)


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute("rollback")


AUTHOR = "finradar"


def set_commit_message(con: duckdb.DuckDBPyConnection, message: str) -> None:
    """Name the open transaction's DuckLake snapshot: author ``finradar`` and ``message``
    (one line: the kind of commit and its id, e.g. ``refresh refresh-2026…``)."""
    catalog = con.execute("select current_database()").fetchone()[0]
    con.execute(f"call {catalog}.set_commit_message(?, ?)", [AUTHOR, message])


def in_transaction(
    con: duckdb.DuckDBPyConnection,
    work: Callable[[], T],
    retries: int = 12,
    before_commit: Callable[[], None] = lambda: None,
    message: Callable[[T], str] | None = None,
) -> T:
    """``work()`` between ``begin`` and ``commit``; on a retryable error roll back, wait with
    jittered exponential backoff and run it again, up to ``retries`` more times.
    ``message``: the commit message of the snapshot, from what ``work()`` returned."""
    for attempt in range(retries + 1):
        try:
            con.execute("begin")
            result = work()
            if message is not None:
                set_commit_message(con, message(result))
            before_commit()
            con.execute("commit")
            return result
        except duckdb.Error as exc:
            rollback(con)
            if attempt == retries or not is_retryable(exc):
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))
        except BaseException:
            rollback(con)
            raise
    raise AssertionError("unreachable")
