"""The ``follow`` flow: continuous ingest, for events in ``raw.*`` within seconds.

Grain: one flow run = one follow session of many passes; each pass = one warehouse commit,
holding the writer slot only for that commit (``flows.policy.CommitSlot``: asked for while
the pass reads and validates), so a scheduled refresh finds it free most of the time. A
transient failure (broker restarting, warehouse busy) is retried with backoff like a task's;
anything else ends the session. The session ends when ``request_stop`` is called (Ctrl-C or
SIGTERM of ``finradar follow``), after ``max_passes``, or with ``until_idle`` at the first
pass that finds nothing new.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger

from contracts.spec import contracts
from finradar.settings import Settings, get_settings
from flows.alerting import evaluate_and_notify
from flows.artifacts import publish_follow
from flows.policy import CommitSlot, is_transient, warehouse_writer
from handoff.errors import OffsetsMoved
from infra.consumer_group import PartitionGroup
from pipelines.follow import FollowStatus
from pipelines.follow import follow as follow_loop
from pipelines.ingest import IngestSummary, new_batch_id, run_once
from pipelines.planning import plan_ranges
from warehouse.lake import compact as compact_files
from warehouse.lake import shared_connection

LOG_EVERY_S = 30
# the alert rules are judged this often while following (each pass would add their queries
# to every event's latency), and once more when the session ends
ALERTS_EVERY_S = 30
_stop = threading.Event()


def join_group(settings: Settings, group: str, say: Callable[[str], None]) -> PartitionGroup:
    """This session's membership of the consumer group ``group`` over the contract topics
    (``say`` tells each change of its partitions)."""
    topics = [c.topic for c in contracts().values()]
    session_ms = int(settings.ingest.follow_group_session_s * 1000)
    members = PartitionGroup(settings.kafka, group, topics, session_timeout_ms=session_ms, say=say)
    # the first join takes the broker's initial rebalance delay (3 s by default)
    members.join(timeout_s=3 * settings.ingest.follow_group_session_s)
    return members


def request_stop() -> None:
    """End the running session after its current pass (a pass is never cut off)."""
    _stop.set()


@flow(name="follow")
def follow(
    max_passes: int | None = None,
    until_idle: bool = False,
    status_line: bool = False,
    group: str | None = None,
) -> dict[str, Any]:
    """Back-to-back short ingest passes until stopped; leaves a summary of the session.

    ``status_line`` redraws one line on stderr after every pass (``finradar follow``);
    otherwise the status is logged every ``LOG_EVERY_S`` seconds while events arrive.

    ``group`` (else ``ingest.follow_group``): the session is one member of that Kafka
    consumer group, and each pass reads the partitions the group assigns it now
    (``infra.consumer_group``). Its commits then take turns with every other writer in the
    catalog (``warehouse.transactions``), not with the Prefect writer slot, which the
    members of a group on several hosts would not share; a pass whose partitions another
    member committed meanwhile is not landed (``OffsetsMoved``) and is planned again."""
    settings = get_settings()
    logger = get_run_logger()
    group = group or settings.ingest.follow_group
    _stop.clear()
    if threading.current_thread() is threading.main_thread():
        # Prefect's engine turns SIGTERM into an exception that would cut a pass off; end
        # the session after the current pass instead (Prefect restores its handler after)
        signal.signal(signal.SIGTERM, lambda signum, frame: request_stop())
    tty = status_line and sys.stderr.isatty()

    logged = [0.0]
    judged = [0.0]

    def judge_alerts() -> None:
        try:
            evaluate_and_notify(settings, con=shared_connection(settings), logger=logger)
        except Exception as exc:  # the passes' own work is committed; alerts are told apart
            logger.error(f"alerts not evaluated: {type(exc).__name__}: {exc}")

    def on_pass(summary: IngestSummary, status: FollowStatus) -> None:
        if status.uptime_s - judged[0] >= ALERTS_EVERY_S:
            judged[0] = status.uptime_s
            judge_alerts()
        if status_line:
            end = "\r" if tty else "\n"
            if tty or summary.consumed:
                print(status.line().ljust(110), end=end, file=sys.stderr, flush=True)
        elif summary.consumed and status.uptime_s - logged[0] >= LOG_EVERY_S:
            logged[0] = status.uptime_s
            logger.info(status.line())
        if until_idle and summary.consumed == 0:
            _stop.set()

    slot = CommitSlot()
    prepared = [False]
    members = None if group is None else join_group(settings, group, logger.info)
    # a group's members write in the catalog's turns only: a Prefect slot of a member
    # killed while holding it would keep every other member waiting for its lease
    writer_slot = warehouse_writer if members is None else nullcontext

    def request_slot(plan: list[Any]) -> None:
        if plan:  # an empty pass commits nothing
            slot.request()

    def one_pass() -> IngestSummary:
        if members is None:
            return run_once(settings, on_plan=request_slot, follow=True, commit_gate=slot.held)
        assigned = members.assigned()
        if not assigned:  # a rebalance under way, or more members than partitions
            return IngestSummary(new_batch_id(datetime.now(UTC)))
        try:
            return run_once(settings, follow=True, partitions=assigned)
        except OffsetsMoved as exc:  # its partitions moved and their new holder committed
            logger.info(f"pass not landed, planned again: {exc}")
            return IngestSummary(new_batch_id(datetime.now(UTC)))

    def run_pass() -> IngestSummary:
        # a task run per pass cost a fifth of the latency budget (state events, logs, the
        # server's work for each): the pass runs in the flow and shows in its logs instead
        for attempt in range(settings.prefect.task_retries + 1):
            try:
                if not prepared[0]:
                    # the session's first plan creates any missing schema: a write
                    with writer_slot():
                        plan_ranges(settings, shared=True)
                    prepared[0] = True
                return one_pass()
            except Exception as exc:
                slot.let_go()
                if not is_transient(exc) or attempt == settings.prefect.task_retries:
                    raise
                delay = settings.prefect.retry_delay_s * 2**attempt
                logger.warning(f"pass failed ({exc}); again in {delay:.1f} s")
                _stop.wait(delay)
        raise AssertionError("unreachable")

    def compact() -> int:
        slot.close()  # the last commit's slot is back with the server before asking again
        with writer_slot():
            merged = compact_files(shared_connection(settings), settings)
        logger.info(f"merged {merged} small data files")
        return merged

    try:
        status = follow_loop(
            settings,
            _stop,
            on_pass,
            run_pass=run_pass,
            max_passes=max_passes,
            compact=compact,
            take_turns=members is None,
        )
    finally:
        slot.close()
        if members is not None:
            members.close()  # its partitions move to the other members at once
    judge_alerts()
    if tty:
        print(file=sys.stderr)
    publish_follow(status)
    return {**asdict(status), "uptime_s": status.uptime_s}
