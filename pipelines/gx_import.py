"""Import Great Expectations without loading ``scipy.stats`` or Altair until something
uses them.

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

Altair (Vega-Lite charts, about 0.4 s to import) is deferred too: the KL-divergence
expectation imports it at module level for its Data Docs chart, which no suite of the
contract draws. The same command: 2.2–3.1 s (median 2.7) against 2.3–3.4 s (median 3.2)
with ``scipy.stats`` alone deferred (four runs each, alternating, 2026-12-03).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from importlib.machinery import ModuleSpec
from types import ModuleType

DEFERRED = ("scipy.stats", "altair")


def import_great_expectations() -> ModuleType:
    """``great_expectations``, imported with ``DEFERRED`` deferred (once per process)."""
    if "great_expectations" not in sys.modules:
        for name in DEFERRED:
            _defer(name)
    return importlib.import_module("great_expectations")


def _defer(name: str) -> None:
    """Register a stand-in for ``name`` (a module, or a submodule, also on its parent) in
    ``sys.modules``, unless it is loaded already or cannot be found."""
    if name in sys.modules:
        return
    parent_name, _, child = name.rpartition(".")
    parent = importlib.import_module(parent_name) if parent_name else None
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    sys.modules[name] = stand_in = _Deferred(name, spec)
    # ``from scipy import stats`` finds the attribute and reads nothing of the module:
    # without it scipy's ``__getattr__`` imports it
    if parent is not None:
        setattr(parent, child, stand_in)


class _Deferred(ModuleType):
    """A module not imported until one of its attributes is read; then it is, exactly as
    it would have been, and the stand-in takes its attributes. (The standard library's
    ``LazyLoader`` loads on any attribute read, ``__spec__`` included, which the import
    machinery reads on every ``import`` of a name already in ``sys.modules``.)"""

    def __init__(self, name: str, spec: ModuleSpec) -> None:
        super().__init__(name)
        self.__spec__ = spec

    def __getattr__(self, attribute: str) -> object:
        with _loading:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
                parent_name, _, child = self.__name__.rpartition(".")
                parent = sys.modules.get(parent_name) if parent_name else None
                if parent is not None and vars(parent).get(child) is self:
                    # the import sets the real module there; meanwhile the parent's own
                    # lazy lookup (SciPy's) must find the module being imported, not this
                    delattr(parent, child)
                module = importlib.import_module(self.__name__)
                self.__dict__.update(module.__dict__)
        return object.__getattribute__(self, attribute)


_loading = threading.RLock()
