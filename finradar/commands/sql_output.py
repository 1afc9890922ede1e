"""How a query result is printed: run the statements, fetch each result, write it out.

Three formats: a box table in DuckDB's style with every row, CSV (header and rows) or one JSON
array of row objects (temporal values and decimals as strings, NaN and inf as null).

One rule for bytes in every format: a BLOB value is written as its base64 (RFC 4648, standard
alphabet, padded), so the same bytes print the same in a table, in CSV and in JSON, and
``from_base64`` (DuckDB) or ``base64.b64decode`` (Python) gives them back exactly. For a
quarantined message's text, select ``quarantine.events.raw_text``.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import json
import math
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import duckdb

FORMATS = ("table", "csv", "json")

NUMERIC_TYPES = frozenset(
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
        "FLOAT",
        "DOUBLE",
    }
)


def relations(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[duckdb.DuckDBPyRelation]:
    """Run the statements of ``sql`` in order, yielding the result of each that returns rows.

    A statement without a result runs when reached; a query runs when its relation is fetched,
    so fetch each one before asking for the next.
    """
    for statement in con.extract_statements(sql):
        rel = con.sql(statement)
        if rel is not None:
            yield rel


@dataclass
class Result:
    """A fetched result: DuckDB's text of each value (table, csv) or Python values (json)."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


def fetch(rel: duckdb.DuckDBPyRelation, fmt: str) -> Result:
    columns = list(rel.columns)
    types = [str(t) for t in rel.types]
    if fmt == "json":
        return Result(columns, types, rel.fetchall())
    # Cast by position: column names may repeat ("select 1 a, 2 a").
    text = rel.project(", ".join(_as_text(i, t) for i, t in enumerate(types, start=1)))
    return Result(columns, types, text.fetchall())


def _as_text(position: int, data_type: str) -> str:
    """The SQL that renders column ``position`` as text: a BLOB as base64 (``blob_text``)."""
    if data_type == "BLOB":
        return f"to_base64(#{position})"
    return f"CAST(#{position} AS VARCHAR)"


def blob_text(value: bytes | bytearray) -> str:
    """A BLOB value as every format writes it: base64 (RFC 4648, padded)."""
    return base64.b64encode(bytes(value)).decode("ascii")


def write_result(result: Result | None, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        write_json(result, out)
    elif result is None:
        return
    elif fmt == "csv":
        write_csv(result, out)
    else:
        write_table(result, out)


def write_csv(result: Result, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(["" if v is None else v for v in row] for row in result.rows)


def write_json(result: Result | None, out: TextIO) -> None:
    if result is None or not result.rows:
        out.write("[]\n")
        return
    out.write("[\n")
    last = len(result.rows) - 1
    for i, row in enumerate(result.rows):
        obj = {name: json_value(v) for name, v in zip(result.columns, row, strict=True)}
        out.write(json.dumps(obj, ensure_ascii=False) + (",\n" if i < last else "\n"))
    out.write("]\n")


def json_value(value: Any) -> Any:
    """A DuckDB value as JSON: temporal values and decimals as strings, NaN and inf as null,
    bytes as base64."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        # format 'f', not str(): str(Decimal('0E-10')) is scientific.
        return format(value, "f") if value.is_finite() else None
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _iso_duration(value)
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {
            k if isinstance(k, str) else str(json_value(k)): json_value(v) for k, v in value.items()
        }
    if isinstance(value, bytes | bytearray):
        return blob_text(value)
    return str(value)


def _iso_duration(value: dt.timedelta) -> str:
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    secs = f"{seconds}.{value.microseconds:06d}".rstrip("0").rstrip(".")
    return f"{sign}P{value.days}DT{hours}H{minutes}M{secs}S"


def display_width(text: str) -> int:
    """Terminal columns of ``text``: CJK wide characters take two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return width


def _pad(text: str, width: int, align: str) -> str:
    gap = width - display_width(text)
    if align == "right":
        return " " * gap + text
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def write_table(result: Result, out: TextIO) -> None:
    """A box table in DuckDB's style, with every row (DuckDB's own renderer stops at 10,000)."""
    header = [result.columns, [t.lower() for t in result.types]]
    body = [["NULL" if v is None else str(v).expandtabs(4) for v in row] for row in result.rows]
    cells = [[cell.splitlines() or [""] for cell in row] for row in header + body]
    widths = [
        max(display_width(line) for row in cells for line in row[c])
        for c in range(len(result.columns))
    ]
    right = [t.split("(")[0] in NUMERIC_TYPES or t.startswith("DECIMAL") for t in result.types]

    def rule(left: str, mid: str, end: str) -> str:
        return left + mid.join("─" * (w + 2) for w in widths) + end + "\n"

    def line(row: list[list[str]], aligns: list[str]) -> str:
        text = ""
        for k in range(max(len(cell) for cell in row)):
            parts = (
                _pad(cell[k] if k < len(cell) else "", w, a)
                for cell, w, a in zip(row, widths, aligns, strict=True)
            )
            text += "│ " + " │ ".join(parts) + " │\n"
        return text

    centered = ["center"] * len(widths)
    out.write(rule("┌", "┬", "┐"))
    out.write(line(cells[0], centered) + line(cells[1], centered))
    out.write(rule("├", "┼", "┤"))
    aligns = ["right" if r else "left" for r in right]
    for row in cells[2:]:
        out.write(line(row, aligns))
    out.write(rule("└", "┴", "┘"))
    n = len(result.rows)
    out.write(f"({n} row{'' if n == 1 else 's'})\n")
