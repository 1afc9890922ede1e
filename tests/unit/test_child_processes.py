"""Workers started the project's ways ignore the terminal's Ctrl-C (SIGINT to the group)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from infra.child_processes import (
    SHELL_IGNORE_INTERRUPT,
    ignore_terminal_interrupt,
    pool_worker_setup,
    process_alive,
)

SLEEPER = f"{sys.executable} -c 'import time; print(\"up\", flush=True); time.sleep(30)'"


def _interrupted_group(command: str) -> int | None:
    """Start ``command`` through a shell in a group of its own, interrupt the group as a
    terminal's Ctrl-C does, and say how the process ended a second later (None: running)."""
    proc = subprocess.Popen(
        command, shell=True, stdout=subprocess.PIPE, start_new_session=True, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "up\n"
        subprocess.run(["kill", "-INT", "--", f"-{proc.pid}"], check=True)
        time.sleep(1)
        return proc.poll()
    finally:
        proc.kill()
        proc.wait()


def test_a_shell_started_worker_survives_the_groups_interrupt() -> None:
    assert _interrupted_group(f"exec {SLEEPER}") is not None  # the control: SIGINT ends it
    assert _interrupted_group(f"{SHELL_IGNORE_INTERRUPT} exec {SLEEPER}") is None


def _handler() -> object:
    return signal.getsignal(signal.SIGINT)


def test_a_pool_worker_ignores_interrupts() -> None:
    context = get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as plain:
        assert plain.submit(_handler).result() is signal.default_int_handler
    with ProcessPoolExecutor(1, mp_context=context, initializer=ignore_terminal_interrupt) as quiet:
        assert quiet.submit(_handler).result() == signal.SIG_IGN


PARENT = """
import subprocess, sys
from infra.child_processes import end_with_parent
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(60)"],
    start_new_session=True,
    preexec_fn=end_with_parent if sys.argv[1] == "tied" else None,
)
print(child.pid, flush=True)
import time; time.sleep(60)
"""


def _outlives_its_killed_parent(parent_script: str, mode: str, wait_s: float) -> bool:
    """Run ``parent_script`` (it prints the pid of a process it started), SIGKILL it, and
    say whether that process is still alive ``wait_s`` seconds later (then end it)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_script, mode], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not _running(child):
            return False
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(child, signal.SIGKILL)
    return True


def _running(pid: int) -> bool:
    """Whether ``pid`` runs: an ended process its new parent has not reaped yet (a zombie)
    does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _child_outlives_its_killed_parent(mode: str) -> bool:
    """A child started in a session of its own, ``free`` or ``tied`` to its parent."""
    return _outlives_its_killed_parent(PARENT, mode, 2)


def test_a_server_in_its_own_session_ends_with_its_killed_command() -> None:
    assert _child_outlives_its_killed_parent("free")  # the control: it would be left behind
    assert not _child_outlives_its_killed_parent("tied")


POOL_PARENT = """
import sys, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from os import getpid
from infra import child_processes
setup = getattr(child_processes, sys.argv[1])
pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=setup)
print(pool.submit(getpid).result(), flush=True)
time.sleep(60)
"""


def _pool_worker_outlives_its_killed_parent(setup: str) -> bool:
    """A one-worker pool's worker, started with the initializer ``setup``."""
    return _outlives_its_killed_parent(POOL_PARENT, setup, 5)


def test_a_pool_worker_ends_with_its_killed_parent() -> None:
    """A validator pool's worker of a killed ``follow`` was left behind, 270 MB each."""
    assert _pool_worker_outlives_its_killed_parent("ignore_terminal_interrupt")  # the control
    assert not _pool_worker_outlives_its_killed_parent("pool_worker_setup")
    with ProcessPoolExecutor(
        1, mp_context=get_context("spawn"), initializer=pool_worker_setup
    ) as pool:
        assert pool.submit(_handler).result() == signal.SIG_IGN


def test_a_process_is_alive_until_it_has_ended_even_unreaped() -> None:
    child = subprocess.Popen(["/bin/sleep", "30"])
    try:
        assert process_alive(child.pid)
        assert process_alive(1)  # another user's (init): it exists
    finally:
        child.kill()
    deadline = time.monotonic() + 30
    while process_alive(child.pid):  # a zombie until reaped: not alive
        assert time.monotonic() < deadline, "an ended, unreaped child still counts as alive"
        time.sleep(0.05)
    child.wait()
    assert not process_alive(child.pid)
    assert not process_alive(2**22 + 1)  # above any pid Linux gives
