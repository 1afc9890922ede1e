"""Import Great Expectations without loading ``scipy.stats``, Altair, or its Spark and SQL
datasources until something uses them.

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

GX's fluent datasources for Spark and SQL databases are deferred as well
(``DEFERRED_DATASOURCES``). ``great_expectations.datasource.fluent`` imports each of them by
name, and each defines pydantic models at import (Spark's file assets are the largest). The
contract's suites validate pandas frames only. While GX is imported, the names it takes from
those modules are stand-ins (``_DeferredName``): the first use of one (a call, an attribute,
``isinstance``) imports those modules in the order GX took them, and puts the real names in
GX's package (the modules import each other's classes from there), as does reading any
attribute but ``__file__`` of one of the modules afterwards, so a process that does use a
Spark or SQL datasource gets the real one. Until then GX does not know those types
(``context.data_sources`` has no ``add_spark`` or ``add_postgres``); the project's GX
projects name pandas datasources only. ``python -c 'import pipelines.gx_import as g, time; t
= time.process_time(); g.import_great_expectations(); print(time.process_time() - t)'``:
2.14–2.36 s of CPU (median 2.29) against 2.66–2.94 s (median 2.83) with only ``DEFERRED``
deferred (five runs each, alternating, 2026-12-04).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType
from typing import Any

DEFERRED = ("scipy.stats", "altair")
_FLUENT = "great_expectations.datasource.fluent"
DEFERRED_DATASOURCES = tuple(
    f"{_FLUENT}.{module}"
    for module in (
        "spark_datasource", "spark_file_path_datasource", "spark_filesystem_datasource",
        "spark_dbfs_datasource", "spark_s3_datasource", "spark_google_cloud_storage_datasource",
        "spark_azure_blob_storage_datasource",
        "sql_datasource", "sql_server_datasource", "sqlite_datasource", "postgres_datasource",
        "redshift_datasource", "aurora_datasource", "citus_datasource", "alloy_datasource",
        "neon_datasource", "bigquery_datasource", "databricks_sql_datasource",
        "snowflake_datasource", "fabric", "fabric_datasource",
    )
)  # fmt: skip


def import_great_expectations() -> ModuleType:
    """``great_expectations``, imported with ``DEFERRED`` and ``DEFERRED_DATASOURCES``
    deferred (once per process)."""
    with _loading:
        if "great_expectations" in sys.modules:
            return sys.modules["great_expectations"]
        for name in DEFERRED:
            _defer(name)
        stand_ins = [_defer_unimported(name) for name in DEFERRED_DATASOURCES]
        global _importing
        _importing = True
        try:
            return importlib.import_module("great_expectations")
        finally:
            _importing = False
            for stand_in in stand_ins:
                if stand_in is not None and sys.modules.get(stand_in.__name__) is stand_in:
                    # as an import would have: the package's attribute names the module
                    setattr(sys.modules[_FLUENT], stand_in.__name__.rpartition(".")[2], stand_in)


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


def _defer_unimported(name: str) -> _Deferred | None:
    """Register a stand-in for ``name``, a module of a package not imported yet (finding it
    with ``find_spec`` would import the package), unless it cannot be found."""
    top, *middle, _ = name.split(".")
    package = importlib.util.find_spec(top)
    if package is None or not package.submodule_search_locations:
        return None
    folders = [str(Path(folder, *middle)) for folder in package.submodule_search_locations]
    spec = PathFinder.find_spec(name, folders)
    if spec is None or spec.loader is None:
        return None
    sys.modules[name] = stand_in = _Deferred(name, spec)
    return stand_in


class _Deferred(ModuleType):
    """A module not imported until one of its attributes is read; then it is, exactly as
    it would have been, and the stand-in takes its attributes. (The standard library's
    ``LazyLoader`` loads on any attribute read, ``__spec__`` included, which the import
    machinery reads on every ``import`` of a name already in ``sys.modules``.)"""

    def __init__(self, name: str, spec: ModuleSpec) -> None:
        super().__init__(name)
        self.__spec__ = spec
        if spec.has_location:
            # what tools read of every loaded module without using it (Hypothesis scans
            # their files for constants)
            self.__file__ = spec.origin

    def __getattr__(self, attribute: str) -> object:
        if _importing:
            if attribute.startswith("__"):  # the import system asking for ``__path__``
                raise AttributeError(attribute)
            # GX's ``from <this module> import <name>``: a name to resolve on first use
            name = _DeferredName(self, attribute)
            _names_given.append((self, attribute, name))
            return name
        self._load()
        return object.__getattribute__(self, attribute)

    def _load(self) -> None:
        with _loading:
            if any(module is self for module, _, _ in _names_given):
                _load_datasources()
            else:
                self._load_alone()

    def _load_alone(self) -> None:
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


def _load_datasources() -> None:
    """Import the deferred datasource modules GX took names from, in the order it took
    them, and put the real names in GX's package as each module loads: the modules import
    each other's classes from the package (``from great_expectations.datasource.fluent import
    _SparkFilePathDatasource``), as they did while GX was being imported."""
    package = sys.modules[_FLUENT]
    for module in dict.fromkeys(module for module, _, _ in _names_given):
        module._load_alone()
        for source, name, stand_in in _names_given:
            # (a module whose import is still running, further up, has no names yet)
            if source is module and name in vars(module) and vars(package).get(name) is stand_in:
                setattr(package, name, vars(module)[name])


class _DeferredName:
    """A name GX imported from a deferred module: the first use imports the module."""

    def __init__(self, module: _Deferred, name: str) -> None:
        self._where = (module, name)

    def _resolve(self) -> Any:
        module, name = self._where
        module._load()
        return object.__getattribute__(module, name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._resolve(), attribute)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)

    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(instance, self._resolve())

    def __subclasscheck__(self, subclass: type) -> bool:
        return issubclass(subclass, self._resolve())

    def __repr__(self) -> str:
        module, name = self._where
        return f"<{name} of {module.__name__}, not imported yet>"


_loading = threading.RLock()
_importing = False  # inside ``import_great_expectations``
# the names GX's package took from deferred modules, in the order it took them
_names_given: list[tuple[_Deferred, str, _DeferredName]] = []
