"""A local Postgres cluster under ``var/postgres``: the stand-in for the Postgres database
that holds a shared DuckLake catalog (``warehouse.catalog``).

``finradar infra up --postgres`` makes the cluster on first start with Debian's binaries
(``initdb``, ``pg_ctl``: ``make postgres`` installs them), starts it detached (it outlives
the command, like the broker, until ``down``) and creates the database ``finradar``. It
listens on 127.0.0.1 only (``warehouse.local_postgres_port``) and on a Unix socket in
``var/postgres/run``, and it is secure by default: every connection, local or not, needs the
password of the user ``finradar`` (SCRAM-SHA-256), made at random on first start.

Files under ``var/postgres``: ``data`` (the cluster), ``run`` (its socket),
``postgres.log`` (its log) and ``client.toml`` (mode 600: the ``[warehouse]`` settings of
its clients, password included; ``client_environment`` gives the same as environment
variables, and ``FINRADAR_CONFIG=var/postgres/client.toml`` would use the file).

Postgres refuses to run as root, and the ``postgres`` account cannot reach a checkout in a
root-owned private folder; so as root the binaries run in a user namespace of their own
(``unshare --user``) as an ordinary user there, which is root outside: the files stay the
checkout owner's.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finradar.errors import FinradarError
from finradar.settings import Settings
from infra.broker import one_at_a_time
from infra.broker_security import write_private

HOST = "127.0.0.1"
USER = "finradar"
DATABASE = "finradar"
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
BINARIES = ("initdb", "pg_ctl")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60
LOG_TAIL_LINES = 25
# a Unix socket's path holds at most 107 bytes; Postgres adds "/.s.PGSQL.<port>.lock"
SOCKET_DIR_MAX = 107 - len("/.s.PGSQL.65535.lock")
CONFIG_FILE = "finradar.conf"
# the user the server runs as inside its namespace when started by root: Debian's
# ``postgres`` account if there is one (initdb needs a name for its user), else uid 1000
NAMESPACE_ACCOUNT = "postgres"
NAMESPACE_FALLBACK_ID = 1000


@dataclass(frozen=True)
class StandInStatus:
    """What ``up``, ``down`` and ``status`` of a stand-in (Postgres, the object store) say."""

    name: str
    running: bool
    pid: int | None
    address: str
    detail: str

    def line(self) -> str:
        state = f"running (pid {self.pid})" if self.running else "stopped"
        return f"{self.name} {state} at {self.address}: {self.detail}"


def _version_key(folder: Path) -> tuple[int, str]:
    name = folder.parent.name
    return (int(name) if name.isdigit() else -1, name)


def find_postgres_binaries() -> dict[str, Path]:
    """``initdb`` and ``pg_ctl``: on PATH, else the newest of Debian's
    ``/usr/lib/postgresql/<version>/bin``."""
    on_path = {name: shutil.which(name) for name in BINARIES}
    if all(on_path.values()):
        return {name: Path(str(path)) for name, path in on_path.items()}
    for folder in sorted(DEBIAN_BINARIES.glob("*/bin"), key=_version_key, reverse=True):
        if all((folder / name).is_file() for name in BINARIES):
            return {name: folder / name for name in BINARIES}
    raise FinradarError("Postgres (initdb, pg_ctl) is not installed: run make postgres")


def _namespace_ids() -> tuple[int, int]:
    try:
        account = pwd.getpwnam(NAMESPACE_ACCOUNT)
    except KeyError:
        return NAMESPACE_FALLBACK_ID, NAMESPACE_FALLBACK_ID
    return account.pw_uid, account.pw_gid


def _conf_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


class LocalPostgres:
    """Lifecycle of the project's own Postgres cluster under ``var/postgres``."""

    name = "postgres"  # as the CLI names it (--postgres)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = settings.warehouse.local_postgres_port
        self.root = settings.var / "postgres"
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "run"
        self.log_file = self.root / "postgres.log"
        self.client_file = self.root / "client.toml"
        self.pid_file = self.data_dir / "postmaster.pid"  # Postgres's own

    @property
    def has_state(self) -> bool:
        """Whether anything of it is under var/ (a cluster, running or not)."""
        return self.root.exists()

    # ---- commands ---------------------------------------------------------------------
    def _command(self, binary: Path, *args: str) -> list[str]:
        """``binary`` with ``args``, as a user Postgres accepts (see the module)."""
        if os.geteuid() != 0:
            return [str(binary), *args]
        unshare = shutil.which("unshare")
        if unshare is None:
            raise FinradarError("Postgres refuses to run as root; unshare (util-linux) is needed")
        uid, gid = _namespace_ids()
        return [unshare, "--user", f"--map-user={uid}", f"--map-group={gid}", str(binary), *args]

    def _run(self, binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._command(binary, *args),
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
        )

    # ---- process ----------------------------------------------------------------------
    def _postmaster(self) -> tuple[int, int] | None:
        """The pid and port of this cluster's running server, from its ``postmaster.pid``
        and the process table."""
        try:
            lines = self.pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        zombie = stat.rsplit(")", 1)[-1].split()[0] == "Z"
        ours = cmdline[0].endswith(b"postgres") and os.fsencode(self.data_dir) in cmdline
        return (pid, port) if ours and not zombie else None

    @staticmethod
    def _port_open(port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((HOST, port)) == 0

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no postgres log yet)"
        return "\n".join(text.splitlines()[-lines:])

    # ---- clients ----------------------------------------------------------------------
    def _catalog(self, port: int) -> str:
        return f"host={HOST} port={port} dbname={DATABASE} user={USER}"

    def _password(self) -> str | None:
        try:
            with self.client_file.open("rb") as fh:
                return str(tomllib.load(fh)["warehouse"]["catalog_password"])
        except (FileNotFoundError, KeyError, tomllib.TOMLDecodeError):
            return None

    def _write_client_file(self, port: int, password: str) -> None:
        write_private(
            self.client_file,
            "# written by 'finradar infra up --postgres': the local Postgres catalog (keep "
            "private)\n[warehouse]\n"
            f"catalog = {json.dumps(self._catalog(port))}\n"
            f"catalog_password = {json.dumps(password)}\n",
        )

    def client_environment(self) -> dict[str, str]:
        """The ``FINRADAR_WAREHOUSE__…`` variables that point finradar at this cluster
        (the password among them: for the environment of a process, never for a log)."""
        try:
            with self.client_file.open("rb") as fh:
                warehouse = tomllib.load(fh)["warehouse"]
        except (FileNotFoundError, KeyError, tomllib.TOMLDecodeError):
            raise FinradarError(
                "there is no local Postgres yet: 'finradar infra up --postgres' makes one"
            ) from None
        return {
            "FINRADAR_WAREHOUSE__CATALOG": str(warehouse["catalog"]),
            "FINRADAR_WAREHOUSE__CATALOG_PASSWORD": str(warehouse["catalog_password"]),
        }

    def _connect(self, port: int, password: str, dbname: str, timeout_s: int = 5) -> Any:
        # lazy: 'infra status' needs no Postgres client library
        import psycopg

        return psycopg.connect(
            host=HOST,
            port=port,
            dbname=dbname,
            user=USER,
            password=password,
            connect_timeout=timeout_s,
            autocommit=True,
        )

    # ---- public lifecycle -------------------------------------------------------------
    def status(self) -> StandInStatus:
        running = self._postmaster()
        if running is not None:
            pid, port = running
            detail = (
                f"accepting connections (database {DATABASE}, user {USER}, password only)"
                if self._port_open(port)
                else "process alive, port not open yet"
            )
            return StandInStatus("postgres", True, pid, f"{HOST}:{port}", detail)
        detail = "no postgres process"
        if self._port_open(self.port):
            detail += f"; port {self.port} is in use by another process"
        return StandInStatus("postgres", False, None, f"{HOST}:{self.port}", detail)

    def up(self) -> StandInStatus:
        """Make the cluster (first time), start it unless it runs, wait until it accepts
        connections and create the database. Concurrent calls start it once."""
        with one_at_a_time(self.root / "up.lock"):
            return self._up()

    def _up(self) -> StandInStatus:
        running = self._postmaster()
        if running is not None:
            password = self._password()
            if password is None:
                raise FinradarError(
                    f"a Postgres runs on {self.data_dir} but {self.client_file} is missing; "
                    "'finradar infra down --purge' deletes that cluster"
                )
            _, port = running
            self._wait_ready(port, password)
            self._ensure_database(port, password)
            self._write_client_file(port, password)
            return self.status()
        if self._port_open(self.port):
            raise FinradarError(
                f"port {HOST}:{self.port} is already taken by another process; stop it or "
                "set FINRADAR_WAREHOUSE__LOCAL_POSTGRES_PORT"
            )
        binaries = find_postgres_binaries()
        self.root.chmod(0o700)
        password = self._password()
        if not (self.data_dir / "PG_VERSION").exists():
            password = password or secrets.token_urlsafe(24)
            self._write_client_file(self.port, password)
            self._initdb(binaries["initdb"], password)
        elif password is None:
            raise FinradarError(
                f"the Postgres cluster in {self.data_dir} has no {self.client_file.name} "
                "(its password); 'finradar infra down --purge' deletes that cluster"
            )
        self._write_config()
        proc = self._run(
            binaries["pg_ctl"], "start", "-D", str(self.data_dir), "-l", str(self.log_file),
            "-w", "-t", str(int(START_TIMEOUT_S)), "-s",
        )  # fmt: skip
        if proc.returncode != 0:
            output = (proc.stdout + proc.stderr).strip()
            raise FinradarError(
                f"Postgres did not start ({output or f'pg_ctl exit {proc.returncode}'}); "
                f"log tail:\n{self.log_tail()}"
            )
        self._wait_ready(self.port, password)
        self._ensure_database(self.port, password)
        self._write_client_file(self.port, password)
        return self.status()

    def _initdb(self, initdb: Path, password: str) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)  # a half-made one
        fd, pwfile = tempfile.mkstemp(prefix="pwfile.", dir=self.root)  # mode 600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(password + "\n")
            proc = self._run(
                initdb, "-D", str(self.data_dir), "-A", "scram-sha-256", "-U", USER,
                f"--pwfile={pwfile}", "-E", "UTF8", "--no-locale", "--no-sync",
            )  # fmt: skip
        finally:
            Path(pwfile).unlink(missing_ok=True)
        if proc.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-LOG_TAIL_LINES:])
            raise FinradarError(f"initdb failed:\n{tail}")
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as fh:
            fh.write(
                f"\n# finradar: where this cluster listens (each start)\ninclude '{CONFIG_FILE}'\n"
            )

    def _write_config(self) -> None:
        """Where the server listens, written before each start (the port may have changed)."""
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        # a socket folder too deep for a Unix socket's path: TCP only (clients use TCP)
        sockets = (
            str(self.socket_dir) if len(os.fsencode(self.socket_dir)) <= SOCKET_DIR_MAX else ""
        )
        (self.data_dir / CONFIG_FILE).write_text(
            "# written by 'finradar infra up --postgres' before each start\n"
            f"listen_addresses = {_conf_string(HOST)}\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = {_conf_string(sockets)}\n"
            "unix_socket_permissions = 0700\n"
            "password_encryption = 'scram-sha-256'\n",
            encoding="utf-8",
        )

    def _wait_ready(self, port: int, password: str) -> None:
        # lazy: 'infra status' needs no Postgres client library
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self._connect(port, password, "postgres", timeout_s=2).close()
                return
            except psycopg.OperationalError as exc:
                error = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            if self._postmaster() is None:
                raise FinradarError(f"Postgres stopped during start; log tail:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise FinradarError(
                    f"Postgres did not accept connections in {START_TIMEOUT_S:.0f}s ({error}); "
                    f"log tail:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def _ensure_database(self, port: int, password: str) -> None:
        # lazy: 'infra status' needs no Postgres client library
        from psycopg import sql

        with self._connect(port, password, "postgres") as conn:
            found = conn.execute(
                "select 1 from pg_database where datname = %s", (DATABASE,)
            ).fetchone()
            if found is None:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))

    def down(self, purge: bool = False) -> StandInStatus:
        """Stop the server (fast: open sessions are ended). Idempotent. ``purge``: also
        delete the cluster, its log and its password."""
        running = self._postmaster()
        if running is not None:
            pid, _ = running
            proc = self._run(
                find_postgres_binaries()["pg_ctl"], "stop", "-D", str(self.data_dir),
                "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_S), "-s",
            )  # fmt: skip
            if proc.returncode != 0 and self._postmaster() is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGQUIT)  # Postgres's immediate shutdown
                deadline = time.monotonic() + 10
                while self._postmaster() is not None and time.monotonic() < deadline:
                    time.sleep(0.1)
        if purge:
            shutil.rmtree(self.root, ignore_errors=True)
        return self.status()
