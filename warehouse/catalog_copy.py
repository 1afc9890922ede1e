"""A consistent copy of the warehouse's SQLite catalog, made with Python's sqlite3 alone.

``finradar sql`` reads such a copy in a process confined to reading: this module imports
no DuckDB (importing DuckDB starts a thread, which must not run before the confinement).
"""

from __future__ import annotations

import contextlib
import sqlite3

from finradar.errors import FinradarError
from finradar.settings import Settings


def catalog_image(settings: Settings) -> bytes:
    """The catalog as one consistent SQLite database image (SQLite's backup API copies one
    read transaction: a commit running meanwhile is in it whole or not at all), marked as a
    rollback-journal database, so that reading it needs no -wal or -shm file beside it."""
    source = sqlite3.connect(f"file:{settings.catalog_path}?mode=ro", uri=True)
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as copy:
            source.backup(copy)
            image = bytearray(copy.serialize())
    except sqlite3.Error as exc:
        raise FinradarError(f"cannot read the catalog {settings.catalog_path}: {exc}") from None
    finally:
        source.close()
    image[18:20] = b"\x01\x01"  # the header's file format versions: 1 = legacy, not WAL
    return bytes(image)
