"""Worker processes that outlive no one and ignore the terminal's Ctrl-C.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group: the command and
every worker it started. The command decides what an interrupt means (``follow`` ends
after its current pass); a worker that died of it first would take that pass down with it.
So a worker ignores SIGINT and ends when the command ends it or its pipe closes. A pool's
worker also ends when the command dies, even killed: its task queue cannot tell it (the
worker holds that pipe's write end too), so it watches its parent (``end_when_parent_dies``).

A server started in a session of its own (the local Prefect server) gets no signal from the
terminal at all: it must still end when the command that started it dies, even killed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from pathlib import Path

# Prefixed to a shell command that starts a worker: an ignored signal stays ignored across
# exec, and Python then installs no KeyboardInterrupt handler of its own.
SHELL_IGNORE_INTERRUPT = "trap '' INT;"


def ignore_terminal_interrupt() -> None:
    """Ignore SIGINT in this (worker) process: a ``ProcessPoolExecutor`` initializer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def end_when_parent_dies(poll_s: float = 1.0) -> None:
    """Exit this process once the process that started it is gone, however it ended. (The
    kernel's parent-death signal would follow the thread that started it, not the process:
    a pool started from a passing thread would lose its workers with that thread.)"""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="finradar-parent-watch", daemon=True).start()


def pool_worker_setup() -> None:
    """A ``ProcessPoolExecutor`` initializer: the worker ignores the terminal's Ctrl-C and
    ends with the process that started it."""
    ignore_terminal_interrupt()
    end_when_parent_dies()


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def end_with_parent() -> None:
    """Have the kernel send this (just forked) process SIGTERM when its parent dies, however
    it dies: a ``subprocess.Popen`` ``preexec_fn`` (Linux; elsewhere it does nothing)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the command's own stop still applies
        pass


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` is running: it exists (another user's counts) and has not
    ended waiting to be reaped (a zombie holds no lock and serves no socket)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False  # gone meanwhile
    return state != "Z"
