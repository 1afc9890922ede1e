"""What every flow shares: which failures are retried, and one warehouse writer at a time.

Transient failures (``TransientError``: the broker not reachable yet, another writer holding
the warehouse; DuckLake commit conflicts and a busy catalog) are retried with exponential
backoff. Everything else — a contract the data breaks, an accounting error — fails the run
at once: trying again would give the same answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.settings import PREFECT_API_URL
from prefect.tasks import exponential_backoff

from finradar.errors import TransientError
from finradar.settings import Settings
from handoff.errors import OffsetsMoved
from warehouse.transactions import is_retryable

WRITER_LIMIT = "finradar-warehouse-writer"


def is_transient(exc: BaseException | None) -> bool:
    return isinstance(exc, TransientError | OffsetsMoved) or (exc is not None and is_retryable(exc))


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only when the failure was transient."""
    try:
        state.result()
    except Exception as exc:  # the task's own exception, re-raised from its state
        return is_transient(exc)
    return False


def retry_options(settings: Settings) -> dict[str, Any]:
    """Task options for work that may hit a transient failure."""
    return {
        "retries": settings.prefect.task_retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=settings.prefect.retry_delay_s)
        if settings.prefect.retry_delay_s
        else 0,
        "retry_condition_fn": retry_transient,
    }


_limit_seen: set[str] = set()


def ensure_writer_limit() -> None:
    """Create the one-slot global concurrency limit on the Prefect server if it is missing
    (asked once per process and server: ``follow`` takes the slot every second or two)."""
    server = str(PREFECT_API_URL.value())
    if server in _limit_seen:
        return
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
        except Exception:  # ObjectNotFound; any other error surfaces in create below
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=WRITER_LIMIT, limit=1)
            )
    _limit_seen.add(server)


@contextmanager
def warehouse_writer() -> Iterator[None]:
    """Hold the warehouse's single writer slot (ingest, refresh, replay, backfill)."""
    ensure_writer_limit()
    with concurrency(WRITER_LIMIT, occupy=1, strict=True):
        yield


class CommitSlot:
    """The writer slot for the commit of a ``follow`` pass only.

    Asked for in a background thread as soon as the pass has something to read, so the
    Prefect server's round trips (acquire, release) overlap the
    pass's reading and validating instead of adding to every event's latency; given back
    right after the commit, so a waiting refresh finds it free for most of each pass."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._acquired = threading.Event()
        self._done = threading.Event()
        self._error: BaseException | None = None

    def request(self) -> None:
        """Start asking for the slot (the previous pass's slot is given back first)."""
        self.close()
        self._acquired.clear()
        self._done.clear()
        self._error = None
        self._thread = threading.Thread(target=self._hold, name="finradar-commit-slot")
        self._thread.start()

    def _hold(self) -> None:
        try:
            with warehouse_writer():
                self._acquired.set()
                self._done.wait()
        except BaseException as exc:  # handed to the pass, which decides on a retry
            self._error = exc
            self._acquired.set()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Wait until the slot is this pass's; give it back (off this thread) after."""
        if self._thread is None:
            raise RuntimeError("the commit slot was not requested for this pass")
        self._acquired.wait()
        if self._error is not None:
            raise self._error
        try:
            yield
        finally:
            self._done.set()

    def let_go(self) -> None:
        """Give the slot back, or stop asking for it, without waiting (a failed pass)."""
        self._done.set()

    def close(self) -> None:
        """Give the slot back and wait until the server has it."""
        if self._thread is not None:
            self._done.set()
            self._thread.join()
            self._thread = None
