"""What every flow shares: which failures are retried, and one warehouse writer at a time.

Transient failures (``TransientError``: the broker not reachable yet, another writer holding
the warehouse; DuckLake commit conflicts and a busy catalog) are retried with exponential
backoff. Everything else — a contract the data breaks, an accounting error — fails the run
at once: trying again would give the same answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from finradar.errors import TransientError
from finradar.settings import Settings

WRITER_LIMIT = "finradar-warehouse-writer"


def is_transient(exc: BaseException | None) -> bool:
    from warehouse.landing import OffsetsMoved
    from warehouse.transactions import is_retryable

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
    from prefect.tasks import exponential_backoff

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
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    server = str(PREFECT_API_URL.value())
    if server in _limit_seen:
        return
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

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
    from prefect.concurrency.sync import concurrency

    ensure_writer_limit()
    with concurrency(WRITER_LIMIT, occupy=1, strict=True):
        yield
