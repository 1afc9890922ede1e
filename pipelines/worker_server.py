"""The worker server of a pass (``pipelines.worker_processes.WarmWorkers``): imports what a
worker process runs once, then becomes the pass's workers.

    python -m pipelines.worker_server SOCKET WORKERS

It listens on SOCKET before it imports anything heavy, so that a worker the runner asks
for meanwhile (``pipelines.worker_launch``) waits in the socket's backlog. Then it imports
Beam's SDK harness, the pipeline's modules and GX, and takes WORKERS launchers in turn: for
each but the last it forks a copy of itself that becomes that worker; for the last it
becomes the worker itself. No process of the pass stays beside its workers, and each worker
is a child of this process or this process, within the pass's own process tree. Each
worker takes on its launcher's environment and standard streams, runs Beam's SDK harness
as ``python -m apache_beam.runners.worker.sdk_worker_main`` would, and sends its launcher
its exit code (a worker killed by a signal sends none: its launcher exits with 1). Once it
has imported, closing this process's standard input (the pass is over) ends it if it has
not become a worker yet (``WarmWorkers.close`` kills it if it is still importing). A
launcher that went before it was taken (its worker started the plain way) counts as taken,
so the server still becomes the last worker; one that gave up before it could connect
(the server not yet listening) leaves the server waiting, idle, until the pass ends.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import struct
import sys
import threading
import traceback
from dataclasses import dataclass

from pipelines.worker_launch import CODE, HANDED, READY, STARTED, STREAMS, WARM_START
from pipelines.worker_logging import mark_worker_process

# what SO_PEERCRED gives of a socket's peer: its pid, uid and gid
PEER = struct.Struct("3i")
# how long a launcher that was told READY has to send its standard streams
HAND_OVER_S = 30.0


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    path, workers = argv[1], int(argv[2])
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(workers)
    warm_up()
    sys.stdout.flush()
    sys.stderr.flush()
    # what the import made stays out of the collector's reach, so that a worker's
    # collections do not write to (and copy) the pages it shares with the others
    gc.freeze()
    forked: list[int] = []
    code = 0
    try:
        for left in range(workers - 1, -1, -1):
            handed = next_launcher(listener)
            if handed is None:  # the pass is over: no more workers will be asked for
                break
            if handed is PASSED_BY:  # that worker started the plain way
                continue
            assert isinstance(handed, Handed)
            if left == 0:  # the last worker: this process
                _close_listener(listener, path)
                code = run_worker(handed)
                break
            child = os.fork()
            if child == 0:
                listener.close()
                code = 1
                try:
                    code = run_worker(handed)
                finally:
                    os._exit(code)
            forked.append(child)
            handed.close()
    finally:
        _close_listener(listener, path)
        # the workers forked end before this process does: they stay in the pass's
        # process tree, and their CPU is counted with this process's children
        for child in forked:
            os.waitpid(child, 0)
    os._exit(code)


def _close_listener(listener: socket.socket, path: str) -> None:
    """No more launchers: the socket and its directory (``WarmWorkers``) go, even if the
    ``finradar`` process that made them was killed."""
    listener.close()
    with contextlib.suppress(OSError):
        os.unlink(path)
        os.rmdir(os.path.dirname(path))


def warm_up() -> None:
    """Import what a worker runs: Beam's SDK harness, the modules of the ingest pipeline's
    steps (their pickled functions name them), and GX as a worker's validation sets it up."""
    # lazy: what this process is for, imported once its socket is bound (a launcher that
    # comes meanwhile waits in the backlog instead of starting its worker the plain way)
    import apache_beam.runners.worker.sdk_worker_main  # noqa: F401

    # lazy: as above
    import pipelines.ingest_pipeline  # noqa: F401

    # lazy: as above
    from pipelines.gx_runner import prepare_gx

    prepare_gx()


@dataclass
class Handed:
    """What a launcher handed over: its connection, environment, working directory and
    standard streams."""

    connection: socket.socket
    environment: dict[str, str]
    directory: str
    streams: list[int]

    def close(self) -> None:
        self.connection.close()
        for fd in self.streams:
            os.close(fd)


PASSED_BY = object()  # a launcher that went (its worker started the plain way)


def next_launcher(listener: socket.socket) -> Handed | object | None:
    """What the next launcher hands over; ``PASSED_BY`` if it went first (it started its
    worker the plain way) or is not this user's or sent no streams; None once this process's
    standard input closes."""
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1):
            return None
        if listener in ready:
            break
    connection, _ = listener.accept()
    try:
        connection.sendall(READY)
        connection.settimeout(HAND_OVER_S)
        return _received(connection)
    except (OSError, ValueError) as exc:
        print(f"worker server: no worker for a launcher: {exc}", file=sys.stderr, flush=True)
        connection.close()
        return PASSED_BY


def _received(connection: socket.socket) -> Handed:
    """What the launcher at the other end hands over: its standard streams sent, its
    environment and working directory read where the kernel keeps them."""
    # lazy: imported by ``warm_up`` (after the socket was bound)
    from finradar.settings import environment_of

    pid, uid, _ = PEER.unpack(
        connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEER.size)
    )
    data, fds, _, _ = socket.recv_fds(connection, len(HANDED), len(STREAMS))
    try:
        if uid != os.getuid():  # (the socket's directory is this user's only)
            raise ValueError(f"a launcher of user {uid}")
        if data != HANDED or len(fds) != len(STREAMS):
            raise ValueError(f"{len(fds)} standard streams received, not {len(STREAMS)}")
        return Handed(connection, environment_of(pid), os.readlink(f"/proc/{pid}/cwd"), fds)
    except (OSError, ValueError):
        for fd in fds:
            os.close(fd)
        raise


def run_worker(handed: Handed) -> int:
    """Become the launcher's worker: its standard streams, environment and working
    directory, Beam's SDK harness run to its end; its exit code, sent to the launcher too."""
    for target, fd in zip(STREAMS, handed.streams, strict=True):
        os.dup2(fd, target)
        if fd not in STREAMS:
            os.close(fd)
    # lazy: imported by ``warm_up`` (after the socket was bound)
    from finradar.settings import replace_environment

    replace_environment(handed.environment)
    os.chdir(handed.directory)
    mark_worker_process()
    connection = handed.connection
    connection.settimeout(None)
    connection.sendall(STARTED)
    # one write: the workers share the log
    sys.stderr.write(f"{WARM_START} (process {os.getpid()})\n")
    sys.stderr.flush()
    code = _harness_exit_code()
    # as a process of ``multiprocessing`` ends: its threads joined, its streams flushed
    threading._shutdown()  # type: ignore[attr-defined]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    # (a launcher gone: its runner saw the worker end through its channel)
    with contextlib.suppress(OSError):
        connection.sendall(CODE.pack(code))
    return code


def _harness_exit_code() -> int:
    # lazy: imported by ``warm_up`` (after the socket was bound)
    from apache_beam.runners.worker import sdk_worker_main

    sys.argv = [sdk_worker_main.__file__]  # as ``python -m`` gives the module
    try:
        sdk_worker_main.main([sys.executable])
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()  # as the interpreter prints what ends a module run
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
