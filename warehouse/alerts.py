"""Alert rules over the warehouse, and their states in ``dq.alerts``.

Each rule (``RULES``; bounds in ``AlertSettings``) measures its subjects — a topic, a flow, a
finding — and says which are firing. The state of a rule × subject is its latest row in
``dq.alerts`` (none, or ``resolved``: ok); only a change of state makes a row: ok → firing,
firing → resolved. So a rule that stays firing is written, and notified, once.

A rule is either judged on all its subjects at once (``RuleResult.complete``: a subject
firing before and not measured now is resolved, e.g. a finding a refresh no longer finds) or
on some of them (a flow's good run resolves that flow only). A rule not judged this time (the
lag without Kafka) keeps its states.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from contracts.spec import contracts
from finradar.settings import AlertSettings
from handoff.records import PartitionRange
from warehouse.schema import create_all
from warehouse.transactions import DEFAULT_TURN_WAIT_S, in_transaction

RULES = ("flow_failed", "quarantine_rate", "error_finding", "freshness", "consumer_lag")
COLUMNS = (
    "alert_id",
    "rule",
    "subject",
    "state",
    "previous_state",
    "value",
    "threshold",
    "detail",
    "changed_at",
    "notified",
)


@dataclass(frozen=True)
class Measurement:
    """One subject of a rule as measured now: its value against the rule's bound."""

    rule: str
    subject: str
    value: float
    threshold: float
    firing: bool
    detail: str


@dataclass(frozen=True)
class RuleResult:
    """What one rule measured this time. ``complete``: every subject it could fire on was
    measured, so one firing before and absent now is resolved (``absent`` says why)."""

    rule: str
    measurements: tuple[Measurement, ...]
    complete: bool = True
    absent: str = "no longer measured"


@dataclass(frozen=True)
class AlertChange:
    """One state change of a rule × subject: a row of ``dq.alerts`` once notified."""

    alert_id: str
    rule: str
    subject: str
    state: str  # firing | resolved
    previous_state: str  # ok | firing
    value: float
    threshold: float
    detail: str
    changed_at: datetime

    def message(self) -> dict[str, Any]:
        """The change as a notifier sends it (a JSON object; ``text`` is one line)."""
        return {
            "source": "finradar",
            "alert_id": self.alert_id,
            "rule": self.rule,
            "subject": self.subject,
            "state": self.state,
            "previous_state": self.previous_state,
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
            "changed_at": self.changed_at.isoformat(),
            "text": f"[finradar] {self.state.upper()} {self.rule} {self.subject}: {self.detail}",
        }


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``dq.alerts`` (with every other missing table) in a warehouse made before it."""
    present = con.execute(
        "select count(*) from information_schema.tables where table_catalog = "
        "current_database() and table_schema = 'dq' and table_name = 'alerts'"
    ).fetchone()[0]
    if not present:
        create_all(con)


def current_states(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """The latest state (``firing`` or ``resolved``) of every rule × subject ever changed."""
    rows = con.execute(
        """
        select rule, subject, state from dq.alerts
        qualify row_number() over (partition by rule, subject
                                   order by changed_at desc, alert_id desc) = 1
        """
    ).fetchall()
    return {(rule, subject): state for rule, subject, state in rows}


def flow_result(alerts: AlertSettings, succeeded: str | None) -> RuleResult | None:
    """``flow_failed`` after a good run of the flow ``succeeded``: that flow is ok again."""
    if not alerts.flow_failed:
        return RuleResult("flow_failed", (), absent="rule turned off")
    if succeeded is None:
        return None
    ok = Measurement("flow_failed", succeeded, 0.0, 0.0, False, f"flow {succeeded} ran ok")
    return RuleResult("flow_failed", (ok,), complete=False)


def flow_failure(alerts: AlertSettings, flow: str, detail: str) -> RuleResult | None:
    """``flow_failed`` for a failed or crashed run of ``flow`` (its state hook calls it)."""
    if not alerts.flow_failed:
        return None
    failed = Measurement("flow_failed", flow, 1.0, 0.0, True, f"flow {flow} failed: {detail}")
    return RuleResult("flow_failed", (failed,), complete=False)


def quarantine_result(
    con: duckdb.DuckDBPyConnection, alerts: AlertSettings, now: datetime
) -> RuleResult:
    """``quarantine_rate`` per topic: quarantined ÷ consumed over the ingest batches that
    finished in the window; judged only with ``quarantine_min_messages`` in it."""
    window = timedelta(seconds=alerts.quarantine_window_s)
    rows = con.execute(
        """
        select p.kafka_topic, sum(p.consumed), sum(p.quarantined)
        from ops.partition_batches as p
        join ops.ingest_runs as r using (batch_id)
        where r.finished_at >= ? and p.consumed > 0
        group by p.kafka_topic
        order by p.kafka_topic
        """,
        [now - window],
    ).fetchall()
    bound = alerts.quarantine_rate_max
    measured = []
    for topic, consumed, quarantined in rows:
        rate = quarantined / consumed
        judged = consumed >= alerts.quarantine_min_messages
        detail = (
            f"{quarantined:,} of {consumed:,} messages quarantined ({rate:.1%}) in the last "
            f"{_duration(window.total_seconds())}, bound {bound:.1%}"
            + ("" if judged else f"; fewer than {alerts.quarantine_min_messages:,}: not judged")
        )
        measured.append(
            Measurement("quarantine_rate", topic, rate, bound, judged and rate > bound, detail)
        )
    return RuleResult(
        "quarantine_rate", tuple(measured), absent="no messages of the topic in the window"
    )


def error_finding_result(con: duckdb.DuckDBPyConnection, alerts: AlertSettings) -> RuleResult:
    """``error_finding``: each error-severity finding of the latest refresh, by its key."""
    if not alerts.error_findings:
        return RuleResult("error_finding", (), absent="rule turned off")
    rows = con.execute(
        """
        select finding_key, rule_id, entity_id, fiscal_period, detail from dq.findings
        where severity = 'error'
        order by finding_key
        """
    ).fetchall()
    return RuleResult(
        "error_finding",
        tuple(
            Measurement(
                "error_finding",
                key,
                1.0,
                0.0,
                True,
                f"{rule} {entity or '-'} {period or '-'}: {detail}",
            )
            for key, rule, entity, period, detail in rows
        ),
        absent="the latest refresh no longer finds it",
    )


def freshness_result(
    con: duckdb.DuckDBPyConnection, alerts: AlertSettings, now: datetime
) -> RuleResult:
    """``freshness`` per topic: the age of its newest landed event (Kafka timestamp) against
    the topic's SLA. A topic with no landed event, or an SLA of 0, is not judged."""
    present = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_catalog = "
            "current_database() and table_schema = 'raw'"
        ).fetchall()
    }
    parts = [
        f"select '{c.topic}' as topic, max(kafka_timestamp) as newest from raw.{c.table}"
        for c in contracts().values()
        if c.table in present
    ]
    rows = con.execute(" union all ".join(parts) + " order by topic").fetchall() if parts else []
    measured = []
    for topic, newest in rows:
        sla = alerts.freshness_sla_by_topic.get(topic, alerts.freshness_sla_s)
        if newest is None or sla <= 0:
            continue
        age = (now - newest).total_seconds()
        detail = f"newest event {_duration(age)} old, SLA {_duration(sla)}"
        measured.append(Measurement("freshness", topic, age, sla, age > sla, detail))
    return RuleResult("freshness", tuple(measured), absent="topic not judged any more")


def lag_result(alerts: AlertSettings, lag: Sequence[PartitionRange] | None) -> RuleResult | None:
    """``consumer_lag`` per topic: messages beyond the committed offsets on all its
    partitions (``lag``: the partitions behind; None when Kafka could not be asked)."""
    if alerts.lag_max_messages <= 0:
        return RuleResult("consumer_lag", (), absent="rule turned off")
    if lag is None:
        return None
    behind = {c.topic: 0 for c in contracts().values()}
    for r in lag:
        behind[r.topic] = behind.get(r.topic, 0) + r.size
    bound = alerts.lag_max_messages
    return RuleResult(
        "consumer_lag",
        tuple(
            Measurement(
                "consumer_lag",
                topic,
                float(n),
                float(bound),
                n > bound,
                f"{n:,} messages not ingested yet, bound {bound:,}",
            )
            for topic, n in sorted(behind.items())
        ),
    )


def evaluate(
    con: duckdb.DuckDBPyConnection,
    alerts: AlertSettings,
    now: datetime,
    *,
    lag: Sequence[PartitionRange] | None = None,
    succeeded: str | None = None,
) -> list[RuleResult]:
    """Every rule that can be judged now (the lag only with ``lag``; ``flow_failed`` only
    for the flow that just ``succeeded``)."""
    results = [
        flow_result(alerts, succeeded),
        quarantine_result(con, alerts, now),
        error_finding_result(con, alerts),
        freshness_result(con, alerts, now),
        lag_result(alerts, lag),
    ]
    return [r for r in results if r is not None]


def state_changes(
    results: Iterable[RuleResult], states: Mapping[tuple[str, str], str], now: datetime
) -> list[AlertChange]:
    """The changes ``results`` make to ``states`` (``current_states``): a firing subject that
    was ok fires, a measured or (complete rule) absent subject that was firing resolves."""
    changes = []
    for result in results:
        measured = {m.subject for m in result.measurements}
        for m in result.measurements:
            was_firing = states.get((m.rule, m.subject)) == "firing"
            if m.firing != was_firing:
                changes.append(_change(m, now))
        if result.complete:
            for (rule, subject), state in sorted(states.items()):
                if rule == result.rule and state == "firing" and subject not in measured:
                    gone = Measurement(rule, subject, 0.0, 0.0, False, result.absent)
                    changes.append(_change(gone, now))
    return changes


def _change(m: Measurement, now: datetime) -> AlertChange:
    return AlertChange(
        alert_id=str(uuid.uuid4()),
        rule=m.rule,
        subject=m.subject,
        state="firing" if m.firing else "resolved",
        previous_state="ok" if m.firing else "firing",
        value=m.value,
        threshold=m.threshold,
        detail=m.detail,
        changed_at=now,
    )


def record(
    con: duckdb.DuckDBPyConnection,
    changes: Sequence[AlertChange],
    notified: Mapping[str, Sequence[str]],
    retries: int = 12,
    turn_wait_s: float = DEFAULT_TURN_WAIT_S,
) -> None:
    """Append ``changes`` to ``dq.alerts`` in one commit, each with the notifiers that took
    it (``notified`` by alert id)."""
    if not changes:
        return
    rows = [
        (
            c.alert_id,
            c.rule,
            c.subject,
            c.state,
            c.previous_state,
            c.value,
            c.threshold,
            c.detail,
            c.changed_at,
            list(notified.get(c.alert_id, ())),
        )
        for c in changes
    ]
    marks = ", ".join("?" for _ in COLUMNS)
    in_transaction(
        con,
        lambda: con.executemany(
            f"insert into dq.alerts ({', '.join(COLUMNS)}) values ({marks})", rows
        ),
        retries=retries,
        message=lambda _: f"alerts: {len(rows)} state changes",
        turn_wait_s=turn_wait_s,
    )


def utc_now() -> datetime:
    """Now, in UTC (the time of an evaluation's changes)."""
    return datetime.now(UTC)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"
