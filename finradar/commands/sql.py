"""``finradar sql``: query the warehouse read-only, as it is now or as of an earlier snapshot.

One query (or several statements; the last one that returns rows is printed) runs against the
DuckLake warehouse attached READ_ONLY and prints as a table, CSV or one JSON array. Without a
query it reads stdin, or opens an interactive session when stdin is a terminal. Printing is in
``finradar.commands.sql_output``, the session in ``finradar.commands.sql_repl``.

The session is ``warehouse.lake.connect(read_only=True)``'s, locked by DuckDB's own switches:
a statement that would write a file, read one outside the warehouse, attach a DuckDB file,
load an extension or change a setting fails in DuckDB, and its error is printed as one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from finradar.commands.sql_cap import TERMINAL_ROWS, cap_note, fetch_capped, row_cap
from finradar.commands.sql_output import FORMATS, Result, relations, write_result
from finradar.errors import FinradarError
from finradar.settings import Settings, get_settings

if TYPE_CHECKING:
    import duckdb

EPILOG = """\
examples:
  finradar sql "select * from marts.spend_series limit 5"
  finradar sql --format json "select count(*) as n from raw.spend_disclosures"
  finradar sql --as-of 12 "select count(*) from marts.spend_series"
  finradar sql --as-of 2026-11-26T08:00:00+08:00 --format csv "from marts.spend_series"
  finradar sql "from lake.snapshots()"          # the snapshots --as-of can name
  echo "select 42 as answer" | finradar sql --format csv
  finradar sql                                  # interactive session (on a terminal)

In the interactive session statements end with ';'; .tables lists the warehouse's tables and
views, .quit (or Ctrl-D) leaves.

The session only reads: writing files (COPY, EXPORT), reading files outside the warehouse,
attaching DuckDB database files, INSTALL/LOAD and SET (but threads) are refused by DuckDB.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sql",
        help="query the warehouse read-only (one query, stdin, or an interactive session)",
        description="Run SQL against the DuckLake warehouse, attached read-only and selected, "
        "so 'select * from marts.spend_series' works. Several statements may be given, "
        "separated by ';': the result of the last one returning rows is printed. Without SQL "
        "the query is read from stdin, or an interactive session opens if stdin is a terminal.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("query", nargs="?", metavar="SQL", help="the SQL to run")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (default), csv (header + rows) or json (one array of objects; "
        "dates, timestamps and decimals as strings)",
    )
    p.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="SNAPSHOT",
        help="query the warehouse as of an earlier DuckLake snapshot: a snapshot id (integer) "
        "or an ISO timestamp such as 2026-11-26T08:00:00 (a timestamp without a zone is read "
        "in the session time zone)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        dest="every_row",
        help=f"print every row on a terminal too (there, a result stops after "
        f"{TERMINAL_ROWS:,} rows with a note; a pipe or a file always gets every row)",
    )
    p.set_defaults(handler=run)


def parse_as_of(value: str) -> int | datetime:
    """argparse type of ``--as-of``: a snapshot id or an ISO timestamp."""
    text = value.strip()
    try:
        snapshot = int(text)
    except ValueError:
        pass
    else:
        if snapshot < 0:
            raise argparse.ArgumentTypeError(f"snapshot id must be >= 0, not {value!r}")
        return snapshot
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a snapshot id nor an ISO timestamp (e.g. 2026-11-26T08:00:00)"
        ) from None


def run(args: argparse.Namespace) -> int:
    # lazy: the CLI starts without DuckDB and the warehouse's modules (and DuckDB is
    # imported only once the process is confined: see ``sql_sandbox``)
    from finradar.commands.sql_sandbox import HISTORY_FILE

    settings = get_settings()
    query: str | None = args.query
    if query is None and sys.stdin.isatty():
        con = open_warehouse(
            settings, args.as_of, confined=True, history=settings.var / HISTORY_FILE
        )
        # lazy: the session's module imports DuckDB, which the confinement must come before
        from finradar.commands.sql_repl import interactive

        try:
            return interactive(
                con, settings, args.as_of, args.format, row_cap(sys.stdout, args.every_row)
            )
        finally:
            con.close()
    if query is None:
        query = sys.stdin.read()
    if not query.strip():
        raise FinradarError("no SQL given (pass it as an argument or on stdin)")
    con = open_warehouse(settings, args.as_of, confined=True)
    # lazy: importing DuckDB starts a thread, which the confinement must come before
    import duckdb

    # lazy: imports DuckDB (see above)
    from warehouse.lake import one_line

    try:
        last: Result | None = None
        cut = False
        cap = row_cap(sys.stdout, args.every_row)
        # Each result is fetched before the next statement runs, so it shows the state it saw.
        for rel in relations(con, query):
            last, cut = fetch_capped(rel, args.format, cap)
        write_result(last, args.format, sys.stdout)
        sys.stdout.flush()
        if cut and cap is not None:
            print(cap_note(cap), file=sys.stderr)
    except duckdb.Error as exc:
        raise FinradarError(one_line(exc)) from None
    except BrokenPipeError:
        _silence_stdout()
        return 1
    finally:
        con.close()
    return 0


def _silence_stdout() -> None:
    """The reader (e.g. ``| head``) went away: stop Python complaining when it flushes at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def open_warehouse(
    settings: Settings,
    as_of: int | datetime | None,
    *,
    confined: bool = False,
    history: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """The warehouse attached read-only, optionally as of a snapshot id or time. ``confined``
    (the command's own process: for good, it ends with the command): this process is first
    confined to reading (``sql_sandbox``)."""
    # lazy: the CLI starts without DuckDB and the warehouse's modules
    from finradar.commands.sql_sandbox import confine

    if not settings.catalog_is_postgres and not settings.catalog_path.exists():
        raise FinradarError(f"no warehouse at {settings.catalog_path}; run an ingest first")
    copy = confine(settings, history) if confined else None
    # lazy: only now may DuckDB start its threads
    from warehouse.lake import connect

    try:
        return connect(settings, read_only=True, as_of=as_of, catalog_copy=copy)
    except FinradarError as exc:
        if as_of is None:
            raise
        name = settings.warehouse.catalog_name
        raise FinradarError(
            f'{exc} (list the snapshots with: finradar sql "from {name}.snapshots()")'
        ) from None
