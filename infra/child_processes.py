"""Worker processes that outlive no one and ignore the terminal's Ctrl-C.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group: the command and
every worker it started. The command decides what an interrupt means (``follow`` ends
after its current pass); a worker that died of it first would take that pass down with it.
So a worker ignores SIGINT and ends when the command ends it or its pipe closes.
"""

from __future__ import annotations

import signal

# Prefixed to a shell command that starts a worker: an ignored signal stays ignored across
# exec, and Python then installs no KeyboardInterrupt handler of its own.
SHELL_IGNORE_INTERRUPT = "trap '' INT;"


def ignore_terminal_interrupt() -> None:
    """Ignore SIGINT in this (worker) process: a ``ProcessPoolExecutor`` initializer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
