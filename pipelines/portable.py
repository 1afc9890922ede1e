"""Portable runners whose job may run as long as its pass needs, and no longer.

Beam's ``PortableRunner`` (and ``PrismRunner``, ``FlinkRunner``, …) opens a job's state and
message streams with ``--job_server_timeout`` (300 s by default), its requests' timeout, as
their deadline: a pass that ran longer failed with DEADLINE_EXCEEDED while its job ran
well (apache/beam#35867), and a job that hung (a worker gone unnoticed) was given up at
that same moment. ``bounded_job_runner`` gives the portable runner a pass names whose
streams last ``beam.job_timeout_s`` instead: a job still running then is cancelled, and the
pass fails with one line (``JobTimedOut``). The job service's requests keep Beam's timeout.
A stream that fails once its deadline has passed has met the deadline, whatever status
gRPC gives its failure (the transport may close before the deadline's own status arrives).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions
from apache_beam.portability.api import beam_job_api_pb2
from apache_beam.runners.portability.portable_runner import JobServiceHandle, PortableRunner
from apache_beam.runners.runner import PipelineRunner, create_runner

from finradar.errors import FinradarError


class JobTimedOut(FinradarError):
    """A portable runner's job had not ended ``beam.job_timeout_s`` after it started."""


def bounded_job_runner(runner: str, job_timeout_s: float) -> str | PipelineRunner:
    """The runner named ``runner``: a portable one whose job's streams last
    ``job_timeout_s`` (see the module docstring); any other by its name, as Beam takes it."""
    created = create_runner(runner)
    if not isinstance(created, PortableRunner):
        return runner
    base: type[PortableRunner] = type(created)

    class Bounded(base):  # type: ignore[valid-type,misc]
        def create_job_service(self, options: PipelineOptions) -> JobServiceHandle:
            handle = super().create_job_service(options)
            requests_s = options.view_as(PortableOptions).job_server_timeout
            handle.job_service = JobService(handle.job_service, job_timeout_s, requests_s)
            return handle

    Bounded.__name__ = Bounded.__qualname__ = base.__name__
    return Bounded()


class JobService:
    """A job service stub whose job state and message streams have ``job_timeout_s`` as
    their deadline, whatever timeout the caller asks; everything else is the stub's."""

    def __init__(self, stub: Any, job_timeout_s: float, requests_s: float) -> None:
        self._stub = stub
        self.job_timeout_s = job_timeout_s
        self.requests_s = requests_s

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stub, name)

    # (named as the stub's methods are)
    def GetStateStream(self, request: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        deadline = time.monotonic() + self.job_timeout_s
        stream = self._stub.GetStateStream(request, timeout=self.job_timeout_s, **kwargs)
        return _until_deadline(stream, deadline, lambda: self._give_up(request.job_id))

    def GetMessageStream(self, request: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        deadline = time.monotonic() + self.job_timeout_s
        stream = self._stub.GetMessageStream(request, timeout=self.job_timeout_s, **kwargs)
        # the state stream reports the deadline; this one, read on a thread of Beam's, ends
        return _until_deadline(stream, deadline, lambda: None)

    def _give_up(self, job_id: str) -> None:
        # a job service gone as well fails the pass all the same
        with contextlib.suppress(grpc.RpcError):
            self._stub.Cancel(
                beam_job_api_pb2.CancelJobRequest(job_id=job_id), timeout=self.requests_s
            )
        raise JobTimedOut(
            f"the Beam job {job_id} had not ended after beam.job_timeout_s "
            f"({self.job_timeout_s:g} s): cancelled it"
        )


def _until_deadline(stream: Any, deadline: float, on_deadline: Callable[[], None]) -> Iterator[Any]:
    """``stream``'s items; at its ``deadline`` (``time.monotonic()``), ``on_deadline`` (which
    may raise), then its end. A failure of the stream from its deadline on is the deadline."""
    try:
        yield from stream
    except grpc.RpcError as exc:
        code = getattr(exc, "code", None)
        timed_out = code is not None and code() == grpc.StatusCode.DEADLINE_EXCEEDED
        if not timed_out and time.monotonic() < deadline:
            raise
    else:
        return
    on_deadline()
