"""`finradar serve` on a real local Prefect server and broker: events produced while it runs
reach the marts on the next scheduled cycles with no manual step; SIGTERM stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from finradar.settings import Settings, load_settings
from infra.producing import corpus_messages, publish, publish_synthetic
from warehouse.lake import connect

pytestmark = pytest.mark.integration

KAFKA = {"port": 29492, "controller_port": 29493}
PREFECT_PORT = 29450


@pytest.fixture(scope="module")
def serving(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Settings, subprocess.Popen]]:
    from infra.broker import LocalBroker

    var = tmp_path_factory.mktemp("serve") / "var"
    settings = load_settings(var_dir=var, kafka=KAFKA)
    broker = LocalBroker(settings)
    broker.up()
    env = {
        **os.environ,
        "FINRADAR_VAR_DIR": str(var),
        "FINRADAR_KAFKA__PORT": str(KAFKA["port"]),
        "FINRADAR_KAFKA__CONTROLLER_PORT": str(KAFKA["controller_port"]),
        "FINRADAR_PREFECT__SERVER_PORT": str(PREFECT_PORT),
        "FINRADAR_PREFECT__INGEST_EVERY_S": "10",
        "FINRADAR_PREFECT__REFRESH_EVERY_S": "20",
    }
    env.pop("PREFECT_API_URL", None)
    log = (var.parent / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "finradar", "serve"], env=env, stdout=log, stderr=log
    )
    try:
        yield settings, process
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
        broker.down(purge=True)


def _wait_for(settings: Settings, sql: str, expected: int, timeout: float) -> float:
    """Seconds until ``sql`` returns ``expected``."""
    start = time.monotonic()
    value = None
    while time.monotonic() - start < timeout:
        if settings.catalog_path.exists():
            con = connect(settings, read_only=True)
            try:
                value = con.execute(sql).fetchone()[0]
            except Exception:  # marts not built yet
                value = None
            finally:
                con.close()
            if value == expected:
                return time.monotonic() - start
        time.sleep(2)
    raise AssertionError(f"{sql} gave {value}, not {expected}, after {timeout:.0f} s")


def test_new_events_reach_the_marts_without_a_manual_step(serving) -> None:
    settings, process = serving
    publish(corpus_messages(), settings.kafka)
    _wait_for(settings, "select count(*) from marts.spend_series", 98, timeout=240)

    report = publish_synthetic(500, 0.0, 11, settings.kafka, workers=1)
    spend = 100 + report.by_topic["fi.spend.disclosures.v1"]
    _wait_for(settings, "select count(*) from raw.spend_disclosures", spend, timeout=120)
    con = connect(settings, read_only=True)
    try:
        (figures,) = con.execute(
            "select count(distinct figure_key) from staging.spend_disclosures"
        ).fetchone()
    finally:
        con.close()
    assert figures > 98
    _wait_for(settings, "select count(*) from marts.spend_series", figures, timeout=120)
    assert process.poll() is None


def test_sigterm_stops_the_server_it_started(serving) -> None:
    _, process = serving
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    from infra.prefect_server import LocalPrefectServer

    assert not LocalPrefectServer(load_settings(prefect={"server_port": PREFECT_PORT})).healthy()
