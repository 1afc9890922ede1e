"""A local Prefect server (SQLite under ``var/prefect``) for ``finradar serve``.

Started as a child process on 127.0.0.1 and stopped with it; ``url`` is its API address.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request

from finradar.errors import FinradarError
from finradar.settings import Settings, prefect_server_env

START_TIMEOUT_S = 180.0


class LocalPrefectServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        host, port = settings.prefect.server_host, settings.prefect.server_port
        self.url = f"http://{host}:{port}/api"
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
        env = prefect_server_env(self.settings)
        cmd = [
            sys.executable, "-m", "prefect", "server", "start",
            "--host", self.settings.prefect.server_host,
            "--port", str(self.settings.prefect.server_port),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
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
