"""A local S3-compatible object store: the stand-in for the bucket that holds a shared
DuckLake warehouse's Parquet files (``warehouse.data_path = "s3://…"``).

``finradar infra up --object-store`` starts moto's S3 server (``moto_server``, from this
virtualenv) on 127.0.0.1 only (``warehouse.local_object_store_port``), detached (it outlives
the command, like the broker, until ``down``), and creates the bucket ``finradar``.

Its state is in memory: its objects (and the bucket) are gone when it stops; the next
``up`` makes an empty bucket again. It is for trials and tests of the shared set-up, not a
place to keep data. (MinIO, a durable one, is AGPL-licensed and not used.)

moto accepts any credentials; ``up`` still makes a random key id and secret on first start
and keeps them in ``var/object-store/client.toml`` (mode 600, the ``[warehouse]`` settings
of its clients) so that clients are configured as for a real store. Files under
``var/object-store``: ``server.pid``, ``server.log``, ``client.toml``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from finradar.errors import FinradarError
from finradar.settings import Settings
from infra.broker import one_at_a_time
from infra.broker_security import write_private
from infra.postgres import StandInStatus

HOST = "127.0.0.1"
BUCKET = "finradar"
PREFIX = "warehouse"
REGION = "us-east-1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 25
IN_MEMORY = "(in memory: its objects are gone when it stops)"
KEY_ID_ALPHABET = string.ascii_uppercase + string.digits


def moto_server_command(host: str, port: int) -> list[str]:
    """moto's S3 server of this virtualenv (its console script, else its module)."""
    script = Path(sys.executable).parent / "moto_server"
    start = [str(script)] if script.is_file() else [sys.executable, "-m", "moto.server"]
    return [*start, "-H", host, "-p", str(port)]


class LocalObjectStore:
    """Lifecycle of the project's own S3 stand-in (state under ``var/object-store``)."""

    name = "object-store"  # as the CLI names it (--object-store)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = settings.warehouse.local_object_store_port
        self.root = settings.var / "object-store"
        self.pid_file = self.root / "server.pid"
        self.log_file = self.root / "server.log"
        self.client_file = self.root / "client.toml"
        self.endpoint = f"{HOST}:{self.port}"
        self.url = f"http://{self.endpoint}"

    @property
    def has_state(self) -> bool:
        """Whether anything of it is under var/ (its credentials, a log, a pid file)."""
        return self.root.exists()

    # ---- process ----------------------------------------------------------------------
    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _is_server_process(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        zombie = stat.rsplit(")", 1)[-1].split()[0] == "Z"
        moto = any(arg.endswith((b"moto_server", b"moto.server")) for arg in cmdline)
        return not zombie and moto and str(self.port).encode() in cmdline

    def _port_open(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((HOST, self.port)) == 0

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/", timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no object-store log yet)"
        return "\n".join(text.splitlines()[-lines:])

    # ---- clients ----------------------------------------------------------------------
    def _credentials(self) -> tuple[str, str] | None:
        try:
            with self.client_file.open("rb") as fh:
                warehouse = tomllib.load(fh)["warehouse"]
            return str(warehouse["s3_key_id"]), str(warehouse["s3_secret"])
        except (FileNotFoundError, KeyError, tomllib.TOMLDecodeError):
            return None

    def _settings_fields(self, key_id: str, secret: str) -> dict[str, Any]:
        return {
            "data_path": f"s3://{BUCKET}/{PREFIX}",
            "s3_endpoint": self.endpoint,
            "s3_url_style": "path",
            "s3_use_ssl": False,
            "s3_region": REGION,
            "s3_key_id": key_id,
            "s3_secret": secret,
        }

    def _write_client_file(self, key_id: str, secret: str) -> None:
        fields = self._settings_fields(key_id, secret)
        write_private(
            self.client_file,
            "# written by 'finradar infra up --object-store': the local S3 stand-in "
            "(keep private)\n[warehouse]\n"
            + "".join(f"{name} = {json.dumps(value)}\n" for name, value in fields.items()),
        )

    def client_environment(self) -> dict[str, str]:
        """The ``FINRADAR_WAREHOUSE__…`` variables that point finradar's data path at this
        store's bucket (the secret among them: for a process's environment, never a log)."""
        credentials = self._credentials()
        if credentials is None:
            raise FinradarError(
                "there is no local object store yet: 'finradar infra up --object-store' starts one"
            )
        fields = self._settings_fields(*credentials)
        return {
            f"FINRADAR_WAREHOUSE__{name.upper()}": str(value).lower()
            if isinstance(value, bool)
            else str(value)
            for name, value in fields.items()
        }

    def s3_client(self) -> Any:
        """A boto3 S3 client of this store, with its credentials."""
        # lazy: 'infra status' needs no AWS client library
        import boto3
        from botocore.config import Config

        credentials = self._credentials()
        if credentials is None:
            raise FinradarError("the local object store has no credentials yet")
        key_id, secret = credentials
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"max_attempts": 2},
            ),
        )

    # ---- public lifecycle -------------------------------------------------------------
    def status(self) -> StandInStatus:
        pid = self._read_pid()
        if pid is not None and self._is_server_process(pid):
            detail = (
                f"S3 API answers, bucket {BUCKET} {IN_MEMORY}"
                if self._answers()
                else "process alive, not answering yet"
            )
            return StandInStatus("object-store", True, pid, self.url, detail)
        detail = "no object-store process"
        if pid is not None:
            detail = f"no object-store process (stale pid file for {pid})"
        if self._port_open():
            detail += f"; port {self.port} is in use by another process"
        return StandInStatus("object-store", False, None, self.url, detail)

    def up(self) -> StandInStatus:
        """Start the server unless it runs, wait until it answers, create the bucket.
        Concurrent calls start it once."""
        with one_at_a_time(self.root / "up.lock"):
            return self._up()

    def _up(self) -> StandInStatus:
        self.root.chmod(0o700)
        if self._credentials() is None:
            key_id = "FR" + "".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(18))
            self._write_client_file(key_id, secrets.token_urlsafe(30))
        pid = self._read_pid()
        if pid is not None and self._is_server_process(pid):
            self._wait_ready(pid)
        else:
            if self._port_open():
                raise FinradarError(
                    f"port {self.endpoint} is already taken by another process; stop it or "
                    "set FINRADAR_WAREHOUSE__LOCAL_OBJECT_STORE_PORT"
                )
            with self.log_file.open("ab") as log:
                proc = subprocess.Popen(
                    moto_server_command(HOST, self.port),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # outlives the CLI; not killed by its Ctrl-C
                    cwd=self.root,
                )
            self.pid_file.write_text(f"{proc.pid}\n")
            self._wait_ready(proc.pid, proc)
        self._ensure_bucket()
        return self.status()

    def _wait_ready(self, pid: int, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._answers():
            if proc is not None and proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise FinradarError(
                    f"the object store exited during start (code {proc.returncode}); "
                    f"log tail:\n{self.log_tail()}"
                )
            if proc is None and not self._is_server_process(pid):
                raise FinradarError(
                    f"the object store stopped during start; log tail:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self._stop(pid, force=True)
                raise FinradarError(
                    f"the object store did not answer in {START_TIMEOUT_S:.0f}s; "
                    f"log tail:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def _ensure_bucket(self) -> None:
        # lazy: as boto3 (see s3_client)
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.s3_client()
        try:
            names = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
            if BUCKET not in names:
                client.create_bucket(Bucket=BUCKET)
        except (BotoCoreError, ClientError) as exc:
            raise FinradarError(f"could not create the bucket {BUCKET}: {exc}") from None

    def _stop(self, pid: int, force: bool = False) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL if force else signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while self._is_server_process(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        # started by this very process (a test): reap it, else it stays a zombie until we end
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if self._is_server_process(pid) and not force:
            self._stop(pid, force=True)

    def down(self, purge: bool = False) -> StandInStatus:
        """Stop the server (its objects go with it). Idempotent. ``purge``: also delete
        its credentials and log."""
        pid = self._read_pid()
        if pid is not None and self._is_server_process(pid):
            self._stop(pid)
        self.pid_file.unlink(missing_ok=True)
        if purge:
            shutil.rmtree(self.root, ignore_errors=True)
        return self.status()
