"""The Prefect flows on a real Prefect server, a broker of their own and a real DuckLake:
artifacts, the one-writer concurrency limit, retries for transient failures only, and the
report they write, rendered in headless Chromium with the network off."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.corpus import seed_corpus
from finradar.settings import Settings, get_settings, load_settings
from infra.producing import corpus_messages, publish, publish_synthetic
from tests.integration import browser

pytestmark = pytest.mark.integration

KAFKA = {"port": 29392, "controller_port": 29393}
SYNTHETIC = 1_000


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
    """A broker of its own with the seed corpus and 1,000 synthetic events, 5 % bad."""
    from infra.broker import LocalBroker

    settings = load_settings(var_dir=tmp_path_factory.mktemp("flows") / "var", kafka=KAFKA)
    local = LocalBroker(settings)
    local.up()
    publish(corpus_messages(), settings.kafka)
    publish_synthetic(SYNTHETIC, 0.05, 3, settings.kafka, workers=1)
    yield settings
    local.down(purge=True)


@pytest.fixture(scope="module")
def flow_runs(prefect_server, broker: Settings) -> Iterator[dict[str, Any]]:
    """ingest → ingest again → refresh → report, through Prefect, on the broker's events."""
    from flows.ingest import ingest
    from flows.refresh import refresh
    from flows.report import report

    with pytest.MonkeyPatch.context() as monkeypatch:
        _use(monkeypatch, broker.var)
        try:
            yield {
                "ingest": ingest(),
                "again": ingest(),
                "refresh": refresh(),
                "report": Path(report()),
            }
        finally:
            get_settings.cache_clear()


def _artifact(key: str) -> str:
    """Every version of the keyed artifact (one per run), newest last."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    assert found, f"no artifact {key}"
    return "\n".join(str(a.data) for a in sorted(found, key=lambda a: a.created))


def _task_attempts(flow_run_id) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {r.name.rsplit("-", 1)[0]: r.run_count for r in runs}


def test_ingest_leaves_its_summary_and_quarantine_reasons(flow_runs) -> None:
    first = flow_runs["ingest"]
    assert first["consumed"] == len(seed_corpus()) + SYNTHETIC and first["lag"] == 0
    assert first["quarantined"] > 0
    assert first["consumed"] == first["landed"] + first["duplicates"] + first["quarantined"]
    assert f"| {first['consumed']:,} | {first['landed']:,} |" in _artifact("ingest-summary")
    reasons = _artifact("ingest-quarantine-reasons")
    assert all(reason in reasons for reason in first["by_reason"])
    assert flow_runs["again"]["consumed"] == 0


def test_refresh_leaves_findings_by_rule(flow_runs) -> None:
    findings = flow_runs["refresh"]["findings_by_rule"]
    # the seed reports' own errors are among them
    assert findings["yoy_shifted"] >= 3 and findings["yoy_mismatch"] >= 3
    assert findings["scope_mixed_rollup"] == 1 and findings["copied_figure"] >= 1
    assert f"`yoy_mismatch` | {findings['yoy_mismatch']}" in _artifact("refresh-summary")


def test_one_writer_slot_and_it_is_free_again(flow_runs) -> None:
    from prefect.client.orchestration import get_client

    from flows.policy import WRITER_LIMIT

    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
    assert limit.limit == 1 and limit.active_slots == 0


def test_report_fetches_nothing(flow_runs) -> None:
    path = flow_runs["report"]
    assert str(path) in _artifact("report")
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html
    assert set(re.findall(r'data-chart="([^"]+)"', html)) == browser.CHARTS


def test_report_renders_every_chart_in_headless_chromium(flow_runs) -> None:
    path = flow_runs["report"]
    measured = browser.measure_charts(path)
    assert set(measured) == browser.CHARTS
    for chart, box in measured.items():
        assert box["width"] > 100 and box["height"] > 20, (chart, box)
        assert box["drawn"] >= 1, (chart, box)
    screenshot = browser.screenshot(path)
    assert screenshot.stat().st_size > 50_000
    print(f"\nreport screenshot: {screenshot}")


def test_report_shows_names_a_heatmap_and_working_filters(flow_runs) -> None:
    """Names, not ids or codes, in what a reader sees; the maturity heatmap with its legend;
    and the filters, typed into in headless Chromium, hide the rows and cells they should."""
    path = flow_runs["report"]
    page = path.read_text(encoding="utf-8")
    seen = browser.visible_text(path)
    dom = browser.page_text(path.as_uri(), "finradar report")  # tooltips too
    for text in (seen, dom):
        assert not re.search(r"\b(cn|syn)\.[a-z]", text), re.findall(r"\S*(?:cn|syn)\.\S*", text)
        assert not re.search(r"\b(ai_aigc|digital_operations|risk_control|tech_domains)", text)
    assert "Six large state-owned banks" in seen and "China Construction Bank" in seen
    assert "Banking" in seen and "Risk control" in seen
    heat = re.search(r'data-chart="maturity-heatmap".*?</figure>', page, re.S).group(0)
    assert heat.count('class="mark"') >= 20 and "Planning" in heat and 'class="legend"' in heat
    # the rule of fewest rows among the findings shown: typing it keeps exactly its rows
    rules = [
        m.group(1)
        for m in re.finditer(r'<tr class="finding \w+"[^>]*><td>\w+</td><td>(\w+)<', page)
    ]
    assert len(set(rules)) > 1, rules
    rule = min(sorted(set(rules)), key=rules.count)
    tried = browser.try_filters(path, rule, "bank")
    assert tried["rows"] == len(rules)
    assert tried["typed"] and all(rule in row for row in tried["typed"])
    assert len(tried["typed"]) < tried["rows"]
    assert "bank" in tried["types"] and set(tried["type_rows"]) <= {"bank"}
    assert tried["type_cells"] and set(tried["type_cells"]) == {"bank"}
    assert len(tried["type_cells"]) < tried["cells"]


def test_busy_warehouse_is_retried_until_free(flow_runs, broker, tmp_path, monkeypatch):
    """Another process holding the ingest lock is transient: the pass waits for it (for
    ``ingest.writer_wait_s``, here shorter than the hold), fails as busy, and is retried
    until the lock is free."""
    from flows.ingest import ingest
    from warehouse.locks import file_lock, waiting_dir

    settings = _use(
        monkeypatch,
        tmp_path / "var",
        FINRADAR_PREFECT__TASK_RETRIES="8",
        FINRADAR_INGEST__WRITER_WAIT_S="1",
    )
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with file_lock(settings.warehouse_dir / "ingest.lock", "the test"):
            held.set()
            release.wait()

    def release_after_first_attempt_gave_up() -> None:
        # the pass announces itself in the lock's waiting folder while it waits and leaves
        # it when it gives up: only then is the lock let go, however slow the machine
        waiting = waiting_dir(settings.warehouse_dir / "ingest.lock")
        first: list[Path] = []
        while not release.is_set() and not first:
            first = sorted(waiting.glob("*"))
            time.sleep(0.05)
        while not release.is_set() and first[0].exists():
            time.sleep(0.05)
        release.set()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    threading.Thread(target=release_after_first_attempt_gave_up, daemon=True).start()
    deadline = threading.Timer(300.0, release.set)  # never hang the suite
    deadline.daemon = True
    deadline.start()
    state = ingest(return_state=True)
    deadline.cancel()
    holder.join()
    assert state.is_completed(), state
    # a fresh warehouse over the same topics lands exactly what the first one did
    assert state.result()["landed"] == flow_runs["ingest"]["landed"]
    attempts = _task_attempts(state.state_details.flow_run_id)
    assert attempts["ingest-pass"] >= 2


def test_a_permanent_failure_is_not_retried(flow_runs, broker, tmp_path, monkeypatch):
    """A warehouse that cannot be opened fails the run at the first attempt."""
    from flows.ingest import ingest

    settings = _use(monkeypatch, tmp_path / "var", FINRADAR_PREFECT__TASK_RETRIES="3")
    settings.catalog_path.mkdir(parents=True)  # a folder where the catalog file should be
    state = ingest(return_state=True)
    assert state.is_failed()
    attempts = _task_attempts(state.state_details.flow_run_id)
    assert attempts["ingest-pass"] == 1
