"""Advisory file locks: one ingest, one refresh at a time per warehouse."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from finradar.errors import TransientError


@contextmanager
def file_lock(path: Path, holder_name: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path``; fail fast, naming the holder, if it is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise TransientError(f"{holder_name} is writing the warehouse ({holder})") from None
        fh.truncate(0)
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
