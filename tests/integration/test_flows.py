"""The Prefect flows on a real Prefect server, a broker of their own and a real DuckLake:
artifacts, the one-writer concurrency limit, and retries for transient failures only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from finradar.producing import corpus_messages, publish
from finradar.settings import Settings, get_settings, load_settings

pytestmark = pytest.mark.integration

KAFKA = {"port": 29392, "controller_port": 29393}


def _use(monkeypatch: pytest.MonkeyPatch, var: Path, **env: str) -> Settings:
    """Point the flows' settings (read from the environment) at ``var``."""
    monkeypatch.setenv("FINRADAR_VAR_DIR", str(var))
    monkeypatch.setenv("FINRADAR_KAFKA__PORT", str(KAFKA["port"]))
    monkeypatch.setenv("FINRADAR_KAFKA__CONTROLLER_PORT", str(KAFKA["controller_port"]))
    monkeypatch.setenv("FINRADAR_PREFECT__RETRY_DELAY_S", "0.2")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    yield
    get_settings.cache_clear()  # the environment is restored after each test


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    from infra.broker import LocalBroker

    settings = load_settings(var_dir=tmp_path_factory.mktemp("flows") / "var", kafka=KAFKA)
    local = LocalBroker(settings)
    local.up()
    publish(corpus_messages(), settings.kafka.bootstrap)
    yield settings
    local.down(purge=True)


def _artifact(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    assert found, f"no artifact {key}"
    return str(found[-1].data)


def _task_attempts(flow_run_id) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {r.name.rsplit("-", 1)[0]: r.run_count for r in runs}


def test_ingest_then_refresh_leave_artifacts(prefect_server, broker, monkeypatch) -> None:
    from flows.ingest import ingest
    from flows.policy import WRITER_LIMIT
    from flows.refresh import refresh

    _use(monkeypatch, broker.var)
    result = ingest()
    assert (result["consumed"], result["landed"], result["lag"]) == (408, 408, 0)
    assert "| 408 | 408 | 0 | 0 |" in _artifact("ingest-summary")

    again = ingest()
    assert again["consumed"] == 0

    refreshed = refresh()
    assert refreshed["findings_by_rule"] == {"scope_mixed_rollup": 1, "yoy_mismatch": 15}
    assert "`yoy_mismatch` | 15" in _artifact("refresh-summary")

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
    assert limit.limit == 1 and limit.active_slots == 0


def test_busy_warehouse_is_retried_until_free(prefect_server, broker, tmp_path, monkeypatch):
    """Another process holding the ingest lock is transient: the pass waits it out."""
    from flows.ingest import ingest
    from warehouse.locks import file_lock

    settings = _use(monkeypatch, tmp_path / "var", FINRADAR_PREFECT__TASK_RETRIES="8")
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with file_lock(settings.warehouse_dir / "ingest.lock", "the test"):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    threading.Timer(5.0, release.set).start()  # well after the first attempt
    state = ingest(return_state=True)
    holder.join()
    assert state.is_completed(), state
    assert state.result()["landed"] == 408
    attempts = _task_attempts(state.state_details.flow_run_id)
    assert attempts["ingest-pass"] >= 2


def test_a_permanent_failure_is_not_retried(prefect_server, broker, tmp_path, monkeypatch):
    """A warehouse that cannot be opened fails the run at the first attempt."""
    from flows.ingest import ingest

    settings = _use(monkeypatch, tmp_path / "var", FINRADAR_PREFECT__TASK_RETRIES="3")
    settings.catalog_path.mkdir(parents=True)  # a folder where the catalog file should be
    state = ingest(return_state=True)
    assert state.is_failed()
    attempts = _task_attempts(state.state_details.flow_run_id)
    assert attempts["ingest-pass"] == 1
