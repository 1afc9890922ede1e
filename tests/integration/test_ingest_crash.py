"""Crash safety and read isolation of the ingest, on a broker of its own (small volume).

SIGKILL at named points of a run (GX set-up, files staged, Data Docs, inside the warehouse
transaction, just after the commit), and at random moments, then a rerun, must give exactly
the warehouse of an undisturbed run; a reader process querying during ingest passes never
sees landed rows without their offsets.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from subprocess import DEVNULL

import pytest

from contracts.corpus import seed_corpus
from finradar.settings import Settings, load_settings
from infra.producing import corpus_messages, publish, publish_synthetic
from pipelines.ingest import run_once
from tests.integration.cli_runner import finradar_env
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
    publish(corpus_messages(), settings.kafka)
    publish_synthetic(N_SYNTHETIC, 0.05, 7, settings.kafka, workers=1)
    yield settings
    broker.down(purge=True)


def _warehouse(settings: Settings, name: str) -> Settings:
    return load_settings(var_dir=settings.var.parent / name, kafka=KAFKA)


INGEST = [sys.executable, "-m", "finradar", "ingest", "--once"]


@pytest.fixture(scope="module")
def reference(stack: Settings) -> tuple[Settings, float]:
    """An undisturbed ``finradar ingest --once``: its settings, and the seconds it took."""
    settings = _warehouse(stack, "reference")
    started = time.monotonic()
    subprocess.run(INGEST, env=finradar_env(settings), capture_output=True, check=True, timeout=900)
    return settings, time.monotonic() - started


@pytest.mark.parametrize(
    "failpoint", ["gx_setup", "staged", "data_docs", "in_transaction", "committed"]
)
def test_sigkill_then_rerun_gives_the_same_warehouse(stack, reference, failpoint):
    settings = _warehouse(stack, f"crash-{failpoint}")
    crashed = subprocess.run(
        INGEST, env=finradar_env(settings, failpoint), capture_output=True, text=True, timeout=900
    )
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    if failpoint != "committed":
        assert not settings.catalog_path.exists() or contents(settings)["offsets"] == []
    rerun = run_once(settings)
    assert rerun.consumed == (0 if failpoint == "committed" else N_SYNTHETIC + len(seed_corpus()))
    assert contents(settings) == contents(reference[0])


def test_sigkill_at_random_moments_then_rerun_gives_the_same_warehouse(stack, reference):
    """Ten kills at random moments of a pass (seeded), and one each in GX set-up and in
    the Data Docs build, all on one warehouse and GX project; then an undisturbed run."""
    pass_s = reference[1]
    settings = _warehouse(stack, "random-kills")
    rng = random.Random(2026)
    moments: list[str | float] = ["gx_setup", "data_docs"]
    moments += [rng.uniform(0.05, 0.95) * pass_s for _ in range(10)]
    for moment in moments:
        if isinstance(moment, str):
            crashed = subprocess.run(
                INGEST, env=finradar_env(settings, moment), capture_output=True, timeout=900
            )
            assert crashed.returncode == -9, crashed.stderr[-2000:]
            continue
        ingest = subprocess.Popen(
            INGEST, env=finradar_env(settings), stdout=DEVNULL, stderr=DEVNULL
        )
        time.sleep(moment)
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(timeout=60)
    final = subprocess.run(
        INGEST, env=finradar_env(settings), capture_output=True, text=True, timeout=900
    )
    assert final.returncode == 0, final.stderr[-3000:]
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
            publish_synthetic(2000, 0.05, seed, settings.kafka, workers=1)
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
