"""How much a runner's worker process logs.

A portable runner's worker processes (Prism's EXTERNAL pool) log at INFO to the stderr they
share with ``finradar``, a failing bundle's traceback included; the FnApiRunner's worker
processes write theirs to ``beam_worker_log`` (``pipelines.runners``). Each worker keeps
to ``beam.worker_log_level`` once its first step is set up. The failure itself still
reaches the process that runs the pass, with its traceback in the error's text (one line
from ``finradar``, the traceback with ``--verbose``).
"""

from __future__ import annotations

import logging
import sys

SDK_WORKER_MAIN = "apache_beam.runners.worker.sdk_worker_main"


_forked_worker = False


def mark_worker_process() -> None:
    """This process is an SDK worker forked by the worker server
    (``pipelines.worker_server``), which does not run as Beam's worker module."""
    global _forked_worker
    _forked_worker = True


def in_worker_process() -> bool:
    """Whether this process is an SDK worker started by a runner (not the pass's own)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return _forked_worker or (spec is not None and spec.name == SDK_WORKER_MAIN)


def quiet_worker_logs(level: str) -> None:
    """In a worker process, log only records of ``level`` and above (nothing else here)."""
    if in_worker_process():
        logging.getLogger().setLevel(level)
