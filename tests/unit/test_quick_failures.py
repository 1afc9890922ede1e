"""A missing broker, warehouse or refresh, and an unknown option: one line, within seconds,
naming what is wrong; and ``finradar sql`` on a terminal stops at a screenful of rows."""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from finradar.settings import load_settings

# The command fails within this bound or the test fails: kafka-python alone would wait the
# 30 s of kafka.connect_timeout_s first (a bound on behaviour, not a measurement).
QUICK_S = 15


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(var: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "finradar", *args],
        capture_output=True,
        text=True,
        timeout=QUICK_S,
        env={**os.environ, "FINRADAR_VAR_DIR": str(var), **env},
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("args", [("ingest", "--once"), ("produce", "--synthetic", "10")])
def test_no_broker_is_one_line_at_once(tmp_path: Path, args: tuple[str, ...]) -> None:
    port = _free_port()  # nothing listens there
    result = _cli(tmp_path / "var", *args, FINRADAR_KAFKA__PORT=str(port))
    assert _one_line(result) == (
        f"finradar: no Kafka at 127.0.0.1:{port} (start one with 'finradar infra up')"
    )


def test_a_report_before_the_first_refresh_is_one_line(tmp_path: Path) -> None:
    from warehouse.lake import connect
    from warehouse.schema import create_all

    settings = load_settings(var_dir=tmp_path / "var")
    con = connect(settings)
    create_all(con)  # a warehouse an ingest made: tables, no marts yet
    con.close()
    result = _cli(settings.var, "report", FINRADAR_KAFKA__PORT=str(_free_port()))
    assert _one_line(result) == (
        "finradar: the warehouse has no marts yet: run 'finradar refresh' first"
    )
    assert not (settings.reports_dir / "finradar-report.html").exists()


def test_a_report_without_a_warehouse_is_one_line(tmp_path: Path) -> None:
    result = _cli(tmp_path / "var", "report", FINRADAR_KAFKA__PORT=str(_free_port()))
    assert _one_line(result).startswith("finradar: no warehouse at ")
    assert not (tmp_path / "var").exists()  # nothing made on the way


@pytest.mark.parametrize("args", [("--bogus",), ("--verbose", "--nope", "sql")])
def test_an_unknown_option_before_the_command_is_named(tmp_path: Path, args) -> None:
    result = _cli(tmp_path / "var", *args)
    assert result.returncode == 2
    bad = next(a for a in args if a not in ("--verbose", "sql"))
    assert result.stderr == (
        f"finradar: error: unrecognized argument: {bad} (see 'finradar --help')\n"
    )


def _sql_on_a_terminal(var: Path, *args: str) -> tuple[str, str]:
    """``finradar sql`` with its stdout on a pseudo-terminal: (stdout, stderr)."""
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "finradar", "sql", *args],
        stdout=follower,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FINRADAR_VAR_DIR": str(var), "COLUMNS": "80"},
    ) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's far end closed: the command ended
                break
            if not chunk:
                break
            chunks.append(chunk)
        err = proc.stderr.read() if proc.stderr else ""
        proc.wait(timeout=QUICK_S)
    os.close(leader)
    return b"".join(chunks).decode(), err


def test_sql_on_a_terminal_stops_at_a_screenful_unless_asked(tmp_path: Path) -> None:
    from finradar.commands.sql_cap import TERMINAL_ROWS
    from warehouse.lake import connect
    from warehouse.schema import create_all

    settings = load_settings(var_dir=tmp_path / "var")
    con = connect(settings)
    create_all(con)
    con.close()
    query = "select 'row' || i as r from range(5000) t(i) order by i"
    out, err = _sql_on_a_terminal(settings.var, query)
    assert out.count("│ row") == TERMINAL_ROWS and f"row{TERMINAL_ROWS - 1} " in out
    assert err.strip() == (
        f"(the first {TERMINAL_ROWS:,} rows: --all prints every row, as does output to a pipe "
        "or a file)"
    )
    out, err = _sql_on_a_terminal(settings.var, "--all", query)
    assert out.count("│ row") == 5000 and err == ""
    piped = _cli(settings.var, "sql", "--format", "csv", query)
    assert piped.stdout.count("row") == 5000 and piped.stderr == ""
