"""The runner of a pass: worker processes for a large pass, with their output in a log, and
its commit made once they have ended."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import grpc
import pytest
from apache_beam.portability.api import beam_job_api_pb2
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.runners.portability.portable_runner import PortableRunner
from apache_beam.runners.portability.prism_runner import PrismRunner

from finradar.settings import load_settings
from infra.prism import prism_dir
from pipelines.portable import JobService, JobTimedOut
from pipelines.runners import (
    commits_after_pipeline,
    lands_in_this_process,
    pass_runner,
    pipeline_options,
)


def _settings(tmp_path: Path, **beam: object):
    return load_settings(var_dir=tmp_path / "var", beam={"parallel_from": 1000, **beam})


def test_a_large_pass_runs_in_worker_processes_whose_output_goes_to_the_log(tmp_path):
    settings = _settings(tmp_path)
    options = pipeline_options(settings, 1000)
    every = options.get_all_options()
    assert every["direct_num_workers"] == settings.beam.workers == 2
    assert not lands_in_this_process(options)
    # the workers stop with the pipeline; this process commits after them
    assert commits_after_pipeline(options)
    runner = pass_runner(settings, options)
    assert isinstance(runner, FnApiRunner)
    command = runner._default_environment.command_string
    assert "apache_beam.runners.worker.sdk_worker_main" in command
    assert command.endswith(f">>{settings.beam_worker_log} 2>&1")
    # the terminal's Ctrl-C is the command's to act on, not its workers' (a pass finishes)
    assert command.startswith("trap '' INT; MALLOC_ARENA_MAX=2 ARROW_DEFAULT_MEMORY_POOL=system ")
    assert settings.beam_worker_log.parent.is_dir()


def test_a_small_or_gated_pass_runs_in_this_process(tmp_path):
    settings = _settings(tmp_path)
    for options in (pipeline_options(settings, 999), pipeline_options(settings, 10**6, True)):
        assert options.get_all_options()["direct_num_workers"] == 1
        assert lands_in_this_process(options)
        assert not commits_after_pipeline(options)
        assert pass_runner(settings, options) == "FnApiRunner"


def test_beams_own_running_mode_is_left_to_beam(tmp_path):
    settings = _settings(
        tmp_path, options=["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    )
    options = pipeline_options(settings, 10**6)
    assert pass_runner(settings, options) == "FnApiRunner"
    assert not lands_in_this_process(options)
    assert not commits_after_pipeline(options)  # Beam's own mode commits in the pipeline
    one = pipeline_options(_settings(tmp_path, workers=1), 10**6)
    assert lands_in_this_process(one) and pass_runner(settings, one) == "FnApiRunner"


def test_prism_without_a_location_runs_the_projects_own_build(tmp_path):
    """Beam would fetch Prism from GitHub; the pass points it at the cached local build."""
    settings = load_settings(
        var_dir=tmp_path / "var",
        cache_dir=tmp_path / "cache",
        beam={"runner": "PrismRunner", "options": ["--environment_type=LOOPBACK"]},
    )
    binary = prism_dir(settings) / "prism"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    every = pipeline_options(settings, 10).get_all_options()
    assert every["prism_location"] == str(binary)
    assert every["prism_log_level"] == "warn"
    chosen = _settings(tmp_path, runner="PrismRunner", options=["--prism_location=/opt/prism"])
    assert pipeline_options(chosen, 10).get_all_options()["prism_location"] == "/opt/prism"


def test_a_portable_runners_job_is_bounded_by_beam_job_timeout(tmp_path):
    """A portable runner's job streams last ``beam.job_timeout_s``, not Beam's request
    timeout (``tests/integration/test_prism.py`` runs both ways on Prism)."""
    options = ["--prism_location=/opt/prism", "--job_endpoint=localhost:1"]
    for name, base in (("PrismRunner", PrismRunner), ("PortableRunner", PortableRunner)):
        settings = _settings(tmp_path, runner=name, options=options, job_timeout_s=90)
        runner = pass_runner(settings, pipeline_options(settings, 10))
        assert isinstance(runner, base) and type(runner).__name__ == name
        stub = mock.Mock()
        stub.GetStateStream.return_value = iter(["running", "done"])
        service = JobService(stub, settings.beam.job_timeout_s, 300)
        request = beam_job_api_pb2.GetJobStateRequest(job_id="job")
        assert list(service.GetStateStream(request, timeout=300)) == ["running", "done"]
        stub.GetStateStream.assert_called_once_with(request, timeout=90)
    # other runners are Beam's, by name
    assert pass_runner(_settings(tmp_path), pipeline_options(_settings(tmp_path), 10)) == (
        "FnApiRunner"
    )


class _StreamFailed(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


def _failing_after(states: list[str], code: grpc.StatusCode):  # type: ignore[no-untyped-def]
    yield from states
    raise _StreamFailed(code)


def test_a_job_stream_failing_from_its_deadline_on_is_the_deadline(monkeypatch):
    """The state stream's deadline cancels the job and fails the pass with ``JobTimedOut``,
    whatever status the stream's failure has once the deadline has passed (the transport
    may close first); a failure before the deadline is the job service's own."""
    clock = [1000.0]
    monkeypatch.setattr("pipelines.portable.time.monotonic", lambda: clock[0])
    request = beam_job_api_pb2.GetJobStateRequest(job_id="job")
    for code, at, raised in (
        (grpc.StatusCode.DEADLINE_EXCEEDED, 1000.5, JobTimedOut),  # gRPC's own deadline
        (grpc.StatusCode.UNAVAILABLE, 1002.0, JobTimedOut),  # a failure past it
        (grpc.StatusCode.UNAVAILABLE, 1001.0, JobTimedOut),  # a failure at it
        (grpc.StatusCode.UNAVAILABLE, 1000.5, _StreamFailed),  # before it
    ):
        clock[0] = 1000.0
        stub = mock.Mock()
        stub.GetStateStream.return_value = _failing_after(["running"], code)
        service = JobService(stub, 1.0, 300)
        stream = service.GetStateStream(request)
        assert next(stream) == "running"
        clock[0] = at
        with pytest.raises(raised):
            next(stream)
        assert stub.Cancel.called == (raised is JobTimedOut)
    # the message stream, read on a thread of Beam's, ends quietly at its deadline
    stub = mock.Mock()
    stub.GetMessageStream.return_value = _failing_after(["log"], grpc.StatusCode.UNAVAILABLE)
    clock[0] = 1000.0
    messages = JobService(stub, 1.0, 300).GetMessageStream(request)
    assert next(messages) == "log"
    clock[0] = 1001.5
    assert list(messages) == [] and not stub.Cancel.called
