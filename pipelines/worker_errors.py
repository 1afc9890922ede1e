"""A worker's failure as the project's own error, whichever runner ran the worker.

The in-process FnApiRunner re-raises what a DoFn raised; a portable runner (Prism) reports
it as a ``RuntimeError`` whose text holds the worker's traceback. ``worker_error`` finds
the project's error in that text again, so that a transient failure is retried and an
expected one shown as one line.
"""

from __future__ import annotations

import importlib
import re

from finradar.errors import FinradarError

PROJECT = ("finradar", "flows", "pipelines", "warehouse", "infra", "handoff", "contracts")
_RAISED = re.compile(r"^((?:\w+\.)+)(\w+): (.*?)(?: \[while running '[^\n]*'\])?$", re.M)


class WorkerFailed(FinradarError):
    """A worker process failed on something other than the project's own errors (a
    client library's, the runtime's): its last exception line, as one line."""


def worker_error(exc: BaseException) -> BaseException:
    """The last project error named in ``exc``'s text, re-created; else the last error it
    names as ``WorkerFailed``; else ``exc``."""
    raised = _RAISED.findall(str(exc))
    for module, name, message in reversed(raised):
        module = module.rstrip(".")
        if module.split(".")[0] not in PROJECT:
            continue
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if isinstance(cls, type) and issubclass(cls, FinradarError):
            try:
                return cls(message)
            except TypeError:  # an error with a constructor of its own: its nearest base
                base = next(b for b in cls.__mro__[1:] if b.__init__ is Exception.__init__)
                return base(message)
    if raised:
        _, name, message = raised[-1]
        return WorkerFailed(f"a worker failed: {name}: {message}")
    return exc
