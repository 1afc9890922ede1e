"""Import Great Expectations without loading ``scipy.stats`` until something uses it.

GX 1.x imports every core expectation and metric when it is imported, and three of them
(the KL-divergence expectation and the two Kolmogorov–Smirnov metrics) run ``from scipy
import stats`` at module level: about a second of CPU in every process that validates (an
ingest pass, each of its worker processes, every ``follow`` pass), for expectations the
contract's suites never use. ``import_great_expectations`` puts a lazy ``scipy.stats``
(the standard library's ``importlib.util.LazyLoader``) in its place first: the real module
loads on the first attribute read, exactly as it would have, so an expectation that does
use it works unchanged (``tests/unit/test_gx_import.py``). ``python -c 'import
pipelines.gx_import as g, time; t = time.perf_counter(); g.import_great_expectations();
print(time.perf_counter() - t)'``: 2.5–3.2 s against 3.1–3.5 s for a plain ``import
great_expectations`` timed the same way (three runs each, alternating, 2026-12-03; this
machine's speed moves by 10–30% between runs).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

DEFERRED = "scipy.stats"


def import_great_expectations() -> ModuleType:
    """``great_expectations``, imported with ``scipy.stats`` deferred (once per process)."""
    if "great_expectations" not in sys.modules:
        _defer(DEFERRED)
    return importlib.import_module("great_expectations")


def _defer(name: str) -> None:
    """Register a lazy ``name`` (a submodule) in ``sys.modules`` and on its parent, unless
    it is loaded already or cannot be found."""
    if name in sys.modules:
        return
    parent_name, _, child = name.rpartition(".")
    parent = importlib.import_module(parent_name)
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    # ``from scipy import stats`` finds the attribute and reads nothing of the module:
    # without it scipy's ``__getattr__`` imports it, and the import machinery reads its
    # ``__spec__``, which loads it in Python 3.11
    setattr(parent, child, module)
