"""The FnApiRunner's worker processes for a pass: how many, what they run in, and their
warm start.

A worker process spends its first seconds importing what it runs: Beam's SDK harness, the
pipeline's modules and Great Expectations, seconds of CPU each, before it reads a
message. ``WarmWorkers`` starts one process (``pipelines.worker_server``) that imports them
once, as soon as the pass is planned, while this process imports Beam and builds the
pipeline. The command the runner then runs for each worker (``pipelines.worker_launch``)
hands that process its standard streams (the server reads its environment), and the server
forks the worker from what it has imported (the last worker is the server itself). A worker
that no server takes within ``beam.warm_worker_wait_s`` starts the plain way.

On 1,000,000 events (``python -m tests.bench.ingest_timeline 1000000 --variant
FINRADAR_BEAM__WARM_WORKERS=false --variant FINRADAR_BEAM__WARM_WORKERS=true --variant
FINRADAR_BEAM__WARM_WORKERS=false``, 2026-12-06) the pass took 43.6 and 44.4 s warm against
46.7 and 46.4 s the plain way, the process tree at 1.22 GiB against 1.25–1.26; on
5,000,000, 199.1 s against 202.1 s (only the first of its three parts starts warm earlier
than the plain way: the next ones start after a commit, with nothing to overlap).

This module imports neither Beam nor GX: a pass starts its server before it imports them.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from finradar.settings import Settings, child_env

_LOGGER = logging.getLogger(__name__)

SERVER_MODULE = "pipelines.worker_server"
# how long a server told to end may take (it reads its standard input once it has imported)
CLOSE_WAIT_S = 2.0
LAUNCH_MODULE = "pipelines.worker_launch"

# Memory a worker process keeps for itself: glibc's heap arenas (one per thread that
# allocates, up to eight per core, each keeping its freed pages) and Arrow's mimalloc pool.
# With both, a 300,000-event pass on two workers peaked at 1.71 GiB for its process tree;
# with two arenas and the system allocator for Arrow at 1.46 GiB, at the same rate.
WORKER_ENVIRONMENT = {"MALLOC_ARENA_MAX": "2", "ARROW_DEFAULT_MEMORY_POOL": "system"}

# The server forks: a child has only the thread that forked it, so the server starts no
# other thread of its own. Without these, importing numpy starts OpenBLAS's pool (a thread
# per other core) and importing pyarrow jemalloc's background thread (Arrow's allocator,
# unused with the system pool above). DuckDB's import still starts its scheduler's thread,
# idle at the fork; a worker uses only connections of its own, with schedulers of their own.
SERVER_ENVIRONMENT = {
    **WORKER_ENVIRONMENT,
    "OPENBLAS_NUM_THREADS": "1",
    "JE_ARROW_MALLOC_CONF": "background_thread:false",
}


def worker_processes(settings: Settings, messages: int, gated: bool = False) -> int:
    """How many worker processes the FnApiRunner starts for a pass of ``messages``: 1 (the
    pass runs in this process) unless the pass is large and its commit not gated (a commit
    slot stays with this process: such a pass runs here), or ``beam.options`` chose."""
    beam_settings = settings.beam
    chosen = any(o.startswith("--direct_") for o in beam_settings.options)
    if (
        beam_settings.runner == "FnApiRunner"
        and beam_settings.workers > 1
        and messages >= beam_settings.parallel_from
        and not gated
        and not chosen
    ):
        return beam_settings.workers
    return 1


class WarmWorkers:
    """The worker server of one pass (``pipelines.worker_server``), started at once: it
    listens on a socket in a directory only this user can open, and writes what it prints
    to ``beam_worker_log``, as the workers do. It ends by becoming the pass's last worker,
    or when ``close`` closes its standard input."""

    def __init__(self, settings: Settings, workers: int) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix="finradar-workers-"))  # mode 0700
        self.socket = self._directory / "server"
        self._wait_s = settings.beam.warm_worker_wait_s
        log = settings.beam_worker_log
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with log.open("ab") as out:
                self._process: subprocess.Popen[bytes] = subprocess.Popen(
                    [sys.executable, "-m", SERVER_MODULE, str(self.socket), str(workers)],
                    stdin=subprocess.PIPE,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=child_env(**SERVER_ENVIRONMENT),
                    # the terminal's Ctrl-C is the command's to act on, as for plain workers
                    process_group=0,
                )
        except BaseException:
            shutil.rmtree(self._directory, ignore_errors=True)
            raise

    def launch_command(self) -> str:
        """What the runner runs for a worker (through a shell): the launcher, to this
        server."""
        return (
            f"{shlex.quote(sys.executable)} -m {LAUNCH_MODULE}"
            f" {shlex.quote(str(self.socket))} {self._wait_s!r} {self._process.pid}"
        )

    def close(self) -> None:
        """The server gone (the pass is over: its workers have ended): told to end if it has
        not become a worker (the pass asked for fewer, or failed first), killed if it does
        not at once (still importing); its socket removed."""
        try:
            if self._process.stdin:
                self._process.stdin.close()
            try:
                self._process.wait(timeout=CLOSE_WAIT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        finally:
            shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> WarmWorkers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def warm_workers(settings: Settings, messages: int, gated: bool = False) -> WarmWorkers | None:
    """The worker server of a pass of ``messages`` that runs on worker processes
    (``worker_processes``) with ``beam.warm_workers`` on; None otherwise, or if the server
    cannot start (the workers then start the plain way)."""
    workers = worker_processes(settings, messages, gated)
    if workers < 2 or not settings.beam.warm_workers:
        return None
    try:
        return WarmWorkers(settings, workers)
    except OSError as exc:
        _LOGGER.warning("worker processes start the plain way: %s", exc)
        return None
