"""A pass's worker processes started warm (``pipelines.worker_processes``): when a worker's
launcher starts it the plain way instead, the worker server's own end, and the exit codes
of the workers it starts.

For each way the launcher's exchange can end, its peer is a socket this test scripts; the
server's own tests run the real server, whose workers run Beam's SDK harness without a
runner to reach. ``tests/integration/test_prism.py`` runs passes whose workers the real
server forks, that fall back, or that start the plain way, and compares their warehouses.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from finradar.settings import child_env, environment_of, load_settings
from pipelines.runners import pass_runner, pipeline_options
from pipelines.worker_launch import (
    CODE,
    HANDED,
    PLAIN_START,
    READY,
    STARTED,
    WARM_START,
    exit_code,
    hand_over,
)
from pipelines.worker_logging import SDK_WORKER_MAIN
from pipelines.worker_processes import LAUNCH_MODULE, WarmWorkers, warm_workers

# a server that has gone: above the largest pid Linux gives (2**22), no process has it
GONE = 2**22 + 1


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "server"


def _serving(path: Path, script: Callable[[socket.socket], None], after_s: float = 0.0) -> None:
    """A server at ``path`` (bound after ``after_s``) that runs ``script`` on the first
    connection."""

    def serve() -> None:
        time.sleep(after_s)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(1)
        connection, _ = listener.accept()
        script(connection)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()


def _takes_the_worker(code: int | None) -> Callable[[socket.socket], None]:
    """A server that takes the launcher's environment and streams, as the worker server
    does, then sends ``code`` (None: the worker ends without one) and closes."""

    def script(connection: socket.socket) -> None:
        connection.sendall(READY)
        data, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
        assert data == HANDED and len(fds) == 3
        for fd in fds:
            os.close(fd)
        connection.sendall(STARTED)
        if code is not None:
            connection.sendall(CODE.pack(code))
        connection.close()

    return script


def test_a_worker_handed_over_ends_with_the_code_its_worker_sends(path: Path) -> None:
    # the server binds its socket only after the launcher has tried: the launcher waits
    _serving(path, _takes_the_worker(3), after_s=0.3)
    connection = hand_over(str(path), 30, os.getpid())
    assert connection is not None
    assert exit_code(connection) == 3


def test_a_worker_killed_before_it_sent_its_code_ends_with_1(path: Path) -> None:
    _serving(path, _takes_the_worker(None))
    connection = hand_over(str(path), 30, os.getpid())
    assert connection is not None
    assert exit_code(connection) == 1


def test_without_a_server_the_worker_starts_the_plain_way_at_once(path: Path) -> None:
    started = time.monotonic()
    assert hand_over(str(path), 60, GONE) is None  # no socket, and its server has gone
    path.touch()  # a socket's path that nothing listens on, its server gone
    assert hand_over(str(path), 60, GONE) is None
    assert time.monotonic() - started < 30  # not the wait


def test_a_server_that_does_not_take_the_worker_in_time_is_passed_by(path: Path) -> None:
    """Still importing (no READY within the wait), or gone after READY (before the worker
    started)."""
    _serving(path, lambda connection: time.sleep(30))
    started = time.monotonic()
    assert hand_over(str(path), 0.5, os.getpid()) is None
    assert time.monotonic() - started < 15  # the wait, not the server's silence
    os.unlink(path)
    _serving(path, lambda connection: (connection.sendall(READY), connection.close()))
    assert hand_over(str(path), 30, os.getpid()) is None


def test_a_worker_takes_on_the_environment_its_launcher_was_started_with() -> None:
    environment = {"PATH": "/usr/bin:/bin", "A": "1", "B": "x=y", "FINRADAR_C": "ü", "D": ""}
    # a launcher that runs (as a real one does before the server reads it): read while the
    # kernel is still in its exec, /proc gives an empty environment (seen once under load)
    started = "import sys, time; print('started', flush=True); time.sleep(30)"
    launcher = subprocess.Popen(
        [sys.executable, "-c", started], env=environment, stdout=subprocess.PIPE
    )
    try:
        assert launcher.stdout is not None and launcher.stdout.readline() == b"started\n"
        assert environment_of(launcher.pid) == environment
    finally:
        launcher.kill()
        launcher.wait()


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[object]:
    yield load_settings(var_dir=tmp_path / "var", beam={"parallel_from": 1000})


def test_only_a_pass_on_worker_processes_starts_a_server(settings) -> None:  # type: ignore[no-untyped-def]
    assert warm_workers(settings, 999) is None  # runs in this process
    assert warm_workers(settings, 10**6, gated=True) is None  # so does a gated pass
    off = load_settings(var_dir=settings.var, beam={"parallel_from": 0, "warm_workers": False})
    assert warm_workers(off, 10**6) is None
    warm = warm_workers(settings, 1000)
    assert isinstance(warm, WarmWorkers)
    with warm:
        runner = pass_runner(settings, pipeline_options(settings, 1000), warm)
        command = runner._default_environment.command_string
        assert f"-m {LAUNCH_MODULE} {warm.socket} " in command
        assert command.endswith(f">>{settings.beam_worker_log} 2>&1")
        assert command.startswith(
            "trap '' INT; MALLOC_ARENA_MAX=2 ARROW_DEFAULT_MEMORY_POOL=system "
        )
        assert warm.socket.parent.stat().st_mode & 0o077 == 0  # this user's only


def _listening(warm: WarmWorkers) -> None:
    deadline = time.monotonic() + 120
    while not warm.socket.exists():  # bound as it starts, before it imports
        assert time.monotonic() < deadline and warm._process.poll() is None
        time.sleep(0.05)


def _pass_by(warm: WarmWorkers) -> None:
    """A launcher that goes once the server has imported (it sent READY): as one whose
    worker started the plain way."""
    passing = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    passing.connect(str(warm.socket))
    passing.settimeout(120)
    assert passing.recv(1) == READY
    passing.close()


def _naming_no_runner() -> dict[str, str]:
    """An environment without a runner's address: Beam's SDK harness fails at once."""
    environment = child_env()
    environment.pop("CONTROL_API_SERVICE_DESCRIPTOR", None)
    return environment


def test_a_server_no_worker_asked_for_ends_when_the_pass_does(settings) -> None:  # type: ignore[no-untyped-def]
    warm = WarmWorkers(settings, 2)
    server = warm._process
    _listening(warm)
    # a launcher that goes once the server has imported (READY): its worker started the
    # plain way; the server waits for the other
    _pass_by(warm)
    warm.close()
    assert server.returncode == 0  # it read its standard input's end, not killed
    assert not warm.socket.parent.exists()
    assert hand_over(str(warm.socket), 30, server.pid) is None


def test_a_server_still_importing_when_the_pass_ends_goes_with_it(settings) -> None:  # type: ignore[no-untyped-def]
    warm = WarmWorkers(settings, 2)
    _listening(warm)
    warm.close()
    assert warm._process.returncode is not None
    assert not warm.socket.parent.exists()


def test_a_warm_worker_ends_with_the_exit_code_of_a_plain_one(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two workers the real server starts (one forked, the last the server itself), with an
    environment that names no runner: Beam's SDK harness fails at once, as it does when
    started the plain way, and each launcher exits with that worker's code."""
    environment = _naming_no_runner()
    plain = subprocess.run(
        [sys.executable, "-m", SDK_WORKER_MAIN],
        env=environment,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert plain.returncode != 0
    with WarmWorkers(settings, 2) as warm:
        argv = ["60", str(warm._process.pid)]
        launchers = [
            subprocess.Popen(
                [sys.executable, "-m", LAUNCH_MODULE, str(warm.socket), *argv],
                env=environment,
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        ended = [launcher.communicate(timeout=300) for launcher in launchers]
    for launcher, (_, err) in zip(launchers, ended, strict=True):
        assert launcher.returncode == plain.returncode, err
        assert WARM_START in err and PLAIN_START not in err
        assert "CONTROL_API_SERVICE_DESCRIPTOR" in err  # the harness's own failure
    assert warm._process.returncode == plain.returncode  # the last worker was the server


def test_a_launcher_that_went_counts_as_taken_and_the_server_becomes_the_next(settings) -> None:  # type: ignore[no-untyped-def]
    """Of two workers, the first's launcher goes once the server is ready (its worker started
    the plain way): the server becomes the second worker itself, and ends with it, instead
    of waiting for a launcher that will not come."""
    environment = _naming_no_runner()
    with WarmWorkers(settings, 2) as warm:
        _listening(warm)
        _pass_by(warm)
        launcher = subprocess.run(
            [sys.executable, "-m", LAUNCH_MODULE, str(warm.socket), "60", str(warm._process.pid)],
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert WARM_START in launcher.stderr
        # the server was that worker: it has ended with it, before the pass's end
        assert warm._process.wait(timeout=60) == launcher.returncode != 0
