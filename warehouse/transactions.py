"""Run a unit of work in one DuckLake transaction, retrying when the catalog is contended."""

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


def in_transaction(
    con: duckdb.DuckDBPyConnection,
    work: Callable[[], T],
    retries: int = 12,
    before_commit: Callable[[], None] = lambda: None,
) -> T:
    """``work()`` between ``begin`` and ``commit``; on a retryable error roll back, wait with
    jittered exponential backoff and run it again, up to ``retries`` more times."""
    for attempt in range(retries + 1):
        try:
            con.execute("begin")
            result = work()
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
