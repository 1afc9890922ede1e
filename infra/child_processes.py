"""Worker processes that outlive no one and ignore the terminal's Ctrl-C.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group: the command and
every worker it started. The command decides what an interrupt means (``follow`` ends
after its current pass); a worker that died of it first would take that pass down with it.
So a worker ignores SIGINT and ends when the command ends it or its pipe closes.

A server started in a session of its own (the local Prefect server) gets no signal from the
terminal at all: it must still end when the command that started it dies, even killed.
"""

from __future__ import annotations

import ctypes
import signal

# Prefixed to a shell command that starts a worker: an ignored signal stays ignored across
# exec, and Python then installs no KeyboardInterrupt handler of its own.
SHELL_IGNORE_INTERRUPT = "trap '' INT;"


def ignore_terminal_interrupt() -> None:
    """Ignore SIGINT in this (worker) process: a ``ProcessPoolExecutor`` initializer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def end_with_parent() -> None:
    """Have the kernel send this (just forked) process SIGTERM when its parent dies, however
    it dies: a ``subprocess.Popen`` ``preexec_fn`` (Linux; elsewhere it does nothing)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the command's own stop still applies
        pass
