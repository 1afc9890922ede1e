"""The runner of an ingest pass and its options.

``beam.runner`` names it; the in-process FnApiRunner runs a large pass (at least
``beam.parallel_from`` messages) in ``beam.workers`` worker processes. Beam starts those
processes with the terminal's stderr, where each would print its own log and a failing
bundle's traceback beside ``finradar``'s one line; ``pass_runner`` starts them with their
output appended to ``beam_worker_log`` instead. A worker's failure still reaches the pass
(one line; its traceback with ``--verbose``).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.transforms.environments import SubprocessSDKEnvironment

from finradar.settings import Settings
from infra.child_processes import SHELL_IGNORE_INTERRUPT
from infra.prism import prism_binary
from pipelines.portable import bounded_job_runner
from pipelines.worker_logging import SDK_WORKER_MAIN
from pipelines.worker_processes import WORKER_ENVIRONMENT, WarmWorkers, worker_processes


def pipeline_options(settings: Settings, messages: int, gated: bool = False) -> PipelineOptions:
    """The pass's Beam options: ``beam.options`` for ``beam.runner``, and its worker
    processes (``worker_processes``). ``PrismRunner`` without ``--prism_location`` runs the
    project's own Prism (``infra.prism.prism_binary``: built once from the Go module proxy)."""
    options = list(settings.beam.options)
    if settings.beam.runner.endswith("PrismRunner"):
        options += _prism_defaults(settings, options)
    workers = worker_processes(settings, messages, gated)
    if workers > 1:
        # (no --default_sdk_harness_log_level: the FnApiRunner passes its worker processes
        # no pipeline options; they keep to ``beam.worker_log_level`` from their first step)
        options.append(f"--direct_num_workers={workers}")
    return PipelineOptions(options, runner=settings.beam.runner)


def _prism_defaults(settings: Settings, chosen: list[str]) -> list[str]:
    """What a Prism pass needs unless ``beam.options`` chose otherwise: the project's own
    Prism (Beam would download it from GitHub, which these machines cannot reach), and
    Prism's log at warnings (its info lines, an endpoint and "pipeline done!", would reach
    the terminal)."""
    defaults = {
        "--prism_location": lambda: str(prism_binary(settings)),
        "--prism_log_level": lambda: "warn",
    }
    return [
        f"{name}={value()}"
        for name, value in defaults.items()
        if not any(o.startswith(name) for o in chosen)
    ]


def pass_runner(
    settings: Settings, options: PipelineOptions, warm: WarmWorkers | None = None
) -> Any:
    """The runner for ``options``: ``beam.runner`` (a portable one bounded by
    ``beam.job_timeout_s``: ``pipelines.portable``), or an FnApiRunner whose worker
    processes write what they print to ``settings.beam_worker_log``, forked by ``warm``'s
    server if given (``pipelines.worker_processes``)."""
    every = options.get_all_options()
    if not _own_worker_processes(every):
        return bounded_job_runner(every["runner"], settings.beam.job_timeout_s)
    log = settings.beam_worker_log
    log.parent.mkdir(parents=True, exist_ok=True)
    return FnApiRunner(default_environment=_quiet_subprocess_environment(log, warm))


def commits_after_pipeline(options: PipelineOptions) -> bool:
    """Whether the pass commits in this process once its pipeline has ended: the
    FnApiRunner's own worker processes (``beam.workers``) have then stopped. Committing in
    one of them kept the other, idle, beside the commit: a 1,000,000-event pass's process
    tree peaked at 1.82 GiB there (worker 1.04 + idle worker 0.51 + this process 0.27)."""
    return _own_worker_processes(options.get_all_options())


def lands_in_this_process(options: PipelineOptions) -> bool:
    """Whether the runner runs the pipeline's steps in this process: the in-process
    FnApiRunner with no worker processes, or a portable runner's LOOPBACK workers
    (PrismRunner's default)."""
    every = options.get_all_options()
    runner = str(every["runner"] or "")
    if runner.endswith("FnApiRunner"):
        return every.get("direct_running_mode") != "multi_processing" and not (
            _own_worker_processes(every)
        )
    environment = options.view_as(PortableOptions).environment_type
    return environment == "LOOPBACK" or (environment is None and runner.endswith("PrismRunner"))


def _own_worker_processes(every: dict[str, Any]) -> bool:
    """``pipeline_options`` asked for worker processes (Beam's own running modes not set)."""
    return (
        str(every["runner"] or "").endswith("FnApiRunner")
        and (every.get("direct_num_workers") or 1) > 1
        and every.get("direct_running_mode") in (None, "in_memory")
    )


def _quiet_subprocess_environment(log: Path, warm: WarmWorkers | None) -> SubprocessSDKEnvironment:
    # the FnApiRunner's multi-processing mode runs the plain command, without the variables,
    # with the terminal's stderr (Beam runs it through a shell: the redirection is the
    # shell's); a warm worker's launcher hands the server these same streams
    variables = " ".join(f"{k}={shlex.quote(v)}" for k, v in WORKER_ENVIRONMENT.items())
    worker = (
        warm.launch_command() if warm else f"{shlex.quote(sys.executable)} -m {SDK_WORKER_MAIN}"
    )
    command = f"{SHELL_IGNORE_INTERRUPT} {variables} {worker} >>{shlex.quote(str(log))} 2>&1"
    return SubprocessSDKEnvironment.from_command_string(command_string=command)
