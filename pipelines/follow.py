"""Continuous ingest: back-to-back short passes, for events in ``raw.*`` within seconds.

Each pass is an ordinary ingest pass (``pipelines.ingest.run_once``: one bounded Beam
pipeline over ``[committed, end)``, one warehouse commit) with what makes a pass slow
taken out of the loop: warm Great Expectations contexts in worker processes validate the
event types of a pass at once (``pipelines.gx_pool``; rebuilt when a survey definition
changes), validation results go to ``dq.*`` only (no Data Docs rebuild per pass), the
warehouse session and Kafka client stay open, and the short ranges of a pass are
validated as one batch per topic.
When a pass finds nothing new, the loop waits ``poll_s`` before looking again. Before each
pass it lets another writer that waits for the warehouse (a scheduled ingest, a replay, a
backfill) have its turn.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from threading import Event

from finradar.settings import Settings
from pipelines.beam_tuning import shorten_state_sampling
from pipelines.gx_pool import close_pools, shared_pool
from pipelines.ingest import IngestSummary, ingest_lock, run_once
from pipelines.planning import close_shared_clients
from warehouse.lake import compact as compact_files
from warehouse.lake import shared_connection
from warehouse.locks import POLL_S


@dataclass
class FollowStatus:
    """Running totals of a ``follow`` session (what its status line shows)."""

    started: float = field(default_factory=time.monotonic)
    passes: int = 0
    consumed: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    last_pass_s: float = 0.0
    last_batch_id: str | None = None
    files_merged: int = 0

    def add(self, summary: IngestSummary) -> None:
        self.passes += 1
        self.consumed += summary.consumed
        self.landed += summary.landed
        self.duplicates += summary.duplicates
        self.quarantined += summary.quarantined
        self.last_pass_s = summary.seconds
        self.last_batch_id = summary.batch_id

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started

    def line(self, lag: int | None = None) -> str:
        rate = self.consumed / self.uptime_s if self.uptime_s else 0.0
        lag_text = "" if lag is None else f" · lag {lag:,}"
        return (
            f"follow {self.uptime_s:,.0f}s · {self.passes:,} passes · landed {self.landed:,}"
            f" · quarantined {self.quarantined:,} · duplicates {self.duplicates:,}"
            f" · {rate:,.0f} ev/s · last pass {self.last_pass_s:.1f}s{lag_text}"
        )


def wait_for_turn(settings: Settings, stop: Event) -> None:
    """Until no other writer waits for the ingest lock or holds it (or ``stop``): a
    scheduled ingest, a replay or a backfill gets the warehouse between two passes."""
    lock = ingest_lock(settings)
    while not stop.is_set() and (lock.anyone_waiting() or not lock.is_free()):
        stop.wait(POLL_S)


def follow(
    settings: Settings,
    stop: Event,
    on_pass: Callable[[IngestSummary, FollowStatus], None] = lambda summary, status: None,
    run_pass: Callable[[], IngestSummary] | None = None,
    max_passes: int | None = None,
    compact: Callable[[], int] | None = None,
    take_turns: bool = True,
) -> FollowStatus:
    """Run passes until ``stop`` is set (checked between passes: a pass is never cut off
    half way) or ``max_passes`` have run; every ``prefect.follow_compact_every_s`` merge the
    small files the passes wrote. ``run_pass`` and ``compact`` replace the plain pass and
    compaction (the ``follow`` flow holds the writer slot around each). ``take_turns``:
    before each pass, let another ingest writer that waits have the warehouse
    (``wait_for_turn``); a consumer group's member does not wait for the others."""
    status = FollowStatus()
    run_pass = run_pass or (lambda: run_once(settings, follow=True))
    compact = compact or (lambda: compact_files(shared_connection(settings), settings))
    compacted_at = time.monotonic()
    # the validators' GX contexts are built before the first events arrive
    shared_pool(settings.ingest.follow_validators)
    shorten_state_sampling()
    gc.freeze()  # what is loaded by now lives as long as the loop: keep it out of collections
    try:
        while not stop.is_set() and (max_passes is None or status.passes < max_passes):
            if take_turns:  # a group's member reads its own partitions, beside the others
                wait_for_turn(settings, stop)
            if stop.is_set():
                break
            summary = run_pass()
            status.add(summary)
            on_pass(summary, status)
            if time.monotonic() - compacted_at >= settings.prefect.follow_compact_every_s:
                status.files_merged += compact()
                compacted_at = time.monotonic()
            if summary.consumed == 0:
                stop.wait(settings.prefect.follow_poll_s)
    finally:
        close_shared_clients()
        close_pools()
    return status
