"""Shared fixtures: settings, the real local Kafka broker, a Prefect test server."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from finradar.settings import Settings, get_settings, load_settings
from tests.fixtures.coverage_report import COVERAGE_REPORT

# The suite's own key for the personal-data hash (an ingest refuses the public default one);
# CLI runs in subprocesses inherit it. Tests of the refusal remove it.
TEST_PII_HASH_KEY = "finradar-test-suite-pii-key"
os.environ.setdefault("FINRADAR_INGEST__PII_HASH_KEY", TEST_PII_HASH_KEY)
# One DuckDB thread per warehouse session: two test workers already share the two cores,
# and on the suite's small warehouses a session is mostly DuckLake's catalog lookups, where
# a second thread only adds scheduling (warehouse.threads: the model and finding tests ran
# in 176 s instead of 307 s). The benchmarks and `make demo` keep DuckDB's default.
os.environ.setdefault("FINRADAR_WAREHOUSE__THREADS", "1")
# Most integration modules start (and some restart) a broker of their own, each serving a
# small load: the client compiler and the serial collector start one and keep it idle on
# less CPU (kafka.jvm_options), and the suite is bound by its two cores. The benchmarks
# and `make demo` keep the default.
os.environ.setdefault(
    "FINRADAR_KAFKA__JVM_OPTIONS", '["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]'
)


@pytest.fixture(scope="session")
def project_settings() -> Settings:
    """The project's settings as a newcomer has them (var/ of this checkout)."""
    return get_settings()


@pytest.fixture()
def tmp_settings(tmp_path: Path) -> Settings:
    """Settings whose var/ is a fresh temporary folder (own warehouse, own Prefect home)."""
    return load_settings(var_dir=tmp_path / "var")


@pytest.fixture(scope="session")
def kafka_bootstrap(project_settings: Settings) -> Iterator[str]:
    """A real Apache Kafka broker: reuse the one running, or start the project's own once.

    Test workers share it (``LocalBroker.up`` starts it once however many ask); the run's
    end stops it if it was not running when the run began (``pytest_sessionfinish``)."""
    from infra.broker import LocalBroker

    LocalBroker(project_settings).up()
    yield project_settings.kafka.bootstrap


def _is_controller(config: pytest.Config) -> bool:
    """The process that outlives every test worker (or runs the tests itself)."""
    return not hasattr(config, "workerinput")


_broker_was_running = pytest.StashKey[bool]()


def pytest_sessionstart(session: pytest.Session) -> None:
    if _is_controller(session.config):
        from infra.broker import LocalBroker

        session.config.stash[_broker_was_running] = LocalBroker(get_settings()).status().running


_session_started = pytest.StashKey[float]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_session_started] = time.time()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    """The fact-sheet coverage the seed-warehouse test measured in this session, if it ran."""
    started = config.stash.get(_session_started, time.time())
    if COVERAGE_REPORT.is_file() and COVERAGE_REPORT.stat().st_mtime >= started:
        terminalreporter.write_sep("-", "fact-sheet coverage")
        terminalreporter.write(COVERAGE_REPORT.read_text(encoding="utf-8"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _is_controller(session.config) and not session.config.stash.get(_broker_was_running, True):
        from infra.broker import LocalBroker

        LocalBroker(get_settings()).down()


def pytest_unconfigure(config: pytest.Config) -> None:
    # Past this point the interpreter exits: Beam's atexit stop of a Prism job server and
    # kafka-python's client threads still log, through Prefect's console handler, to the
    # streams pytest has closed; logging would print each as a "Logging error" traceback.
    logging.raiseExceptions = False


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One real Prefect server (SQLite) for the whole session; starting one takes ~20 s."""
    home = tmp_path_factory.mktemp("prefect-home")
    env = {**load_settings(var_dir=home).prefect_env(), "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from prefect.testing.utilities import prefect_test_harness

    try:
        with prefect_test_harness(server_startup_timeout=180):
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
