"""GX validations in worker processes, so the suites of a batch's event types run at once.

A validation costs about half a second whatever the batch's size (GX builds a metric graph
per expectation), and it holds the interpreter the whole time: three event types validated
one after the other are the largest part of a short ``follow`` pass. Each worker keeps its
own warm ``SuiteRunner`` (ephemeral context: results go to the warehouse's ``dq.*``), and
rebuilds it when a survey definition changes.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from typing import Any

from contracts.survey_catalog import loaded_signature, reload_survey_catalog
from finradar.errors import TransientError
from handoff.validation import BatchValidation
from infra.child_processes import pool_worker_setup
from pipelines.gx_runner import shared_runner

_pools: dict[int, ValidatorPool] = {}


def _warm() -> bool:
    shared_runner()
    # the GX context is hundreds of thousands of long-lived objects: out of the collector's
    # sight, a full collection no longer stalls a validation for a tenth of a second
    gc.freeze()
    return True


def _validate(
    event_type: str, events: list[dict[str, Any]], now: datetime, signature: Any, only: str
) -> BatchValidation:
    if reload_survey_catalog() != signature:
        raise TransientError("survey definitions changed while the pass ran; it runs again")
    return shared_runner().validate(event_type, events, now=now, screen=True, only=only)


class ValidatorPool:
    """``workers`` processes, each with the contract's suites loaded."""

    def __init__(self, workers: int) -> None:
        self.executor = ProcessPoolExecutor(
            workers, mp_context=mp.get_context("spawn"), initializer=pool_worker_setup
        )
        for future in [self.executor.submit(_warm) for _ in range(workers)]:
            future.result()

    def submit(
        self, event_type: str, events: list[dict[str, Any]], now: datetime, only: str
    ) -> Future[BatchValidation]:
        """Validate ``events`` with the one suite ``only`` of their type (a survey batch's
        three suites go to the workers as three jobs, validated side by side)."""
        return self.executor.submit(_validate, event_type, events, now, loaded_signature(), only)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def shared_pool(workers: int) -> ValidatorPool:
    """This process's pool of ``workers`` validators (started, and warmed, on first use)."""
    pool = _pools.get(workers)
    if pool is None:
        pool = _pools[workers] = ValidatorPool(workers)
    return pool


def close_pools() -> None:
    while _pools:
        _pools.popitem()[1].close()
