"""``finradar sql``'s process, confined to reading the warehouse (Linux Landlock).

DuckDB's switches (``warehouse.lake.read_only_session``) close what DuckDB itself opens, but
not what the sqlite extension opens with SQLite's own I/O: an ``ATTACH 'sqlite:…'`` of the
catalog read-write, a new SQLite file anywhere, ``sqlite_scan`` of any SQLite file. So before
the session starts, ``confine`` has the kernel take from this process every file access but
reading Python, its packages, the system's libraries and the warehouse's data folder:

* the session reads a private copy of the catalog (one consistent image, made before),
  under ``var/sql-sessions/<pid>/``, removed when the process ends;
* the catalog itself, the rest of ``var/`` and every other file cannot be opened at all,
  for reading or writing, by anything in the process (DuckDB, SQLite, Python);
* the interactive session may still write its history file.

Without Landlock (not Linux, a kernel before 5.13, a seccomp profile that refuses it)
``confine`` refuses to open the session, unless ``warehouse.allow_unconfined_sql``: then it
returns None and the session is only as closed as DuckDB's switches make it (a stderr line
says so). Nothing here imports DuckDB: importing it starts a thread, and Landlock confines
only the threads started after it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
from pathlib import Path

from finradar.errors import FinradarError
from finradar.settings import PROJECT_ROOT, Settings
from infra.landlock import abi_version, restrict_files
from warehouse.catalog_copy import catalog_image

SESSIONS = "sql-sessions"
HISTORY_FILE = "sql_history"  # the interactive session's, under var/
# what a Python process, DuckDB and its extensions read: never a user's files or var/
SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev")
PACKAGES = ("finradar", "contracts", "handoff", "infra", "warehouse", "pipelines", "flows")


def confine(settings: Settings, history: Path | None = None) -> Path | None:
    """Confine this process to reading (see the module); returns the private copy of the
    catalog the session must attach, or None when the kernel cannot confine it and
    ``warehouse.allow_unconfined_sql`` allows that."""
    if abi_version() == 0:
        if not settings.warehouse.allow_unconfined_sql:
            raise FinradarError(
                "this kernel has no Landlock, so finradar sql cannot confine itself to reading "
                "(set warehouse.allow_unconfined_sql = true to rely on DuckDB's switches only)"
            )
        print(
            "finradar: warning: no Landlock: the session is read-only by DuckDB's switches "
            "only (see docs/security.md)",
            file=sys.stderr,
        )
        return None
    if len(os.listdir("/proc/self/task")) != 1:
        # a thread started before would not be confined (DuckDB's, once imported)
        raise FinradarError("finradar sql: a thread runs before the confinement (a bug)")
    folder = settings.var / SESSIONS
    _remove_stale(folder)
    own = folder / str(os.getpid())
    own.mkdir(parents=True, exist_ok=True, mode=0o700)
    atexit.register(shutil.rmtree, own, True)
    # a Postgres catalog is read over the network, by a session the server keeps from
    # writing (``warehouse.lake.catalog_spec``): no copy, and no catalog file to close
    copy = None if settings.catalog_is_postgres else own / "catalog.sqlite"
    if copy is not None:
        copy.write_bytes(catalog_image(settings))
    if history is not None:
        history.parent.mkdir(parents=True, exist_ok=True)
        history.touch()
    readable = [
        *{Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)},
        *map(Path, SYSTEM_PATHS),
        *(PROJECT_ROOT / package for package in PACKAGES),
        *([] if settings.data_in_object_store else [settings.data_path]),
        own,
    ]
    writable = [history] if history is not None else []
    if not restrict_files(readable, writable, removable=[folder]):
        raise FinradarError("Landlock refused to confine finradar sql")
    return copy


def _remove_stale(folder: Path) -> None:
    """Copies left by sessions whose process is gone (killed before it could remove them)."""
    if not folder.is_dir():
        return
    for session in folder.iterdir():
        with contextlib.suppress(ValueError):
            pid = int(session.name)
            if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(session, ignore_errors=True)
