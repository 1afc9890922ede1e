"""The Prefect artifacts a run leaves: what it did, in markdown and tables.

Rendering is plain functions of the run's summary (tested without a server); ``publish_*``
hands them to Prefect, keyed so the UI shows each artifact's history across runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from handoff.records import PartitionRange
from pipelines.ingest import IngestSummary
from pipelines.progress import StagedProgress
from warehouse.refresh import RefreshSummary
from warehouse.replay import ReplaySummary

if TYPE_CHECKING:  # an annotation only: the follow loop's module imports Beam and pandas,
    # which every scheduled run that imports these artifacts would pay for at start
    from pipelines.follow import FollowStatus


def ingest_markdown(summary: IngestSummary, lag: Sequence[PartitionRange]) -> str:
    backlog = sum(r.size for r in lag)
    lines = [
        f"# Ingest {summary.batch_id}",
        "",
        "| consumed | landed | duplicates | quarantined | seconds | events/s | lag after |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {summary.consumed:,} | {summary.landed:,} | {summary.duplicates:,} "
        f"| {summary.quarantined:,} | {summary.seconds:.1f} | {summary.rate:,.0f} | {backlog:,} |",
        "",
    ]
    if lag:
        lines += ["Partitions still behind (new messages arrived during the pass):", ""]
        lines += [f"- `{r.topic}[{r.partition}]`: {r.size:,}" for r in lag]
    else:
        lines.append("Every partition is caught up.")
    return "\n".join(lines) + "\n"


def quarantine_table(summary: IngestSummary) -> list[dict[str, Any]]:
    """One row per reason code of this pass, most frequent first."""
    return [
        {"reason_code": reason, "messages": count}
        for reason, count in sorted(summary.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def refresh_markdown(summary: RefreshSummary) -> str:
    lines = [
        f"# Refresh {summary.refresh_id}",
        "",
        f"Rebuilt {len(summary.rebuilt)} relations, {len(summary.unchanged)} unchanged, "
        f"in {summary.seconds:.1f} s.",
        "",
        f"**{summary.findings} findings** ({summary.new_findings} new):",
        "",
        "| rule | findings |",
        "|---|---:|",
    ]
    lines += [f"| `{rule}` | {n:,} |" for rule, n in sorted(summary.findings_by_rule.items())]
    return "\n".join(lines) + "\n"


def follow_markdown(status: FollowStatus) -> str:
    return (
        "# Follow session\n\n"
        "| passes | consumed | landed | duplicates | quarantined | seconds | events/s |\n"
        "|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {status.passes:,} | {status.consumed:,} | {status.landed:,} | {status.duplicates:,} "
        f"| {status.quarantined:,} | {status.uptime_s:,.0f} "
        f"| {status.consumed / max(status.uptime_s, 1e-9):,.0f} |\n\n"
        f"Last pass: `{status.last_batch_id}` in {status.last_pass_s:.1f} s.\n"
    )


def publish_follow(status: FollowStatus) -> None:
    create_markdown_artifact(
        follow_markdown(status), key="follow-summary", description="what the session did"
    )


def replay_markdown(summary: ReplaySummary) -> str:
    scope = ", ".join(f"`{r}`" for r in summary.reasons) or "every reason"
    lines = [
        f"# Replay {summary.replay_batch_id}",
        "",
        f"Quarantined messages of {scope} not replayed before, checked again:",
        "",
        "| rechecked | landed | duplicates | still quarantined | seconds |",
        "|---:|---:|---:|---:|---:|",
        f"| {summary.rechecked:,} | {summary.landed:,} | {summary.duplicates:,} "
        f"| {summary.still_quarantined:,} | {summary.seconds:.1f} |",
        "",
    ]
    lines += [f"- still `{reason}`: {n:,}" for reason, n in summary.still_by_reason.items()]
    return "\n".join(lines) + "\n"


def publish_replay(summary: ReplaySummary) -> None:
    create_markdown_artifact(
        replay_markdown(summary), key="replay-summary", description="what the replay landed"
    )


class ProgressArtifact:
    """A Prefect progress artifact (percent of the plan's messages read and checked) kept up
    to date while a long pass runs; pass ``update`` to ``pipelines.progress``. Created by
    ``start``, when the pass has a plan: an empty scheduled pass leaves none."""

    def __init__(self, key: str, description: str) -> None:
        self.key, self.description = key, description
        self.id: Any = None

    def start(self) -> None:
        self.id = create_progress_artifact(0.0, key=self.key, description=self.description)

    def update(self, done: int, total: int) -> None:
        if self.id is not None:
            update_progress_artifact(self.id, min(100.0, 100.0 * done / total) if total else 100.0)

    def finish(self) -> None:
        self.update(1, 1)

    def following(self, progress: StagedProgress) -> Callable[[list[PartitionRange]], None]:
        """A pass's ``on_plan``: start this artifact if the plan holds anything, and let
        ``progress`` (which updates it) count against the plan."""

        def on_plan(plan: list[PartitionRange]) -> None:
            if plan:
                self.start()
            progress.plan(plan)

        return on_plan


def publish_ingest(summary: IngestSummary, lag: Sequence[PartitionRange]) -> None:
    """The pass's summary and quarantine reasons, if it read anything (a scheduled ingest
    every minute that found nothing new would leave two artifacts a minute)."""
    if not summary.consumed:
        return
    create_markdown_artifact(
        ingest_markdown(summary, lag), key="ingest-summary", description="what the pass did"
    )
    create_table_artifact(
        quarantine_table(summary) or [{"reason_code": "(none)", "messages": 0}],
        key="ingest-quarantine-reasons",
        description="messages quarantined by this pass, by reason",
    )


def publish_refresh(summary: RefreshSummary) -> None:
    create_markdown_artifact(
        refresh_markdown(summary), key="refresh-summary", description="models and findings"
    )
