"""``finradar sql`` writes a BLOB the same way in every format: base64 of its bytes."""

from __future__ import annotations

import base64
import csv
import io
import json

import duckdb
import pytest

from finradar.commands.sql_output import FORMATS, fetch, relations, write_result

# a quote, a backslash, a NUL, an invalid UTF-8 byte and a Chinese character
BYTES = b'{"a": "\\\\ \x00\xff \xe4\xb8\xad'
ENCODED = base64.b64encode(BYTES).decode("ascii")


def _printed(fmt: str) -> str:
    con = duckdb.connect()
    try:
        con.execute("create table t (id integer, raw_value blob)")
        con.execute("insert into t values (1, ?), (2, null)", [BYTES])
        out = io.StringIO()
        for rel in relations(con, "select raw_value, id from t order by id"):
            write_result(fetch(rel, fmt), fmt, out)
    finally:
        con.close()
    return out.getvalue()


def _blob_cells(fmt: str) -> list[str | None]:
    text = _printed(fmt)
    if fmt == "json":
        return [row["raw_value"] for row in json.loads(text)]
    if fmt == "csv":
        return [row["raw_value"] or None for row in csv.DictReader(io.StringIO(text))]
    # table: the first column of each body line between the header rule and the bottom rule
    body = text.split("├")[1].split("└")[0].splitlines()[1:]
    cells = [line.split("│")[1].strip() for line in body]
    return [None if c == "NULL" else c for c in cells]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_blob_is_base64_in_every_format(fmt: str) -> None:
    assert _blob_cells(fmt) == [ENCODED, None]


def test_the_bytes_come_back_exactly() -> None:
    for fmt in FORMATS:
        encoded = _blob_cells(fmt)[0]
        assert encoded is not None
        assert base64.b64decode(encoded) == BYTES
    con = duckdb.connect()
    try:
        assert con.execute("select from_base64(?)", [ENCODED]).fetchone()[0] == BYTES
    finally:
        con.close()
