"""One configuration per expectation, and one id per metric's keyword arguments, for the
length of a validation (GX 1.24).

GX 1.24 rebuilds an expectation's ``ExpectationConfiguration`` (a pydantic ``dict()`` of
the expectation and a regex over its class name) every time its ``configuration``
property is read, and it reads it dozens of times per expectation while it plans the
metrics of one validation: the largest single cost of validating a short batch.
Inside ``memoised_configurations()`` the property returns the configuration it built
first for that expectation object; outside, GX's own property runs as before.

Why the memo gives GX's own results:

* the property is a function of the expectation's fields only, and during a validation GX
  changes no expectation's fields (it builds new expectation objects from the suite's
  configurations once their suite parameters are substituted);
* GX substitutes suite parameters (the future-timestamp cutoff) into the suite's
  configurations in place: the memo lives for one validation, so the next validation,
  with its own cutoff, starts again from the suite's unchanged expectations;
* the memo holds each expectation it has seen, so no id is reused while it lives.

GX also names every metric it plans by the ids of its keyword arguments (``IDDict.to_id``:
the arguments made JSON-serialisable element by element, dumped and hashed), thousands of
times per validation, most of them for the same arguments: an expectation's value set of
hundreds of codes is walked again for each of its metrics. GX's share of 40,000 synthetic
messages validated as a worker does (frames held until ``ingest.gx_rows`` rows wait) takes
about 31 µs a message with both memos and 44–45 µs with GX's own code (``python -m
tests.bench.profile_ingest_steps 40000``: "GX held frames" and its "without gx_memo" line;
two runs on 2026-12-02); the id memo alone took it from 34.9 to 30.4 µs (the same command
at commits 5c02e57 and 498e921, at 40,000 rows, alternating).
Inside ``memoised_configurations()`` an id is computed once per content of the arguments:

* the key is the arguments' content (``_content``), tagged with each value's type, so that
  what JSON writes differently (``1``, ``1.0``, ``true``; ``0.0`` and ``-0.0``) never
  shares a key; anything but strings, numbers, booleans, None, and lists, tuples and
  string-keyed dicts of them (a row condition's object, a subclass of ``str``) gets GX's
  own computation every time;
* ``to_id`` is a function of that content and of the dict's class (its ignored keys), so
  a content met again has the id GX computed for it the first time.

GX also checks, before it runs a checkpoint and again as it runs each validation definition
and serialises its results, that every object it runs is still the one stored (the
suite, the batch and validation definitions, the checkpoint: each read from its store
file and deserialised, ``is_fresh``): four times a validation for a definition and its
suite. Inside ``memoised_freshness()`` each object is checked once and a fresh verdict
stands for the rest of that validation; a stale or missing one is checked again each time
(GX then raises, or adds the object). A project another process rewrites during a
validation is caught by the next one's first check, as a rewrite right after GX's last
check always was; outside, GX checks each time as before.

All are installed for the GX release whose code was read (``CHECKED_VERSION``) only: a
new release runs unchanged until someone reads its code and the tests again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pipelines.gx_import import import_great_expectations

CHECKED_VERSION = "1.24.1"

# expectation id → (the expectation, its configuration); None outside a validation
_memo: ContextVar[dict[int, tuple[Any, Any]] | None] = ContextVar("gx_memo", default=None)
# (IDDict class, content of its arguments) → its id; None outside a validation
_ids: ContextVar[dict[Any, Any] | None] = ContextVar("gx_ids", default=None)
# GX object id → (the object, its fresh diagnostics); None outside a validation
_fresh: ContextVar[dict[int, tuple[Any, Any]] | None] = ContextVar("gx_fresh", default=None)
_installed = False
_installing = threading.Lock()  # a second install would wrap the first one's wrappers


class _Opaque(Exception):
    """A value whose content ``_content`` does not key."""


def _content(value: Any) -> Any:
    """A hashable key equal for two values only when GX serialises them alike."""
    kind = type(value)
    if kind is str:
        return value
    if kind is float:
        return (float, repr(value))
    if kind is int or kind is bool or value is None:
        return (kind, value)
    if kind is list or kind is tuple:
        if all(type(v) is str for v in value):
            return (kind, tuple(value))
        return (kind, tuple(_content(v) for v in value))
    if kind is dict and all(type(k) is str for k in value):
        return (dict, tuple(sorted((k, _content(v)) for k, v in value.items())))
    raise _Opaque


def install() -> bool:
    """Make ``Expectation.configuration`` consult the memo (once per process, whichever
    of a worker's threads ask at once); returns whether it did (only for
    ``CHECKED_VERSION``)."""
    with _installing:
        return _install()


def _install() -> bool:
    global _installed
    if _installed:
        return True
    great_expectations = import_great_expectations()
    # lazy: GX takes seconds to import; only a process that validates installs the memo
    from great_expectations.expectations.expectation import Expectation

    if great_expectations.__version__ != CHECKED_VERSION:
        return False
    build = Expectation.configuration.fget
    assert build is not None

    def configuration(self: Any) -> Any:
        memo = _memo.get()
        if memo is None:
            return build(self)
        hit = memo.get(id(self))
        if hit is None:
            hit = memo[id(self)] = (self, build(self))
        return hit[1]

    Expectation.configuration = property(configuration)  # type: ignore[method-assign]
    _memoise_ids()
    _memoise_freshness()
    _installed = True
    return True


def _memoise_ids() -> None:
    """Make ``IDDict.to_id`` consult the id memo (see the module docstring)."""
    # lazy: GX takes seconds to import; only a process that validates installs the memo
    from great_expectations.core.id_dict import IDDict

    compute = IDDict.to_id

    def to_id(self: Any, id_keys: Any = None, id_ignore_keys: Any = None) -> Any:
        ids = _ids.get()
        if ids is None or id_keys is not None or id_ignore_keys is not None:
            return compute(self, id_keys, id_ignore_keys)
        try:
            key = (type(self), _content(dict(self)))
        except _Opaque:
            return compute(self)
        hit = ids.get(key)
        if hit is None:
            hit = ids[key] = compute(self)
        return hit

    IDDict.to_id = to_id  # type: ignore[method-assign]


def _memoise_freshness() -> None:
    """Make the ``is_fresh`` of checkpoints, validation definitions, suites and batch
    definitions consult the freshness memo (see the module docstring)."""
    # lazy: GX takes seconds to import; only a process that validates installs the memo
    from great_expectations.checkpoint.checkpoint import Checkpoint
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.core.validation_definition import ValidationDefinition

    for kind in (Checkpoint, ValidationDefinition, ExpectationSuite, BatchDefinition):
        kind.is_fresh = _fresh_once(kind.is_fresh)  # type: ignore[method-assign]


def _fresh_once(check: Any) -> Any:
    def is_fresh(self: Any) -> Any:
        memo = _fresh.get()
        if memo is None:
            return check(self)
        hit = memo.get(id(self))
        if hit is not None:
            return hit[1]
        diagnostics = check(self)
        if diagnostics.success:
            memo[id(self)] = (self, diagnostics)
        return diagnostics

    return is_fresh


@contextmanager
def memoised_freshness() -> Iterator[None]:
    """Within the block (one validation), each GX object found fresh is not read from its
    store again."""
    token = _fresh.set({})
    try:
        yield
    finally:
        _fresh.reset(token)


@contextmanager
def memoised_configurations() -> Iterator[None]:
    """Within the block (one validation), each expectation builds its configuration once,
    and each content of a metric's arguments its id once."""
    token = _memo.set({})
    ids = _ids.set({})
    try:
        yield
    finally:
        _ids.reset(ids)
        _memo.reset(token)
