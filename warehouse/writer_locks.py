"""The warehouse's writer locks (one ingest, one refresh, one alert evaluation at a time),
wherever its writers run.

On a SQLite catalog every writer is on this host: a file lock under ``var/warehouse/``
(``warehouse.locks.file_lock``). On a Postgres catalog writers may run on several hosts, so
the lock is a Postgres advisory lock in the catalog's database, held by a connection of the
holder's own: the server releases it when that connection ends, however the holder ended
(killed, or its host gone), and a waiter shows in ``pg_locks`` as not granted, which is what
``anyone_waiting`` reads.
"""

from __future__ import annotations

import contextlib
import os
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from finradar.errors import TransientError
from finradar.settings import Settings
from warehouse.catalog_location import postgres_conninfo, without_secrets
from warehouse.locks import anyone_waiting, file_lock, lock_is_free

# the first of the two keys of every finradar advisory lock ("frad"), the second is its name's
ADVISORY_CLASS = 0x66726164 & 0x7FFFFFFF
CONNECT_TIMEOUT_S = 10


class WriterLock(Protocol):
    """One kind of writer of the warehouse at a time."""

    def hold(
        self, wait_s: float = 0.0, announce: bool = False
    ) -> contextlib.AbstractContextManager[None]:
        """Hold the lock, waiting up to ``wait_s`` (``announce``: as a waiter others can
        see); else fail with ``TransientError`` naming the holder."""
        ...

    def is_free(self) -> bool:
        """Whether nobody holds it now (a hint: it may be taken next)."""
        ...

    def anyone_waiting(self) -> bool:
        """Whether a process waits for it, announced."""
        ...


def writer_lock(settings: Settings, name: str, holder_name: str) -> WriterLock:
    """The lock of the writers called ``name`` (``ingest``, ``refresh``, ``alerts``);
    ``holder_name`` says who holds it in the message of a writer that gives up waiting."""
    if settings.catalog_is_postgres:
        return AdvisoryLock(settings, name, holder_name)
    return FileWriterLock(settings.warehouse_dir / f"{name}.lock", holder_name)


class FileWriterLock:
    """A writer lock of a SQLite catalog's warehouse: a file lock on this host."""

    def __init__(self, path: Path, holder_name: str) -> None:
        self.path = path
        self.holder_name = holder_name

    def hold(
        self, wait_s: float = 0.0, announce: bool = False
    ) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.path, self.holder_name, wait_s, announce)

    def is_free(self) -> bool:
        return lock_is_free(self.path)

    def anyone_waiting(self) -> bool:
        return anyone_waiting(self.path)


class AdvisoryLock:
    """A writer lock of a Postgres catalog's warehouse: an advisory lock in its database."""

    def __init__(self, settings: Settings, name: str, holder_name: str) -> None:
        self.settings = settings
        self.name = name
        self.holder_name = holder_name
        self.key = (ADVISORY_CLASS, zlib.crc32(name.encode()) & 0x7FFFFFFF)

    def _connect(self, label: str) -> Any:
        # lazy: only a Postgres catalog needs psycopg (a tenth of a second to import)
        import psycopg

        # who holds a lock shows in ``pg_stat_activity`` by the application name
        app = f"finradar {label} {self.name} pid {os.getpid()} on {socket.gethostname()}"[:63]
        try:
            return psycopg.connect(
                postgres_conninfo(self.settings),
                autocommit=True,
                application_name=app,
                connect_timeout=CONNECT_TIMEOUT_S,
            )
        except psycopg.Error as exc:
            reason = without_secrets(" ".join(str(exc).split()), self.settings)
            raise TransientError(
                f"cannot reach the warehouse catalog {self.settings.warehouse_name}: {reason}"
            ) from None

    @contextlib.contextmanager
    def hold(self, wait_s: float = 0.0, announce: bool = False) -> Iterator[None]:
        # lazy: only a Postgres catalog needs psycopg (a tenth of a second to import)
        import psycopg

        db = self._connect("holding")
        try:
            got = db.execute("select pg_try_advisory_lock(%s, %s)", self.key).fetchone()[0]
            if not got and wait_s > 0:
                # a blocking wait, bounded, shows in pg_locks as a waiter (``anyone_waiting``)
                try:
                    db.execute(f"set lock_timeout = {int(wait_s * 1000)}")
                    db.execute("select pg_advisory_lock(%s, %s)", self.key)
                    got = True
                except psycopg.errors.LockNotAvailable:
                    got = False
            if not got:
                raise TransientError(
                    f"{self.holder_name} is writing the warehouse ({self._holder(db)})"
                )
            yield
        finally:
            with contextlib.suppress(psycopg.Error):
                db.close()  # ends the session, and with it the lock

    def _holder(self, db: Any) -> str:
        row = db.execute(
            "select a.application_name from pg_locks l join pg_stat_activity a using (pid) "
            "where l.locktype = 'advisory' and l.classid = %s and l.objid = %s and l.granted",
            self.key,
        ).fetchone()
        return row[0] if row else "another process"

    def _count(self, granted: bool) -> int:
        db = self._connect("checking")
        try:
            return int(
                db.execute(
                    "select count(*) from pg_locks where locktype = 'advisory' "
                    "and classid = %s and objid = %s and granted = %s",
                    [*self.key, granted],
                ).fetchone()[0]
            )
        finally:
            db.close()

    def is_free(self) -> bool:
        return self._count(granted=True) == 0

    def anyone_waiting(self) -> bool:
        return self._count(granted=False) > 0
