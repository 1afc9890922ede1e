"""A pass's worker process, started warm: what the FnApiRunner runs for each worker when the
pass has a worker server (``pipelines.worker_processes.WarmWorkers``).

    python -m pipelines.worker_launch SOCKET WAIT_S SERVER_PID

It hands the server at SOCKET its environment (the runner's addresses and the pipeline's
options are there) and its standard streams, waits for the worker the server starts with
them, and exits with that worker's exit code. If no server takes it within WAIT_S seconds
(still starting or importing), or the server (process SERVER_PID) has gone before the
worker started, this process becomes the worker the plain way (Beam's SDK harness, run as a
module): the pass never depends on the server.

The exchange on the socket, after the server has accepted:

* the server sends ``READY`` once it has imported what a worker runs;
* this process sends its standard input, output and error as ancillary data
  (``SCM_RIGHTS``); the server reads its environment where the kernel keeps it
  (``/proc/<pid>/environ``, the pid of the socket's peer);
* the worker sends ``STARTED`` once it has taken them on (before it reaches the runner), and
  at its end its exit code (4 bytes, signed).
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time

from infra.child_processes import process_alive
from pipelines.worker_logging import SDK_WORKER_MAIN

CONNECT_RETRY_S = 0.02
READY = b"R"
HANDED = b"H"
STARTED = b"S"
CODE = struct.Struct("!i")
STREAMS = (0, 1, 2)
# what a worker prints to its log as it starts, either way
WARM_START = "worker: started warm"
PLAIN_START = "worker: no worker server took this worker; starting it the plain way"


def main(argv: list[str]) -> int:
    path, wait_s, server = argv[1], float(argv[2]), int(argv[3])
    started = hand_over(path, wait_s, server)
    if started is None:
        sys.stderr.write(f"{PLAIN_START} ({path})\n")  # one write: the workers share the log
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", SDK_WORKER_MAIN])
    return exit_code(started)


def hand_over(path: str, wait_s: float, server: int) -> socket.socket | None:
    """The connection to the worker the server at ``path`` (process ``server``) started with
    this process's environment and standard streams; None if none started within ``wait_s``
    seconds, or the server has gone."""
    deadline = time.monotonic() + wait_s
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        while not _connected(connection, path):
            # not listening yet (it binds the socket as it starts), or gone
            if time.monotonic() > deadline or not process_alive(server):
                connection.close()
                return None
            time.sleep(CONNECT_RETRY_S)
        if not _received(connection, READY, deadline):
            connection.close()
            return None
        socket.send_fds(connection, [HANDED], STREAMS)
        if not _received(connection, STARTED, deadline=None):
            connection.close()
            return None
    except OSError:
        connection.close()
        return None
    return connection


def exit_code(connection: socket.socket) -> int:
    """The exit code the worker sends at its end; 1 if it ended without one (killed)."""
    received = b""
    while len(received) < CODE.size:
        chunk = connection.recv(CODE.size - len(received))
        if not chunk:
            print("worker: ended without an exit code", file=sys.stderr)
            return 1
        received += chunk
    return int(CODE.unpack(received)[0])


def _connected(connection: socket.socket, path: str) -> bool:
    try:
        connection.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        return False
    return True


def _received(connection: socket.socket, expected: bytes, deadline: float | None) -> bool:
    """Whether ``expected`` came before ``deadline`` (None: whenever it comes, or the
    connection closes)."""
    connection.settimeout(None if deadline is None else max(0.0, deadline - time.monotonic()))
    try:
        return connection.recv(len(expected)) == expected
    except TimeoutError:
        return False


if __name__ == "__main__":
    sys.exit(main(sys.argv))
