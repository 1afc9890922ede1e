"""Advisory file locks: one ingest, one refresh at a time per warehouse.

A process that waits for a lock can say so (``announce``): it leaves a marker named after
its pid in ``<lock>.waiting/`` while it waits, and ``anyone_waiting`` tells the holder of a
long series of locks (``follow``, one per pass) to let it have the next turn.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from finradar.errors import TransientError
from infra.child_processes import process_alive

POLL_S = 0.05


@contextmanager
def file_lock(
    path: Path, holder_name: str, wait_s: float = 0.0, announce: bool = False
) -> Iterator[None]:
    """Hold an exclusive lock on ``path``. If it is taken, wait up to ``wait_s`` for it
    (``announce``: as a waiter others can see), then fail, naming the holder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        if not _try_lock(fh):
            with _waiting(path) if announce else contextlib.nullcontext():
                deadline = time.monotonic() + wait_s
                while not _try_lock(fh):
                    if time.monotonic() >= deadline:
                        fh.seek(0)
                        holder = fh.read().strip() or "another process"
                        raise TransientError(
                            f"{holder_name} is writing the warehouse ({holder})"
                        ) from None
                    time.sleep(POLL_S)
        fh.truncate(0)
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _try_lock(fh: IO[str]) -> bool:
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def waiting_dir(path: Path) -> Path:
    return path.with_name(path.name + ".waiting")


@contextmanager
def _waiting(path: Path) -> Iterator[None]:
    marker = waiting_dir(path) / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def anyone_waiting(path: Path) -> bool:
    """Whether a live process waits for ``path``'s lock, announced; the markers of
    processes that died waiting are removed."""
    folder = waiting_dir(path)
    if not folder.is_dir():
        return False
    waiting = False
    for marker in folder.iterdir():
        try:
            pid = int(marker.name.split("-")[0])
        except ValueError:
            continue
        if process_alive(pid):
            waiting = True
        else:
            marker.unlink(missing_ok=True)
    return waiting


def lock_is_free(path: Path) -> bool:
    """Whether nobody holds ``path``'s lock right now (a hint: it may be taken next)."""
    if not path.exists():
        return True
    with path.open("a+") as fh:
        if not _try_lock(fh):
            return False
        fcntl.flock(fh, fcntl.LOCK_UN)
        return True
