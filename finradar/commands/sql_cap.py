"""How many rows ``finradar sql`` prints on a terminal: a person reading a screen gets the
first ``TERMINAL_ROWS`` and a note; a pipe, a file or ``--all`` gets every row."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from finradar.commands.sql_output import Result, fetch

if TYPE_CHECKING:  # DuckDB is imported only once ``finradar sql`` is confined (sql_sandbox)
    import duckdb

TERMINAL_ROWS = 1000


def row_cap(out: TextIO, every_row: bool, rows: int = TERMINAL_ROWS) -> int | None:
    """The cap for output written to ``out``: ``rows`` on a terminal, none otherwise or with
    ``every_row``."""
    return None if every_row or not out.isatty() else rows


def fetch_capped(rel: duckdb.DuckDBPyRelation, fmt: str, cap: int | None) -> tuple[Result, bool]:
    """The result of ``rel`` (its first ``cap`` rows only, if a cap is given; no more are
    fetched) and whether rows were left out."""
    if cap is None:
        return fetch(rel, fmt), False
    result = fetch(rel.limit(cap + 1), fmt)
    if len(result.rows) <= cap:
        return result, False
    result.rows = result.rows[:cap]
    return result, True


def cap_note(cap: int) -> str:
    """The line said (on stderr) under a result cut to ``cap`` rows."""
    return f"(the first {cap:,} rows: --all prints every row, as does output to a pipe or a file)"
