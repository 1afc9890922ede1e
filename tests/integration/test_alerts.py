"""Alerts end to end: real ingest passes into a temporary DuckLake, a broker of its own, and
a local HTTP receiver as the webhook. A quarantine spike and a stale topic each fire exactly
one webhook and resolve with one more; judging again without change sends nothing; every
change is in ``dq.alerts`` and in the report's alerts section; a failed flow run fires once."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from contracts.spec import topics_by_event_type
from contracts.synthetic import SyntheticStream
from finradar.settings import Settings, get_settings, load_settings
from infra import kafka_clients
from pipelines.ingest import run_once
from pipelines.planning import consumer_lag
from warehouse.lake import connect
from warehouse.refresh import refresh
from warehouse.report.build import render
from warehouse.schema import create_all

pytestmark = pytest.mark.integration

TOPICS = topics_by_event_type()
SPEND, MILESTONES = TOPICS["spend_disclosure"], TOPICS["deployment_milestone"]
TOKEN_PATH = "/hooks/T0KEN-in-the-path-8c1f"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """A webhook on 127.0.0.1: keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{TOKEN_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take(self) -> list[tuple[str, str, str]]:
        """(rule, subject, state) of what arrived since the last call."""
        got = [(b["rule"], b["subject"], b["state"]) for b in self.bodies]
        self.bodies.clear()
        return got


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, project_settings: Settings, receiver: Receiver
) -> Iterator[Settings]:
    """A broker of its own on free ports, and settings whose webhook is the receiver."""
    from infra.broker import LocalBroker

    settings = load_settings(
        var_dir=tmp_path_factory.mktemp("alerts") / "var",
        cache_dir=project_settings.cache,
        kafka={"port": _free_port(), "controller_port": _free_port(), "heap": "256m"},
        alerts={
            "webhook_url": receiver.url,
            "webhook_backoff_s": 0.01,
            "quarantine_rate_max": 0.2,
            "quarantine_min_messages": 20,
            "freshness_sla_s": 0,  # other topics are not judged
            "freshness_sla_by_topic": {SPEND: 3600, MILESTONES: 3600},
        },
    )
    broker = LocalBroker(settings)
    broker.up()
    yield settings
    broker.down(purge=True)


def _good(topic: str, n: int, skip: int = 0) -> list[tuple[bytes, bytes]]:
    """``n`` valid synthetic events of ``topic`` (after the first ``skip``): distinct ids."""
    out = [
        (m.key, m.value)
        for m in SyntheticStream(4000, bad_rate=0.0, seed=19)
        if m.topic == topic and m.expected == "land"
    ]
    assert len(out) >= skip + n
    return out[skip : skip + n]


def _produce(settings: Settings, topic: str, messages, timestamp_ms: int | None = None) -> None:
    producer = kafka_clients.producer(settings.kafka, "test-alerts")
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value, timestamp_ms=timestamp_ms)
        producer.flush()
    finally:
        producer.close()


def _ingest_and_judge(settings: Settings) -> list[tuple[str, str, str]]:
    from flows.alerting import evaluate_and_notify

    summary = run_once(settings)
    assert summary.consumed > 0
    changes = evaluate_and_notify(settings, lag=consumer_lag(settings))
    return [(c.rule, c.subject, c.state) for c in changes]


def _alert_rows(settings: Settings) -> list[tuple]:
    con = connect(settings, read_only=True)
    try:
        return con.execute(
            "select rule, subject, previous_state, state, notified from dq.alerts "
            "order by changed_at, rule, subject"
        ).fetchall()
    finally:
        con.close()


def _section(settings: Settings) -> str:
    """The alerts section of the finradar report's page, as ``finradar report`` renders it
    (after a refresh: the page's other sections read the marts)."""
    refresh(settings)
    con = connect(settings, read_only=True)
    try:
        page = render(con)
    finally:
        con.close()
    start = page.index('<section id="alerts">')
    return page[start : page.index("</section>", start) + len("</section>")]


def test_spike_and_stale_topic_each_fire_once_and_resolve_once(
    stack: Settings, receiver: Receiver
) -> None:
    from flows.alerting import evaluate_and_notify

    started = time.monotonic()
    # a quarantine spike on one topic: 30 of 70 messages are not JSON
    _produce(stack, SPEND, _good(SPEND, 40) + [(b"k", b"{not json")] * 30)
    assert _ingest_and_judge(stack) == [("quarantine_rate", SPEND, "firing")]
    assert receiver.take() == [("quarantine_rate", SPEND, "firing")]
    html = _section(stack)
    assert f"firing</td><td>quarantine_rate</td><td>{SPEND}</td>" in html

    # judged again with nothing new: no change, no notification, no row
    assert evaluate_and_notify(stack) == []
    assert receiver.take() == []

    # clean batches bring the window's rate to 30 / 470, under the 20% bound
    _produce(stack, SPEND, _good(SPEND, 400, skip=40))
    assert _ingest_and_judge(stack) == [("quarantine_rate", SPEND, "resolved")]
    assert receiver.take() == [("quarantine_rate", SPEND, "resolved")]

    # events of another topic stamped two hours ago: older than its one-hour SLA
    two_hours_ago = int((time.time() - 7200) * 1000)
    _produce(stack, MILESTONES, _good(MILESTONES, 10), timestamp_ms=two_hours_ago)
    assert _ingest_and_judge(stack) == [("freshness", MILESTONES, "firing")]
    assert receiver.take() == [("freshness", MILESTONES, "firing")]
    assert evaluate_and_notify(stack) == []
    assert receiver.take() == []

    _produce(stack, MILESTONES, _good(MILESTONES, 5, skip=10))
    assert _ingest_and_judge(stack) == [("freshness", MILESTONES, "resolved")]
    assert receiver.take() == [("freshness", MILESTONES, "resolved")]

    assert _alert_rows(stack) == [
        ("quarantine_rate", SPEND, "ok", "firing", ["log", "webhook"]),
        ("quarantine_rate", SPEND, "firing", "resolved", ["log", "webhook"]),
        ("freshness", MILESTONES, "ok", "firing", ["log", "webhook"]),
        ("freshness", MILESTONES, "firing", "resolved", ["log", "webhook"]),
    ]
    html = _section(stack)
    assert 'data-state="firing"' not in html
    for rule, subject in (("quarantine_rate", SPEND), ("freshness", MILESTONES)):
        assert f"resolved lately</td><td>{rule}</td><td>{subject}</td>" in html, (
            f"{rule} {subject} not amber in the report"
        )
    assert "never fired" in html  # the rules that did not fire show as ok
    assert time.monotonic() - started < 120


def test_a_failed_flow_run_fires_once_and_its_next_good_run_resolves(
    prefect_server, stack: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.alerting import on_flow_failure
    from flows.ingest import ingest
    from flows.refresh import refresh

    assert (
        on_flow_failure in ingest.on_crashed_hooks and on_flow_failure in refresh.on_failure_hooks
    )
    receiver.take()
    # the flows read their settings from the environment
    for key, value in {
        "FINRADAR_VAR_DIR": str(stack.var),
        "FINRADAR_KAFKA__PORT": str(stack.kafka.port),
        "FINRADAR_KAFKA__CONTROLLER_PORT": str(stack.kafka.controller_port),
        "FINRADAR_ALERTS__WEBHOOK_URL": receiver.url,
        "FINRADAR_ALERTS__FRESHNESS_SLA_S": "0",
        "FINRADAR_ALERTS__QUARANTINE_RATE_MAX": "0.2",
        # the public key: the run fails at once, and is not retried
        "FINRADAR_INGEST__PII_HASH_KEY": "finradar-local-development-key",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        for _ in range(2):  # two failed runs in a row: one notification
            with pytest.raises(Exception, match="public default key"):
                ingest()
        assert receiver.take() == [("flow_failed", "ingest", "firing")]
        monkeypatch.setenv("FINRADAR_INGEST__ALLOW_DEFAULT_PII_KEY", "true")
        get_settings.cache_clear()
        assert ingest()["consumed"] == 0
    finally:
        get_settings.cache_clear()
    assert receiver.take() == [("flow_failed", "ingest", "resolved")]
    rows = [r for r in _alert_rows(stack) if r[0] == "flow_failed"]
    assert [(r[2], r[3]) for r in rows] == [("ok", "firing"), ("firing", "resolved")]
    # inside a flow run, each change is also a Prefect event
    assert all(r[4] == ["log", "webhook", "prefect-event"] for r in rows)


def test_a_warehouse_from_before_dq_alerts_gets_it(tmp_path: Path) -> None:
    from flows.alerting import evaluate_and_notify

    settings = load_settings(var_dir=tmp_path / "var")
    con = connect(settings)
    create_all(con)
    con.execute("drop table dq.alerts")  # a warehouse made before the table
    con.close()
    assert evaluate_and_notify(settings) == []
    assert _alert_rows(settings) == []
