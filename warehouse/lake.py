"""Attach the DuckLake warehouse: a SQLite catalog plus Parquet files under ``var/``.

Extensions are loaded by path from the installed ``duckdb-extension-*`` packages (DuckDB's
signed binaries), with auto-install and auto-load off, so nothing is downloaded at run time
(``warehouse.extensions``).
The SQLite catalog lets a reader process attach while a writer commits.

A read-only session (``connect(settings, read_only=True)``) is read-only by construction, by
DuckDB's own switches, not by looking at the SQL: see ``connect``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from datetime import datetime
from pathlib import Path

import duckdb

from finradar.errors import FinradarError
from finradar.settings import Settings
from warehouse.catalog_location import postgres_conninfo, without_secrets
from warehouse.extensions import load_extensions, session_extension_config
from warehouse.transactions import in_transaction, take_turns_with
from warehouse.writer_locks import AdvisoryLock

# the schema of a Postgres database that holds DuckLake's catalog tables
POSTGRES_METADATA_SCHEMA = "ducklake"
CREATE_WAIT_S = 120.0  # for another writer creating a new catalog's tables


def use_object_store(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Give the session the object store's credentials (a temporary DuckDB secret, scoped to
    the data path), when the data are in one."""
    if not settings.data_in_object_store:
        return
    w = settings.warehouse
    options = [
        "TYPE s3",
        f"SCOPE {sql_text(settings.data_location + '/')}",
        f"REGION {sql_text(w.s3_region)}",
        f"URL_STYLE {sql_text(w.s3_url_style)}",
        f"USE_SSL {str(w.s3_use_ssl).lower()}",
    ]
    if w.s3_endpoint:
        options.append(f"ENDPOINT {sql_text(w.s3_endpoint)}")
    if w.s3_key_id:
        options.append(f"KEY_ID {sql_text(w.s3_key_id)}")
    if w.s3_secret is not None:
        options.append(f"SECRET {sql_text(w.s3_secret.get_secret_value())}")
    con.execute(f"CREATE OR REPLACE TEMPORARY SECRET finradar_data ({', '.join(options)})")


def catalog_spec(settings: Settings, read_only: bool = False) -> str:
    """The DuckLake catalog database to attach: ``sqlite:<file>`` or ``postgres:<conninfo>``
    (never with the password: ``use_catalog_password``). A read-only session's Postgres
    connection refuses to write at the server (``default_transaction_read_only``) as well."""
    if not settings.catalog_is_postgres:
        return f"sqlite:{settings.catalog_path}"
    return "postgres:" + postgres_conninfo(settings, read_only, with_password=False)


def use_catalog_password(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Give the session the Postgres catalog's password as DuckDB's default Postgres secret:
    a database's path in ``duckdb_databases()`` is readable by any query of the session (an
    analyst's too), a secret's value is not."""
    password = settings.warehouse.catalog_password
    if settings.catalog_is_postgres and password is not None:
        value = sql_text(password.get_secret_value())
        con.execute(f"CREATE OR REPLACE TEMPORARY SECRET (TYPE postgres, PASSWORD {value})")


def one_line(message: object) -> str:
    """A DuckDB error (multi-line, with a caret under the position) as one line. An error
    raised in Python code DuckDB called loses the stack DuckDB appends."""
    lines = [line.strip() for line in str(message).splitlines()]
    if "At:" in lines:
        lines = lines[: lines.index("At:")]
    kept = [line for line in lines if line and set(line) != {"^"}]
    return " ".join(" ".join(kept).split())


def use_wal(catalog: Path) -> None:
    """Keep the SQLite catalog in write-ahead-log mode (it stays so: the mode lives in the
    file). In SQLite's default rollback mode a reader's lock blocks a writer's commit, so a
    refresh could fail for as long as an ingest kept committing next to it; with WAL, readers
    never block the writer and writers only queue behind each other's short commits.
    Called when the catalog is created."""
    try:
        with contextlib.closing(sqlite3.connect(catalog, timeout=5)) as db:
            if db.execute("pragma journal_mode").fetchone()[0] != "wal":
                db.execute("pragma journal_mode=wal")
    except sqlite3.OperationalError:
        pass  # busy: another process is creating it at this moment, and switches it


def _attach_options(data: Path | str, postgres: bool = False) -> list[str]:
    """The catalog stores the data path it was created with (absolute); every session
    attaches with the settings' data path and ``OVERRIDE_DATA_PATH true`` (but the creating
    one), so a warehouse copied or moved elsewhere (``var/`` with its ``warehouse/``) still
    attaches: the data files' paths are stored relative to the data path. A Postgres
    catalog keeps its tables in a schema of their own."""
    options = [f"DATA_PATH {sql_text(f'{data}/')}", "METADATA_CATALOG 'ducklake_meta'"]
    if postgres:
        options.append(f"METADATA_SCHEMA '{POSTGRES_METADATA_SCHEMA}'")
    return options


def warehouse_exists(settings: Settings) -> bool:
    """Whether the warehouse's catalog has been created (by the first writer)."""
    if not settings.catalog_is_postgres:
        return settings.catalog_path.exists()
    # lazy: only a Postgres catalog needs psycopg (a tenth of a second to import)
    import psycopg

    try:
        with psycopg.connect(postgres_conninfo(settings, read_only=True), connect_timeout=10) as db:
            row = db.execute(
                "select to_regclass(%s) is not null",
                [f"{POSTGRES_METADATA_SCHEMA}.ducklake_snapshot"],
            ).fetchone()
    except psycopg.Error as exc:
        raise FinradarError(
            f"cannot reach the warehouse catalog {settings.warehouse_name}: "
            + without_secrets(one_line(exc), settings)
        ) from None
    return bool(row and row[0])


def create_catalog(catalog: Path, data: Path) -> None:
    """Create an empty DuckLake catalog at ``catalog`` atomically: it is built under a
    temporary name and hard-linked into place, so whoever finds the catalog file finds a
    DuckLake in it (a reader attaching during the first ingest used to find SQLite's empty
    file and fail). Of two writers creating it at once, the first link wins; the other's
    copy is dropped, never renamed over a catalog someone already attached."""
    catalog.parent.mkdir(parents=True, exist_ok=True)
    fresh = catalog.with_name(f".{catalog.name}.{os.getpid()}.{uuid.uuid4().hex}")
    try:
        # only while no session of this process can have the file open: closing a Python
        # sqlite3 connection drops the locks DuckDB's own SQLite holds on the same file
        use_wal(fresh)
        with contextlib.closing(duckdb.connect(config=session_extension_config())) as con:
            load_extensions(con)
            options = ", ".join(_attach_options(data))
            con.execute(f"ATTACH 'ducklake:sqlite:{fresh}' AS fresh_catalog ({options})")
            con.execute("DETACH fresh_catalog")
        if Path(f"{fresh}-wal").exists() and Path(f"{fresh}-wal").stat().st_size:
            raise FinradarError(f"creating the warehouse at {catalog}: its log was not merged")
        with contextlib.suppress(FileExistsError):
            os.link(fresh, catalog)
    except duckdb.Error as exc:
        raise FinradarError(f"cannot create the warehouse at {catalog}: {one_line(exc)}") from None
    finally:
        for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
            leftover.unlink(missing_ok=True)


def connect(
    settings: Settings,
    *,
    read_only: bool = False,
    as_of: int | datetime | None = None,
    catalog_copy: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB session with the warehouse attached and selected.

    The first writer creates the catalog and data folder. A read-only session needs an
    existing catalog. ``as_of`` (a snapshot id or a time) attaches the warehouse read-only
    as it was then.

    A read-only session can only read the warehouse: it is set up (extensions loaded, the
    warehouse attached READ_ONLY and selected) and then closed with DuckDB's own switches, so
    that no file can be written, no file outside the warehouse's data folder read, no
    extension installed or loaded, and no setting changed; its in-memory default database is
    detached. See ``read_only_session``. ``catalog_copy``: a read-only session attaches this
    copy of the catalog (``catalog_image``) instead of the catalog itself.
    """
    read_only = read_only or as_of is not None
    if settings.catalog_is_postgres or settings.data_in_object_store:
        return _connect_shared(settings, read_only, as_of)
    catalog = settings.catalog_path
    data = settings.data_path
    if read_only and not catalog.exists():
        raise FinradarError(f"no warehouse at {catalog}; run an ingest first")
    if not read_only and not catalog.exists():
        if data.is_dir() and next(data.rglob("*.parquet"), None) is not None:
            # a new catalog would start again from offset 0 beside the old warehouse's data
            raise FinradarError(
                f"the warehouse catalog {catalog} is missing while {data} holds data files: "
                f"restore the catalog, or move {data} away to start an empty warehouse"
            )
        data.mkdir(parents=True, exist_ok=True)
        create_catalog(catalog, data)
    if read_only:
        return read_only_session(settings, as_of, catalog_copy)
    data.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config=writer_config(settings))
    con.execute("set enable_progress_bar = false")  # it is drawn into logs too
    load_extensions(con)
    _attach(con, settings, [*_attach_options(data), "OVERRIDE_DATA_PATH true"], as_of=None)
    return con


def _connect_shared(
    settings: Settings, read_only: bool, as_of: int | datetime | None
) -> duckdb.DuckDBPyConnection:
    """``connect`` to a shared warehouse: a Postgres catalog (its first writer creates
    DuckLake's tables there) and/or data in an object store. A reader's catalog connection
    refuses writes at the server; its session is closed against change as a local reader's
    is (``read_only_session``), but for the network it needs."""
    if read_only and not warehouse_exists(settings):
        raise FinradarError(f"no warehouse at {settings.warehouse_name}; run an ingest first")
    if not settings.data_in_object_store:
        settings.data_path.mkdir(parents=True, exist_ok=True)
    config = read_only_config(settings) if read_only else writer_config(settings)
    if settings.catalog_is_postgres:
        # the postgres extension looks its attach up in DuckDB's persistent secret storage,
        # which refusing persistent secrets removes ("Unknown secret storage 'local_file'");
        # writing one is still kept from ``finradar sql`` by its confinement
        config.pop("allow_persistent_secrets", None)
    con = duckdb.connect(config=config)
    try:
        con.execute("set enable_progress_bar = false")
        load_extensions(con, settings)
        use_object_store(con, settings)
        use_catalog_password(con, settings)
        options = _attach_options(settings.data_location, settings.catalog_is_postgres)
        options.append("OVERRIDE_DATA_PATH true")
        if read_only:
            options.append("READ_ONLY")
        # the first writers of a new Postgres catalog create its tables one at a time:
        # DuckLake's ``CREATE SCHEMA IF NOT EXISTS`` of two at once fails in Postgres
        creating = settings.catalog_is_postgres and not read_only and not warehouse_exists(settings)
        first = AdvisoryLock(settings, "create", "another writer creating the warehouse")
        with first.hold(wait_s=CREATE_WAIT_S) if creating else contextlib.nullcontext():
            _attach(con, settings, options, as_of, read_only=read_only)
        if settings.catalog_is_postgres and not read_only:
            # writers on any host take turns to commit (see ``warehouse.transactions``)
            commits = AdvisoryLock(settings, "commit", "another writer")
            take_turns_with(con, lambda wait_s: commits.hold(wait_s, announce=True))
        if read_only:
            # as ``read_only_session``, but after the attach: the catalog is no file here
            con.execute(f"SET allowed_directories = [{sql_text(settings.data_location + '/')}]")
            con.execute(f"SET allowed_configs = [{', '.join(map(sql_text, READ_ONLY_SETTABLE))}]")
            con.execute("SET enable_external_access = false")
            con.execute("DETACH memory")
            con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def forget_catalog_without_data(settings: Settings) -> bool:
    """Drop a Postgres catalog whose object store holds none of its data files any more
    (the local stand-in keeps its objects in memory: they are gone once it stops), so that
    the next writer starts an empty warehouse instead of one whose every table fails to
    read; returns whether it did. A catalog that has no data files yet is kept."""
    if not (settings.catalog_is_postgres and settings.data_in_object_store):
        return False
    if not warehouse_exists(settings):
        return False
    con = duckdb.connect(config=session_config(settings))
    try:
        load_extensions(con, settings)
        use_object_store(con, settings)
        use_catalog_password(con, settings)
        stored = con.execute(
            "select count(*) from glob(?)", [settings.data_location + "/**"]
        ).fetchone()[0]
        con.execute(f"ATTACH {sql_text(catalog_spec(settings))} AS pg")
        files = con.execute(
            f"select count(*) from postgres_query('pg', "
            f"'select 1 from {POSTGRES_METADATA_SCHEMA}.ducklake_data_file')"
        ).fetchone()[0]
        if stored or not files:
            return False
        con.execute(
            f"call postgres_execute('pg', 'drop schema {POSTGRES_METADATA_SCHEMA} cascade')"
        )
    except duckdb.Error as exc:
        raise FinradarError(
            f"cannot check the warehouse at {settings.warehouse_name}: "
            + without_secrets(one_line(exc), settings)
        ) from None
    finally:
        con.close()
    return True


def read_only_session(
    settings: Settings, as_of: int | datetime | None = None, catalog_copy: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """The warehouse attached READ_ONLY (as of ``as_of``) in a session locked against change.

    In this order, because each switch closes what the next steps need:

    1. the session starts with no spill folder (DuckDB may write where it spills), auto-install
       and auto-load of extensions off, community extensions and persistent secrets refused,
       and unsigned extensions too unless this process checked the files it loads
       (``warehouse.extensions``);
    2. the ducklake and sqlite extensions are loaded by path;
    3. the data folder is made the only ``allowed_directories`` entry;
    4. ``enable_external_access = false``: from now on no file outside the allowed folder can
       be read or written and no extension loaded. It is switched off before the attach, as
       switching it off adds every attached database's file (the catalog) to
       ``allowed_paths``, where COPY could overwrite it;
    5. the catalog is attached READ_ONLY, selected with USE, and the default in-memory
       database ``memory`` is detached;
    6. ``lock_configuration = true``: no setting can be changed any more (but ``threads``,
       see ``READ_ONLY_SETTABLE``), so none of the above can be undone.

    DuckDB lets a session write wherever it may read, so a ``COPY ... TO`` a path inside the
    data folder is not refused by these switches; ``finradar sql`` runs its session in a
    process the kernel confines to reading that folder (``finradar.commands.sql_sandbox``).
    The data files are read by DuckDB's own file system: a file system written in Python
    (fsspec) could refuse those writes too, but DuckDB then holds the GIL while it drops a
    half-read result and waits for its threads, which wait for the GIL (the session hangs).
    """
    data = settings.data_path.resolve()
    con = duckdb.connect(config=read_only_config(settings))
    try:
        con.execute("set enable_progress_bar = false")
        load_extensions(con)
        con.execute(f"SET allowed_directories = [{sql_text(f'{data}/')}]")
        con.execute(f"SET allowed_configs = [{', '.join(map(sql_text, READ_ONLY_SETTABLE))}]")
        con.execute("SET enable_external_access = false")
        options = [*_attach_options(data), "OVERRIDE_DATA_PATH true", "READ_ONLY"]
        metadata = None if catalog_copy is None else f"sqlite:{catalog_copy}"
        _attach(con, settings, options, as_of, metadata)
        con.execute("DETACH memory")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _attach(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    options: list[str],
    as_of: int | datetime | None,
    metadata: str | None = None,
    read_only: bool = False,
) -> None:
    """Attach the warehouse's catalog with ``options`` (as of ``as_of``) and select it.
    ``metadata``: the catalog database to attach instead of the SQLite catalog itself."""
    spec = metadata or catalog_spec(settings, read_only)
    name = settings.warehouse.catalog_name
    where = settings.warehouse_name
    if isinstance(as_of, int):
        options = [*options, f"SNAPSHOT_VERSION {as_of}"]
        where += f" as of snapshot {as_of}"
    elif as_of is not None:
        options = [*options, f"SNAPSHOT_TIME '{as_of.isoformat()}'"]
        where += f" as of {as_of.isoformat()}"
    try:
        con.execute(f"ATTACH {sql_text('ducklake:' + spec)} AS {name} ({', '.join(options)})")
    except duckdb.Error as exc:
        con.close()
        reason = without_secrets(one_line(exc), settings)
        raise FinradarError(f"cannot attach the warehouse at {where}: {reason}") from None
    con.execute(f"USE {name}")


def sql_text(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


# Settings a read-only session may still change: the number of threads reaches no file,
# database or extension (an analyst may give cores back to a running ingest).
READ_ONLY_SETTABLE = ("threads",)


def read_only_config(settings: Settings) -> dict[str, str]:
    """A read-only session's DuckDB settings at start (``read_only_session`` locks them)."""
    return {
        **session_config(settings),
        # no spill folder: DuckDB allows a session to write files where it spills
        "temp_directory": "",
        "allow_community_extensions": "false",
        "allow_persistent_secrets": "false",
    }


def writer_config(settings: Settings) -> dict[str, str]:
    """A writer session's DuckDB settings: ``session_config``'s, without DuckDB's cache of
    the external files it reads. A writer reads each staged file of a pass once, and the
    pass then deletes it; the cache kept every one of them, in ``follow``'s session that
    stays open between passes too, until the session's memory limit: about 9 MiB more per
    pass of 160,000 events (``python -m tests.bench.follow_memory``)."""
    return {**session_config(settings), "enable_external_file_cache": "false"}


def session_config(settings: Settings) -> dict[str, str]:
    """A warehouse session's DuckDB settings: its memory bound, where it spills, and its
    threads (``warehouse.threads``, if set); extensions neither installed nor auto-loaded,
    and their signatures checked unless this process checked them (``warehouse.extensions``)."""
    config = {
        **session_extension_config(settings),
        "memory_limit": settings.warehouse.memory_limit,
        "temp_directory": str(settings.var / "duckdb-tmp"),
        # an insert need not keep its rows' order: it can then stream them, not hold them
        "preserve_insertion_order": "false",
    }
    if settings.warehouse.threads:
        config["threads"] = str(settings.warehouse.threads)
    return config


_shared: dict[tuple[str, str], duckdb.DuckDBPyConnection] = {}


def shared_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A writer session kept open in this process for back-to-back passes (``follow``):
    opening one costs a fifth of a second. Each statement outside a transaction, and each
    transaction, still reads the catalog's newest snapshot, so other writers' commits are
    seen. Closed by ``close_shared_connections``."""
    key = (settings.warehouse_name, settings.data_location)
    con = _shared.get(key)
    if con is None:
        con = _shared[key] = connect(settings)
    return con


def close_shared_connections() -> None:
    while _shared:
        _shared.popitem()[1].close()


def compact(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """Merge adjacent small data files of every table (each commit writes its own); returns
    how many files were merged. Snapshots stay readable as before; the merge is a commit of
    its own (``compact: …`` in ``lake.snapshots()``), in this writer's turn."""

    def merge() -> int:
        rows = con.execute(
            f"call ducklake_merge_adjacent_files('{settings.warehouse.catalog_name}')"
        ).fetchall()
        return sum(int(r[2]) for r in rows)

    return in_transaction(
        con,
        merge,
        retries=settings.warehouse.commit_retries,
        message=lambda merged: f"compact: {merged} small files merged",
        turn_wait_s=settings.warehouse.turn_wait_s,
    )
