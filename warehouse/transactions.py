"""Run a unit of work in one DuckLake transaction, retrying when the catalog is contended.

Writers take turns: on a Postgres catalog (writers on many hosts) with an advisory lock in
its database, which ``warehouse.lake`` gives each writer session (``take_turns_with``). On a
SQLite catalog, a transaction holds the catalog's commit lock
(``<catalog>.commit.lock``) from ``begin`` to ``commit``. SQLite fixes a transaction's
view of the catalog at its first read and refuses its commit once any other writer has
committed since ("database is locked", and waiting does not help), so without turns a
refresh, minutes long, could never commit while an ingest lands a batch every few seconds:
each retry redid the whole refresh and lost again. With turns, a writer waits for the one
before it instead (an ingest's commit for at most a refresh).

Each commit can carry a DuckLake commit message (``lake.snapshots()``: ``author`` is
``finradar``, ``commit_message`` says what committed, e.g. ``ingest <batch_id>``)."""

from __future__ import annotations

import contextlib
import logging
import random
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import duckdb

from warehouse.locks import file_lock, lock_is_free

T = TypeVar("T")
log = logging.getLogger(__name__)
# a writer without settings waits this long for its turn: past a refresh's default bound
DEFAULT_TURN_WAIT_S = 1900.0


def is_retryable(exc: BaseException) -> bool:
    """Whether a commit failed because another writer committed first: DuckLake's conflict
    on a Postgres catalog, SQLite's busy catalog; DuckDB raises both as its transaction
    error class (``TransactionException``), whatever the message says."""
    return isinstance(exc, duckdb.TransactionException)


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute("rollback")


AUTHOR = "finradar"


def set_commit_message(con: duckdb.DuckDBPyConnection, message: str) -> None:
    """Name the open transaction's DuckLake snapshot: author ``finradar`` and ``message``
    (one line: the kind of commit and its id, e.g. ``refresh refresh-2026…``)."""
    catalog = con.execute("select current_database()").fetchone()[0]
    con.execute(f"call {catalog}.set_commit_message(?, ?)", [AUTHOR, message])


def commit_lock_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The lock writers of ``con``'s DuckLake take turns on, if its catalog is SQLite."""
    row = con.execute(
        "select m.path from duckdb_databases() m join duckdb_databases() l "
        "on l.database_name = current_database() and l.path = 'sqlite:' || m.path "
        "where m.type = 'sqlite'"
    ).fetchone()
    return Path(row[0] + ".commit.lock") if row else None


# a shared (Postgres) catalog's writer sessions and how each takes its turn: an advisory
# lock in the catalog's database (``warehouse.lake`` registers it when it opens the session)
_turns: weakref.WeakKeyDictionary[
    duckdb.DuckDBPyConnection, Callable[[float], contextlib.AbstractContextManager[None]]
] = weakref.WeakKeyDictionary()


def take_turns_with(
    con: duckdb.DuckDBPyConnection,
    hold: Callable[[float], contextlib.AbstractContextManager[None]],
) -> None:
    """Writers of ``con``'s catalog take turns with ``hold(wait_s)`` (a lock shared by every
    host), not with a lock file beside a SQLite catalog."""
    _turns[con] = hold


@contextlib.contextmanager
def writers_turn(con: duckdb.DuckDBPyConnection, wait_s: float) -> Iterator[None]:
    """Hold the catalog's commit lock (waiting up to ``wait_s`` for it), if it has one."""
    hold = _turns.get(con)
    if hold is not None:
        with hold(wait_s):
            yield
        return
    path = commit_lock_path(con)
    if path is None:
        yield
        return
    if not lock_is_free(path):
        log.info("waiting for another writer of the warehouse to commit first")
    with file_lock(path, "another writer", wait_s=wait_s):
        yield


def in_transaction(
    con: duckdb.DuckDBPyConnection,
    work: Callable[[], T],
    retries: int = 12,
    before_commit: Callable[[], None] = lambda: None,
    message: Callable[[T], str] | None = None,
    turn_wait_s: float = DEFAULT_TURN_WAIT_S,
    take_turn: bool = True,
) -> T:
    """``work()`` between ``begin`` and ``commit``, in this writer's turn (waiting up to
    ``turn_wait_s`` for it; ``take_turn=False``: the caller holds it); on a retryable error
    roll back, wait with jittered exponential backoff and run it again, up to ``retries``
    more times. ``message``: the commit message of the snapshot, from what ``work()``
    returned."""
    for attempt in range(retries + 1):
        try:
            with writers_turn(con, turn_wait_s) if take_turn else contextlib.nullcontext():
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
