"""Alert state changes without a warehouse: one change per crossing, never a repeat, and at
most ``max_notifications`` notifications per evaluation."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finradar.settings import load_settings
from flows.alerting import dispatch
from handoff.records import PartitionRange
from infra.notify import NotifyError
from warehouse.alerts import (
    Measurement,
    RuleResult,
    flow_failure,
    flow_result,
    lag_result,
    state_changes,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _m(subject: str, firing: bool, rule: str = "freshness") -> Measurement:
    return Measurement(rule, subject, 1.0, 0.5, firing, "detail")


def _states(results: list[RuleResult], states: dict[tuple[str, str], str]) -> list[tuple]:
    return [(c.subject, c.previous_state, c.state) for c in state_changes(results, states, NOW)]


def test_only_a_crossing_is_a_change() -> None:
    results = [RuleResult("freshness", (_m("a", True), _m("b", False), _m("c", True)))]
    states = {("freshness", "c"): "firing", ("freshness", "b"): "resolved"}
    assert _states(results, states) == [("a", "ok", "firing")]


def test_a_complete_rule_resolves_what_it_no_longer_sees_a_partial_one_does_not() -> None:
    states = {("freshness", "gone"): "firing", ("flow_failed", "refresh"): "firing"}
    assert _states([RuleResult("freshness", ())], states) == [("gone", "firing", "resolved")]
    ok = RuleResult("flow_failed", (_m("ingest", False, "flow_failed"),), complete=False)
    assert _states([ok], states) == []


def test_flow_rules_fire_and_resolve_their_own_flow_only() -> None:
    alerts = load_settings(alerts={"flow_failed": True}).alerts
    failed = flow_failure(alerts, "ingest", "boom")
    assert failed is not None and failed.measurements[0].firing and not failed.complete
    assert _states([failed], {("flow_failed", "ingest"): "firing"}) == []
    ok = flow_result(alerts, "ingest")
    assert ok is not None
    states = {("flow_failed", "ingest"): "firing", ("flow_failed", "refresh"): "firing"}
    assert _states([ok], states) == [("ingest", "firing", "resolved")]
    assert flow_result(alerts, None) is None


def test_lag_is_judged_per_topic_and_not_without_kafka() -> None:
    alerts = load_settings(alerts={"lag_max_messages": 10}).alerts
    assert lag_result(alerts, None) is None
    result = lag_result(
        alerts, [PartitionRange("fi.spend.disclosures.v1", p, 0, 6) for p in (0, 1)]
    )
    assert result is not None and result.complete
    firing = {m.subject: m.value for m in result.measurements if m.firing}
    assert firing == {"fi.spend.disclosures.v1": 12.0}


class Fake:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail, self.got = name, fail, []

    def send(self, message: Mapping[str, Any]) -> None:
        if self.fail:
            raise NotifyError("down")
        self.got.append(message)


def test_a_burst_of_changes_is_capped_and_summarised() -> None:
    results = [RuleResult("error_finding", tuple(_m(f"f{i:02d}", True) for i in range(25)))]
    changes = state_changes(results, {}, NOW)
    log, hook = Fake("log"), Fake("webhook")
    took = dispatch(changes, [log, hook], max_notifications=20)
    for notifier in (log, hook):
        assert len(notifier.got) == 21
        assert notifier.got[-1]["summary"] and notifier.got[-1]["changes"] == 5
    assert took[changes[0].alert_id] == ["log", "webhook"]
    assert took[changes[-1].alert_id] == ["log:summary", "webhook:summary"]


def test_a_failing_notifier_is_asked_once_and_the_others_still_told(caplog) -> None:
    caplog.set_level(logging.ERROR)
    changes = state_changes([RuleResult("freshness", (_m("a", True), _m("b", True)))], {}, NOW)
    log, hook = Fake("log"), Fake("webhook", fail=True)
    took = dispatch(changes, [hook, log], max_notifications=20)
    assert len(log.got) == 2 and all(v == ["log"] for v in took.values())
    assert caplog.text.count("alert not sent to webhook: down") == 1


JUDGE_AFTER_A_ONE_SHOT_COMMAND = """
import sys
from finradar.commands.alert_rules import judge_after
from finradar.settings import get_settings
from tests.unit.warehouse_inputs import open_lake

settings = get_settings()
open_lake(settings).close()
judge_after(settings, "refresh")
print("prefect imported" if "prefect" in sys.modules else "prefect not imported")
"""


def test_a_one_shot_command_judges_the_alerts_without_importing_prefect(tmp_path: Path) -> None:
    """The CLI's ``ingest --once`` and ``refresh`` run in no flow run: judging the alerts
    after them reaches no Prefect notifier, and importing Prefect would cost every such
    command 1.5 s of CPU."""
    env = {**os.environ, "FINRADAR_VAR_DIR": str(tmp_path / "var")}
    result = subprocess.run(
        [sys.executable, "-c", JUDGE_AFTER_A_ONE_SHOT_COMMAND],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "alerts not evaluated" not in result.stderr, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "prefect not imported", result.stdout
