"""The project's Prism build behaves as its patches say (``infra/prism_patches.py``).

A worker's control stream can end in two ways that Prism's ``W.Control`` selects between:
its context done, or its receiving goroutine reporting the stream's end. A worker that
ends the stream from its own side (the SDK harness's responses run out) takes the second
way every time, which a killed worker takes now and then: Beam's own Prism then left the
worker's running bundle waiting forever, so the job never ended. The patched one fails it.
"""

from __future__ import annotations

import gc
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.worker.sdk_worker import SdkHarness
from apache_beam.utils.sentinel import Sentinel

from finradar.settings import Settings
from infra import prism
from pipelines.portable import bounded_job_runner

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("go") is None,
        reason="Go (go) is not installed: Beam's Prism runner is built from source with it",
    ),
    # the first run builds Prism (about five minutes) inside the first test's set-up
    pytest.mark.timeout(1500),
]

# what bounds the job here: the unpatched Prism would have it run until then
JOB_TIMEOUT_S = 60
_released = threading.Event()


class _EndOwnControlStreamFn(beam.DoFn):
    """Ends the control stream of the SDK harness it runs in (LOOPBACK: in this process),
    from the harness's side, while its own bundle still runs; then waits to be released."""

    def process(self, element: Any) -> Iterator[Any]:
        for harness in [o for o in gc.get_objects() if isinstance(o, SdkHarness)]:
            if harness._alive:
                harness._responses.put(Sentinel.sentinel)
        _released.wait(JOB_TIMEOUT_S)
        yield element


@pytest.fixture(scope="module")
def prism_location(project_settings: Settings) -> Path:
    return prism.prism_binary(project_settings)


def test_a_bundle_whose_workers_control_stream_ended_fails_the_job(prism_location):
    options = PipelineOptions(
        [
            f"--prism_location={prism_location}",
            "--prism_log_level=error",
            "--environment_type=LOOPBACK",
        ]
    )
    runner = bounded_job_runner("PrismRunner", JOB_TIMEOUT_S)
    started = time.monotonic()
    try:
        with (
            pytest.raises(RuntimeError, match="SDK worker disconnected"),
            beam.Pipeline(runner=runner, options=options) as p,
        ):
            _ = p | beam.Create([1]) | beam.ParDo(_EndOwnControlStreamFn())
    finally:
        _released.set()
    # failed once the stream ended (Beam's own Prism: JobTimedOut, at JOB_TIMEOUT_S)
    assert time.monotonic() - started < JOB_TIMEOUT_S
