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
its exit code. Closing this process's standard input (the pass is over) ends it, if it
has not become a worker yet.
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
    while len(forked) < workers - 1:
        handed = next_launcher(listener)
        if handed is None:  # the pass is over: no more workers will be asked for
            return 0
        connection, environment, streams = handed
        child = os.fork()
        if child == 0:
            listener.close()
            os._exit(run_worker(connection, environment, streams))
        forked.append(child)
        connection.close()
        for fd in streams:
            os.close(fd)
    handed = next_launcher(listener)
    listener.close()
    if handed is not None:
        code = run_worker(*handed)
    # the workers forked end before this process does: they stay in the pass's process
    # tree, and their CPU is counted with this process's children
    for child in forked:
        os.waitpid(child, 0)
    os._exit(code if handed is not None else 0)


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


def next_launcher(
    listener: socket.socket,
) -> tuple[socket.socket, dict[str, str], list[int]] | None:
    """The next launcher's connection, environment and standard streams; None once this
    process's standard input closes. A launcher that has gone is skipped (it started its
    worker the plain way), as is one that is not this user's or sends no streams."""
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1):
            return None
        if listener not in ready:
            continue
        connection, _ = listener.accept()
        try:
            connection.sendall(READY)
            connection.settimeout(HAND_OVER_S)
            return (connection, *_received_environment(connection))
        except (OSError, ValueError) as exc:
            print(f"worker server: no worker for a launcher: {exc}", file=sys.stderr, flush=True)
            connection.close()


def _received_environment(connection: socket.socket) -> tuple[dict[str, str], list[int]]:
    """The environment the launcher at the other end was started with, and its standard
    streams."""
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
        return environment_of(pid), fds
    except (OSError, ValueError):
        for fd in fds:
            os.close(fd)
        raise


def run_worker(connection: socket.socket, environment: dict[str, str], streams: list[int]) -> int:
    """Become the launcher's worker: its standard streams and environment, Beam's SDK
    harness run to its end; its exit code, sent to the launcher too."""
    for target, fd in zip(STREAMS, streams, strict=True):
        os.dup2(fd, target)
        if fd not in STREAMS:
            os.close(fd)
    # lazy: imported by ``warm_up`` (after the socket was bound)
    from finradar.settings import replace_environment

    replace_environment(environment)
    mark_worker_process()
    connection.settimeout(None)
    connection.sendall(STARTED)
    # one write: the workers share the log
    sys.stderr.write(f"{WARM_START} (process {os.getpid()})\n")
    sys.stderr.flush()
    code = _harness_exit_code()
    # as a process of ``multiprocessing`` ends: its threads joined, its streams flushed
    threading._shutdown()  # type: ignore[attr-defined]
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    # (a launcher gone: its runner saw the worker end through its channel)
    with contextlib.suppress(OSError):
        connection.sendall(CODE.pack(code))
    return code


def _harness_exit_code() -> int:
    # lazy: imported by ``warm_up`` (after the socket was bound)
    from apache_beam.runners.worker import sdk_worker_main

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
