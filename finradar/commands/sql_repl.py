"""The interactive ``finradar sql`` session: read statements ending in ';', print each result.

Statements may span lines; dot commands (.tables, .help, .quit) are read only at the start of
a statement. On a terminal the session has readline editing and a history file under ``var/``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

import duckdb

from finradar.commands.sql_cap import cap_note, fetch_capped
from finradar.commands.sql_output import relations, write_result
from finradar.commands.sql_sandbox import HISTORY_FILE
from warehouse.lake import one_line

if TYPE_CHECKING:
    from finradar.settings import Settings

PROMPT = "finradar> "
CONTINUATION = "     ...> "
HISTORY_LENGTH = 1000

REPL_HELP = """\
End a statement with ';' (it may span lines). Commands:
  .tables   list the tables and views of the warehouse
  .help     this text
  .quit     leave (also .exit or Ctrl-D)
"""


def statement_complete(text: str) -> bool:
    """Whether ``text`` ends with a ';' outside quotes and comments (the REPL then runs it)."""
    last = ""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            # A doubled quote inside a literal closes and reopens it, which comes out the same.
            end = text.find(ch, i + 1)
            if end < 0:
                return False
            last, i = ch, end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return False
            i = end + 2
        else:
            if not ch.isspace():
                last = ch
            i += 1
    return last == ";"


def list_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_catalog = ? ORDER BY 1",
        [catalog],
    ).fetchall()
    return [r[0] for r in rows]


def repl(
    con: duckdb.DuckDBPyConnection,
    read_line: Callable[[str], str],
    out: TextIO,
    err: TextIO,
    *,
    fmt: str = "table",
    catalog: str = "lake",
    cap: int | None = None,
) -> None:
    """The interactive loop. ``read_line(prompt)`` returns one line; EOFError ends the session.
    ``cap``: the rows a result shows at most (``sql_cap``)."""
    buffer: list[str] = []
    while True:
        try:
            line = read_line(CONTINUATION if buffer else PROMPT)
        except EOFError:
            out.write("\n")
            return
        except KeyboardInterrupt:
            # As in psql: Ctrl-C drops the statement being typed, not the session.
            buffer.clear()
            out.write("\n")
            continue
        if not buffer:
            command = line.strip()
            if not command:
                continue
            if command.startswith("."):
                name = command.split()[0].lower()
                if name in (".quit", ".exit"):
                    return
                if name == ".help":
                    out.write(REPL_HELP)
                elif name == ".tables":
                    out.write("".join(f"{t}\n" for t in list_tables(con, catalog)))
                else:
                    err.write(f"unknown command {name} (try .help)\n")
                continue
        buffer.append(line)
        text = "\n".join(buffer)
        if not statement_complete(text):
            continue
        buffer.clear()
        try:
            for rel in relations(con, text):
                result, cut = fetch_capped(rel, fmt, cap)
                write_result(result, fmt, out)
                if cut and cap is not None:
                    err.write(cap_note(cap) + "\n")
        except duckdb.Error as exc:
            err.write(one_line(exc) + "\n")
        except KeyboardInterrupt:
            err.write("interrupted\n")
        out.flush()


def interactive(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    as_of: int | datetime | None,
    fmt: str,
    cap: int | None = None,
) -> int:
    """The REPL on a terminal over ``con``, with readline editing and history under ``var/``."""
    try:
        # lazy: importing readline changes input() for the whole process; only a terminal
        # session wants that
        import readline
    except ImportError:  # e.g. Windows without pyreadline: plain input() still works
        readline = None  # type: ignore[assignment]

    history = settings.var / HISTORY_FILE
    known = 0
    if readline is not None:
        readline.set_history_length(HISTORY_LENGTH)
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
        known = readline.get_current_history_length()
    name = settings.warehouse.catalog_name
    when = "" if as_of is None else f" as of {as_of}"
    print(
        f"warehouse {name}{when} at {settings.warehouse_name} (read-only). "
        "End statements with ';', .help for commands, .quit to leave.",
        file=sys.stderr,
    )
    try:
        repl(con, input, sys.stdout, sys.stderr, fmt=fmt, catalog=name, cap=cap)
    finally:
        if readline is not None:
            # appended in place: the confined process may write that file, not replace it
            with contextlib.suppress(OSError):
                added = readline.get_current_history_length() - known
                if added > 0:
                    readline.append_history_file(added, history)
    return 0
