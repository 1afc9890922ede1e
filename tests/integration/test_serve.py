"""`finradar serve` on a real local Prefect server and broker: events produced while it runs
reach the marts on the next scheduled cycles with no manual step; SIGTERM stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from finradar.settings import Settings, load_settings
from infra.producing import corpus_messages, publish, publish_synthetic
from tests.integration import browser
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
        # each scheduled run is a process of its own (Prefect's runner) that imports the
        # pipeline even when it finds nothing, on cores the other test workers share
        "FINRADAR_PREFECT__INGEST_EVERY_S": "20",
        "FINRADAR_PREFECT__REFRESH_EVERY_S": "30",
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


def _api(settings_port: int, path: str, body: dict) -> list[dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings_port}/api{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_the_prefect_ui_shows_the_deployments_and_a_finished_ingest_run(serving) -> None:
    """Headless Chromium on the UI ``finradar serve`` printed: the deployments, a completed
    ingest run of the schedule, and the artifacts that run left."""
    settings, _ = serving
    ui = f"http://127.0.0.1:{PREFECT_PORT}"
    deadline = time.monotonic() + 60
    while f"Prefect UI: {ui}" not in settings.var.parent.joinpath("serve.log").read_text():
        assert time.monotonic() < deadline, "serve did not print the UI's address"
        time.sleep(1)
    deployments = browser.page_text(f"{ui}/deployments", showing="scheduled report")
    for name in ("ingest", "refresh", "report", "follow", "replay", "backfill"):
        assert f"{name}" in deployments, deployments[:2000]
    assert "scheduled ingest" in deployments and "Every 20 seconds" in deployments
    assert "on-demand replay" in deployments

    with_artifacts = _finished_ingest_runs()
    deadline = time.monotonic() + 120
    while all(keys for _, keys in with_artifacts):
        # the scheduled runs that find nothing new (every 20 s here) leave no artifact: a
        # minute's worth of them would be two artifacts a minute that say nothing
        assert time.monotonic() < deadline, "no ingest run that found nothing new"
        time.sleep(5)
        with_artifacts = _finished_ingest_runs()
    run, keys = next((r, k) for r, k in with_artifacts if "ingest-summary" in k)
    assert keys == {"ingest-summary", "ingest-quarantine-reasons", "ingest-progress"}
    page = browser.page_text(f"{ui}/runs/flow-run/{run['id']}", showing="Deployment")
    assert run["name"] in page and "Completed" in page, page[:2000]
    assert "Flow ingest" in page and "Deployment scheduled" in page
    summaries = browser.page_text(f"{ui}/artifacts/key/ingest-summary", showing=run["name"])
    assert "what the pass did" in summaries and run["name"] in summaries, summaries[:2000]


def _finished_ingest_runs() -> list[tuple[dict, set[str]]]:
    """The completed runs of the ingest flow, newest first, each with the keys of its
    artifacts (the newest is the one an artifact's page shows first)."""
    runs = _api(
        PREFECT_PORT,
        "/flow_runs/filter",
        {
            "flows": {"name": {"any_": ["ingest"]}},
            "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
            "sort": "EXPECTED_START_TIME_DESC",
        },
    )
    of_run = [{"artifacts": {"flow_run_id": {"any_": [run["id"]]}}} for run in runs]
    return [
        (run, {a["key"] for a in _api(PREFECT_PORT, "/artifacts/filter", query)})
        for run, query in zip(runs, of_run, strict=True)
    ]


def test_sigterm_stops_the_server_it_started(serving) -> None:
    settings, process = serving
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert process.returncode == 0
    log = settings.var.parent.joinpath("serve.log").read_text()
    assert "serve: SIGTERM, stopping" in log and "serve: stopped" in log
    # the runs in progress finish: a stop is no failure to alert on
    assert "FIRING" not in log.split("serve: SIGTERM")[1], log[-3000:]
    assert "Traceback" not in log and "RuntimeWarning" not in log, log[-3000:]
    from infra.prefect_server import LocalPrefectServer

    assert not LocalPrefectServer(load_settings(prefect={"server_port": PREFECT_PORT})).healthy()
