"""The CLI: help everywhere, one-line errors with exit 2 for bad arguments."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "finradar", *args], capture_output=True, text=True, timeout=60
    )


def test_top_level_help_lists_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("infra", "version", "demo"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("infra", "--help"),
        ("infra", "up", "--help"),
        ("infra", "status", "--help"),
        ("version", "--help"),
        ("refresh", "--help"),
        ("sql", "--help"),
        ("follow", "--help"),
        ("replay", "--help"),
        ("backfill", "--help"),
    ],
)
def test_every_subcommand_has_help(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: finradar")


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("bogus",),
        ("infra",),
        ("infra", "sideways"),
        ("infra", "down", "--nope"),
        ("version", "extra"),
        ("refresh", "--bogus"),
        ("sql", "--format", "xml", "select 1"),
        ("follow", "--max-passes", "0"),
        ("replay", "--reason", "not_a_reason"),
        ("backfill",),
        ("backfill", "--from-offset", "-3"),
        ("backfill", "--from-time", "last tuesday"),
        ("backfill", "--earliest", "--from-offset", "5"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("finradar")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_setting_is_one_line_not_a_traceback(tmp_path) -> None:
    import os

    env = {**os.environ, "FINRADAR_KAFKA__PORT": "not-a-port"}
    result = subprocess.run(
        [sys.executable, "-m", "finradar", "infra", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "finradar: invalid setting kafka.port: "
        "Input should be a valid integer, unable to parse string as an integer"
    ]


def test_version_reports_pinned_stack() -> None:
    result = run_cli("version")
    assert result.returncode == 0
    assert "duckdb 1.5.5" in result.stdout
    assert "kafka 4." in result.stdout


def test_backfill_of_an_unknown_topic_is_one_line_and_exit_1() -> None:
    result = run_cli("backfill", "--earliest", "--topic", "fi.nothing.v1")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "neither a contract topic nor an event type" in lines[0]


@pytest.mark.parametrize(
    ("fault", "line"),
    [
        (OSError(28, "No space left on device", "/var/x.parquet"), "the disk is full: /var/x"),
        (PermissionError(13, "Permission denied", "/ro/var"), "not allowed to write or read /ro"),
        (RuntimeError("broken\nacross lines"), "RuntimeError: broken across lines"),
    ],
)
def test_an_outside_fault_is_one_line_and_exit_1(monkeypatch, capsys, fault, line) -> None:
    from finradar import cli
    from finradar.commands import version

    def raise_fault(args: object) -> int:
        raise fault

    monkeypatch.setattr(version, "run", raise_fault)
    assert cli.main(["version"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and line in err and "Traceback" not in err
    assert cli.main(["--verbose", "version"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_a_threads_failure_is_one_line_and_a_grpc_streams_end_none(monkeypatch, capsys) -> None:
    """Beam's in-process worker (Prism's LOOPBACK environment) runs on threads of the
    command, whose gRPC streams fail when its job ends or is cancelled: the command's own
    error says how the job ended, without their tracebacks. Any other thread's failure is
    one line; all of them tracebacks with --verbose."""
    from finradar import cli

    monkeypatch.setattr(threading, "excepthook", threading.__excepthook__)
    assert cli.main(["version"]) == 0
    assert threading.excepthook is cli.thread_failed
    capsys.readouterr()

    class StreamRemoved(Exception):
        pass

    def fail(exc: Exception) -> None:
        raise exc

    StreamRemoved.__module__ = "grpc._channel"  # as gRPC's own errors are
    for exc in (StreamRemoved("Stream removed (Socket closed)"), ValueError("bad\nvalue")):
        thread = threading.Thread(target=fail, args=(exc,), name="w-1")
        thread.start()
        thread.join()
    assert capsys.readouterr().err == (
        "finradar: w-1 failed: ValueError: bad value (--verbose shows the traceback)\n"
    )
    monkeypatch.setattr(threading, "excepthook", threading.__excepthook__)
    assert cli.main(["--verbose", "version"]) == 0
    assert threading.excepthook is threading.__excepthook__


def test_a_bad_settings_file_is_one_line(tmp_path) -> None:
    bad = tmp_path / "finradar.toml"
    bad.write_text("kafka = [\n")
    result = subprocess.run(
        [sys.executable, "-m", "finradar", "ingest", "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FINRADAR_CONFIG": str(bad)},
    )
    assert result.returncode == 1
    assert f"cannot read the settings file {bad}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_commands_alert_notices_are_lines_of_their_own_on_stderr(monkeypatch, capsys) -> None:
    """The alerts' log notifier writes through ``ALERTS_LOGGER``: during a command each
    notice, firing (a warning) or resolved (information), is its own line on stderr, as the
    notifier wrote it, even after a library set up the root logger; afterwards the logger is
    as it was."""
    import logging

    from finradar import cli
    from finradar.commands import version
    from finradar.settings import ALERTS_LOGGER
    from infra.notify import LogNotifier

    def notify(args: object) -> int:
        notifier = LogNotifier(logging.getLogger(ALERTS_LOGGER))
        notifier.send({"state": "firing", "text": "[finradar] FIRING freshness t: old"})
        notifier.send({"state": "resolved", "text": "[finradar] RESOLVED freshness t: new"})
        return 0

    monkeypatch.setattr(version, "run", notify)
    root = logging.getLogger()
    as_basic_config = logging.StreamHandler()
    as_basic_config.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    monkeypatch.setattr(root, "handlers", [as_basic_config])
    monkeypatch.setattr(root, "level", logging.WARNING)
    before = logging.getLogger(ALERTS_LOGGER).handlers[:]
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().err == (
        "[finradar] FIRING freshness t: old\n[finradar] RESOLVED freshness t: new\n"
    )
    assert logging.getLogger(ALERTS_LOGGER).handlers == before
