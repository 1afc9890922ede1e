"""Crash tests: a process that SIGKILLs itself at a named point of a pass.

The point comes from settings (``ingest.failpoint``): ``gx_setup`` (some GX suites written),
``staged`` (files staged, nothing committed), ``data_docs`` (Data Docs built, not yet
localised), ``in_transaction`` (inside the warehouse transaction) or ``committed``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable


def kill_at(target: str | None) -> Callable[[str], None]:
    """A hook that kills this process when it is called with ``target``."""

    def hit(name: str) -> None:
        if name == target:
            os.kill(os.getpid(), signal.SIGKILL)

    return hit
