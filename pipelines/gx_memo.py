"""One configuration per expectation for the length of a validation (GX 1.24).

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

It is installed for the GX release whose property was read (``CHECKED_VERSION``) only: a
new release runs unchanged until someone reads its code and the tests again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

CHECKED_VERSION = "1.24.1"

# expectation id → (the expectation, its configuration); None outside a validation
_memo: ContextVar[dict[int, tuple[Any, Any]] | None] = ContextVar("gx_memo", default=None)
_installed = False


def install() -> bool:
    """Make ``Expectation.configuration`` consult the memo (once per process); returns
    whether it did (only for ``CHECKED_VERSION``)."""
    global _installed
    if _installed:
        return True
    # lazy: GX takes seconds to import; only a process that validates installs the memo
    import great_expectations
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
    _installed = True
    return True


@contextmanager
def memoised_configurations() -> Iterator[None]:
    """Within the block (one validation), each expectation builds its configuration once."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)
