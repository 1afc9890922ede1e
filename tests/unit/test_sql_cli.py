"""``finradar sql``: read-only queries on a small real DuckLake, now and as of a snapshot."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from finradar.commands.sql import open_warehouse
from finradar.commands.sql_output import fetch, json_value, write_json
from finradar.commands.sql_repl import repl, statement_complete
from finradar.settings import load_settings
from warehouse.lake import one_line

FIRST = {"id": 1, "day": "2026-01-02", "name": "中文名称", "tags": ["a", "b"], "amount": "1.50"}
SECOND = {"id": 2, "day": None, "name": None, "tags": [], "amount": None}


@dataclass(frozen=True)
class Lake:
    var: Path
    first_snapshot: int  # only FIRST
    first_time: datetime  # when FIRST was committed; SECOND came in a later snapshot

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "FINRADAR_VAR_DIR": str(self.var), "PYTHONIOENCODING": "utf-8"}


def _last_snapshot(con) -> tuple[int, datetime]:  # type: ignore[no-untyped-def]
    return con.execute(
        "select snapshot_id, snapshot_time from lake.snapshots() order by snapshot_id desc limit 1"
    ).fetchone()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    from warehouse.lake import connect

    var = tmp_path_factory.mktemp("sql") / "var"
    con = connect(load_settings(var_dir=var))
    con.execute("create schema marts")
    con.execute(
        "create table marts.items "
        "(id integer, day date, name varchar, tags varchar[], amount decimal(10, 2))"
    )
    con.execute(
        "insert into marts.items values (1, date '2026-01-02', '中文名称', ['a', 'b'], 1.5)"
    )
    first, first_time = _last_snapshot(con)
    con.execute("insert into marts.items values (2, null, null, [], null)")
    second, _ = _last_snapshot(con)
    con.close()
    assert second > first
    return Lake(var, first, first_time)


def run_sql(lake: Lake, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "finradar", "sql", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        env=lake.env,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def test_json_is_one_array_of_row_objects(lake: Lake) -> None:
    result = run_sql(lake, "--format", "json", "select * from marts.items order by id")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [FIRST, SECOND]
    assert "中文名称" in result.stdout  # not \u-escaped


def test_json_of_an_empty_result_is_an_empty_array() -> None:
    import duckdb

    out = io.StringIO()
    write_json(fetch(duckdb.connect().sql("select 1 as a where false"), "json"), out)
    assert json.loads(out.getvalue()) == []


def test_csv_has_a_header_and_every_row(lake: Lake) -> None:
    result = run_sql(
        lake, "--format", "csv", "select id, day, name, tags from marts.items order by 1"
    )
    assert result.returncode == 0, result.stderr
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["id", "day", "name", "tags"],
        ["1", "2026-01-02", "中文名称", "[a, b]"],
        ["2", "", "", "[]"],
    ]


def test_table_shows_the_values(lake: Lake) -> None:
    result = run_sql(lake, "from marts.items order by id")
    assert result.returncode == 0, result.stderr
    for text in ("id", "amount", "2026-01-02", "中文名称", "[a, b]", "1.50", "NULL", "(2 rows)"):
        assert text in result.stdout


def test_as_of_a_snapshot_id_sees_the_earlier_contents(lake: Lake) -> None:
    query = "select id from marts.items order by id"
    earlier = run_sql(lake, "--format", "json", "--as-of", str(lake.first_snapshot), query)
    assert earlier.returncode == 0, earlier.stderr
    assert json.loads(earlier.stdout) == [{"id": 1}]


def test_as_of_a_timestamp_sees_the_snapshot_current_then(lake: Lake) -> None:
    as_of = lake.first_time.isoformat()
    result = run_sql(
        lake, "--format", "csv", "--as-of", as_of, "select count(*) n from marts.items"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["n", "1"]


def test_a_snapshot_that_does_not_exist_is_one_line(lake: Lake) -> None:
    line = assert_one_error_line(run_sql(lake, "--as-of", "999999", "select 1"), 1)
    assert line.startswith("finradar: ")
    assert "999999" in line


def test_a_bad_as_of_is_an_argument_error(lake: Lake) -> None:
    line = assert_one_error_line(run_sql(lake, "--as-of", "abc", "select 1"), 2)
    assert line.startswith("finradar sql: error: argument --as-of")


def test_a_syntax_error_is_one_line(lake: Lake) -> None:
    line = assert_one_error_line(run_sql(lake, "selec * from marts.items"), 1)
    assert line.startswith("finradar: Parser Error: syntax error")


def test_a_write_fails_as_read_only(lake: Lake) -> None:
    line = assert_one_error_line(run_sql(lake, "delete from marts.items"), 1)
    assert line.startswith("finradar: ")
    assert "read-only" in line


def test_no_warehouse_is_one_line(tmp_path: Path) -> None:
    empty = Lake(tmp_path / "var", 0, datetime.now())
    line = assert_one_error_line(run_sql(empty, "select 1"), 1)
    assert line.startswith("finradar: no warehouse at")


def test_query_from_stdin_prints_the_last_result_with_rows(lake: Lake) -> None:
    stdin = (
        "select 1 as a;\nset threads = 1;\n"
        "select count(*) as n\nfrom marts.items;\nset threads = 2;\n"
    )
    result = run_sql(lake, "--format", "csv", stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["n", "2"]


def test_help_explains_with_an_example(lake: Lake) -> None:
    result = run_sql(lake, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: finradar sql")
    assert "--as-of" in result.stdout
    assert 'finradar sql "select' in result.stdout


class Feed:
    """A ``read_line`` for the REPL: gives the lines, records the prompts, then EOF."""

    def __init__(self, lines: list[str]) -> None:
        self.lines: Iterator[str] = iter(lines)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        try:
            return next(self.lines)
        except StopIteration:
            raise EOFError from None


def test_repl_runs_split_statements_survives_errors_and_quits(lake: Lake) -> None:
    con = open_warehouse(load_settings(var_dir=lake.var), None)
    out, err = io.StringIO(), io.StringIO()
    lines = [
        "select name",
        "from marts.items where id = 1;",
        "selec 1;",
        "delete from marts.items;",
        ".tables",
        "select 'a;b' as s; -- trailing comment",
        ".quit",
        "select 'never run';",
    ]
    read_line = Feed(lines)
    try:
        repl(con, read_line, out, err)
    finally:
        con.close()
    assert "中文名称" in out.getvalue()
    assert "marts.items\n" in out.getvalue()
    assert "a;b" in out.getvalue()
    assert "never run" not in out.getvalue()
    errors = err.getvalue().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("Parser Error")
    assert "read-only" in errors[1]
    assert read_line.prompts[:3] == ["finradar> ", "     ...> ", "finradar> "]


def test_repl_ends_at_eof_and_can_print_json(lake: Lake) -> None:
    con = open_warehouse(load_settings(var_dir=lake.var), lake.first_snapshot)
    out = io.StringIO()
    try:
        repl(con, Feed(["select id from marts.items;"]), out, io.StringIO(), fmt="json")
    finally:
        con.close()
    assert json.loads(out.getvalue()) == [{"id": 1}]


def test_interactive_session_on_a_terminal(lake: Lake) -> None:
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "finradar", "sql"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**lake.env, "TERM": "dumb"},
    )
    os.close(slave)
    seen = b""

    def expect(text: str) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while text.encode() not in seen:
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:  # EIO: the session closed the terminal
                    break

    try:
        expect("finradar> ")
        os.write(master, b"select 40 + 2\n")
        expect("...> ")
        os.write(master, b"  as answer;\n")
        expect("42")
        os.write(master, b".quit\n")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert (lake.var / "sql_history").is_file()


def test_statement_complete_ignores_semicolons_in_quotes_and_comments() -> None:
    assert statement_complete("select 1;")
    assert statement_complete("select 1; -- done")
    assert statement_complete("select 'it''s;' ;")
    assert not statement_complete("select 1")
    assert not statement_complete("select ';")
    assert not statement_complete("select 1 -- not yet;")
    assert not statement_complete("select 1 /* ; */")


def test_json_values() -> None:
    from datetime import date, timedelta
    from decimal import Decimal

    assert json_value(Decimal("0E-10")) == "0.0000000000"
    assert json_value(float("nan")) is None
    assert json_value(date(2026, 1, 2)) == "2026-01-02"
    assert json_value({"k": [Decimal("1.5"), None]}) == {"k": ["1.5", None]}
    assert json_value({1: "a"}) == {"1": "a"}
    assert json_value(timedelta(hours=3, seconds=1.5)) == "P0DT3H0M1.5S"
    assert json_value(b"a\xaa") == "Yao="  # base64: the one BLOB rule of every format


def test_one_line_drops_the_caret() -> None:
    message = 'Parser Error: syntax error at or near "selec"\n\nLINE 1: selec 1\n        ^'
    assert one_line(message) == 'Parser Error: syntax error at or near "selec" LINE 1: selec 1'
