"""Crash safety and read isolation of the ingest, on a broker of its own (small volume).

SIGKILL at three points of a run (files staged, inside the warehouse transaction, just
after the commit), then a rerun, must give exactly the warehouse of an undisturbed run; a
reader process querying during ingest passes never sees landed rows without their offsets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contracts.corpus import seed_corpus
from finradar.settings import Settings, load_settings
from infra.producing import corpus_messages, publish, publish_synthetic
from pipelines.ingest import run_once
from tests.integration.test_ingest import contents

pytestmark = pytest.mark.integration

N_SYNTHETIC = 5_000
KAFKA = {"port": 29192, "controller_port": 29193}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    from infra.broker import LocalBroker

    var = tmp_path_factory.mktemp("ingest-crash") / "var"
    settings = load_settings(var_dir=var, kafka=KAFKA)
    broker = LocalBroker(settings)
    broker.up()
    publish(corpus_messages(), settings.kafka.bootstrap)
    publish_synthetic(N_SYNTHETIC, 0.05, 7, settings.kafka.bootstrap, workers=1)
    yield settings
    broker.down(purge=True)


def _warehouse(settings: Settings, name: str) -> Settings:
    return load_settings(var_dir=settings.var.parent / name, kafka=KAFKA)


@pytest.fixture(scope="module")
def reference(stack: Settings):
    settings = _warehouse(stack, "reference")
    return settings, run_once(settings)


@pytest.mark.parametrize("failpoint", ["staged", "in_transaction", "committed"])
def test_sigkill_then_rerun_gives_the_same_warehouse(stack, reference, failpoint):
    settings = _warehouse(stack, f"crash-{failpoint}")
    env = {
        **os.environ,
        "FINRADAR_VAR_DIR": str(settings.var),
        "FINRADAR_KAFKA__PORT": str(KAFKA["port"]),
        "FINRADAR_KAFKA__CONTROLLER_PORT": str(KAFKA["controller_port"]),
        "FINRADAR_INGEST__FAILPOINT": failpoint,
    }
    crashed = subprocess.run(
        [sys.executable, "-m", "finradar", "ingest", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    if failpoint != "committed":
        assert not settings.catalog_path.exists() or contents(settings)["offsets"] == []
    rerun = run_once(settings)
    assert rerun.consumed == (0 if failpoint == "committed" else N_SYNTHETIC + len(seed_corpus()))
    assert contents(settings) == contents(reference[0])


def test_reader_never_sees_rows_without_their_offsets(stack, tmp_path: Path):
    settings = _warehouse(stack, "reader")
    reader = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("lake_reader.py")), str(settings.var)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        run_once(settings)
        for seed in (8, 9):  # more passes: the reader crosses several commits
            publish_synthetic(2000, 0.05, seed, settings.kafka.bootstrap, workers=1)
            run_once(settings)
    finally:
        reader.terminate()
    out = reader.communicate(timeout=60)[0]
    checks = [json.loads(line) for line in out.splitlines()]
    assert checks, "the reader never read"
    assert all(c["consistent"] for c in checks), [c for c in checks if not c["consistent"]][:3]
    states = {(c["rows"], c["offsets"]) for c in checks if "rows" in c}
    errors = [c["error"] for c in checks if "error" in c]
    assert len(states) > 2, ("the reader must have watched several commits", errors[-3:])
