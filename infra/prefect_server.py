"""A local Prefect server (SQLite under ``var/prefect``) for ``finradar serve`` and for the
commands that need one only while they run (``follow``, ``replay``, ``backfill``, ``demo``).

Started as a child process in a session of its own (the terminal's Ctrl-C goes to the
command, which stops the server after its flow run ends) and stopped with it; ``url`` is
its API address, ``ui_url`` its web UI's when ``prefect.ui`` is on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from finradar.errors import FinradarError
from finradar.settings import Settings, prefect_server_env
from infra.child_processes import end_with_parent

START_TIMEOUT_S = 180.0


def free_port(host: str) -> int:
    """A TCP port nothing listens on at ``host`` now (the system's choice)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


class LocalPrefectServer:
    """A Prefect server on ``prefect.server_host``, on ``port`` (default
    ``prefect.server_port``)."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.host = settings.prefect.server_host
        self.port = settings.prefect.server_port if port is None else port
        self.url = f"http://{self.host}:{self.port}/api"
        self.ui_url = f"http://{self.host}:{self.port}" if settings.prefect.ui else None
        self.log_path = settings.prefect_home / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def start(self) -> None:
        if self.healthy():
            raise FinradarError(f"a Prefect server already answers at {self.url}")
        self.settings.prefect_home.mkdir(parents=True, exist_ok=True)
        env = {
            **prefect_server_env(self.settings),
            # the UI's pages call the API from the browser: at this server, whatever port
            "PREFECT_UI_API_URL": self.url,
            "PREFECT_SERVER_API_HOST": self.host,
            "PREFECT_SERVER_API_PORT": str(self.port),
            # offline: no upgrade prompts or banners fetched from outside
            "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        }
        cmd = [
            sys.executable, "-m", "prefect", "server", "start",
            "--host", self.host, "--port", str(self.port),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            # its own session: the terminal's Ctrl-C is the command's to act on; and it ends
            # with the command even if that is killed (``end_with_parent``)
            self.process = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=end_with_parent,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.healthy():
            if self.process.poll() is not None:
                raise FinradarError(
                    f"the Prefect server exited with {self.process.returncode}; see {self.log_path}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise FinradarError(f"the Prefect server did not answer in {START_TIMEOUT_S:.0f} s")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
