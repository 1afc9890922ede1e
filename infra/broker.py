"""A real Apache Kafka broker for local use: jars from Maven Central, KRaft combined mode.

``up`` resolves the jars once (Maven, cached under ``.cache/kafka/<version>/lib``), formats
the storage on first start, starts the JVM detached, waits until the broker answers a
metadata request and creates the topics of ``contracts/topics.yaml``. ``up``, ``down`` and
``status`` are idempotent and trust the process table and the port, not only the PID file.

``up(secure=True)`` makes the storage secure when it is first formatted (TLS on every
listener, SASL_SCRAM users, a throwaway CA: ``infra.broker_security``); a secured storage
stays secured on every later ``up``, until ``down(purge=True)``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

from kafka.errors import KafkaError

from finradar.errors import FinradarError, TransientError
from finradar.settings import Settings, local_broker_client
from infra import class_archive
from infra.broker_security import (
    SECURED_MARKER,
    SecureMaterial,
    is_secured,
    load_material,
    secure_folder,
    secure_material,
    storage_arguments_file,
    write_private,
)
from infra.kafka_clients import admin
from infra.topics import ensure_topics
from infra.versions import InfraVersions, load_versions

KAFKA_DIR = Path(__file__).with_name("kafka")
MAIN_CLASS = "kafka.Kafka"
LOG_TAIL_LINES = 25


@contextlib.contextmanager
def one_at_a_time(lock: Path) -> Iterator[None]:
    """Wait for, then hold, an exclusive lock on ``lock``: a second ``up`` (another
    terminal, another test worker) waits for the first and then finds its work done."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    detail: str

    @property
    def managed(self) -> bool:
        return self.pid is not None

    def line(self) -> str:
        state = "stopped"
        if self.running:
            state = f"running (pid {self.pid})" if self.managed else "running"
        return f"kafka {state} at {self.bootstrap}: {self.detail}"


def new_cluster_id() -> str:
    """A random KRaft cluster id (base64url of a UUID), as Kafka's own ``Uuid.randomUuid``
    makes it: never starting with '-', which the storage tool would read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalBroker:
    """Lifecycle of the project's own broker under ``var/kafka``."""

    def __init__(self, settings: Settings, versions: InfraVersions | None = None) -> None:
        self.settings = settings
        self.kafka = settings.kafka
        self.versions = versions or load_versions()
        root = settings.kafka_dir
        self.data_dir = root / "data"
        self.log_dir = root / "logs"
        self.config_dir = root / "config"
        self.pid_file = root / "broker.pid"
        self.log_file = self.log_dir / "server.log"
        self.lib_dir = settings.cache / "kafka" / self.versions.kafka / "lib"

    # ---- jars -------------------------------------------------------------------------
    def ensure_jars(self) -> Path:
        """Resolve the broker's runtime jars with Maven once; later calls are free."""
        marker = self.lib_dir / ".complete"
        if marker.exists():
            return self.lib_dir
        with one_at_a_time(self.lib_dir.with_name("lib.lock")):
            if not marker.exists():
                self._resolve_jars(marker)
        return self.lib_dir

    def _resolve_jars(self, marker: Path) -> None:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise FinradarError("Maven (mvn) is not installed; it is needed once to fetch Kafka")
        if shutil.which("java") is None:
            raise FinradarError("java is not installed; the Kafka broker needs a JDK 17+")
        tmp = self.lib_dir.with_name("lib.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        props = [f"-D{k}={v}" for k, v in self.versions.maven_properties().items()]
        cmd = [
            mvn, "-q", "-B", "-f", str(KAFKA_DIR / "pom.xml"),
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}", *props,
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-LOG_TAIL_LINES:])
            raise FinradarError(f"could not resolve Kafka {self.versions.kafka} jars:\n{tail}")
        shutil.rmtree(self.lib_dir, ignore_errors=True)
        tmp.rename(self.lib_dir)
        marker.touch()

    # ---- configuration ----------------------------------------------------------------
    def _render_config(self, material: SecureMaterial | None) -> Path:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        name = "server-secure" if material else "server"
        template = Template((KAFKA_DIR / f"{name}.properties.template").read_text("utf-8"))
        values: dict[str, object] = {
            "host": self.kafka.host,
            "port": self.kafka.port,
            "controller_port": self.kafka.controller_port,
            "data_dir": self.data_dir,
        }
        if material:
            values |= {
                "mtls_port": self.kafka.mtls_port,
                "keystore": material.keystore,
                "keystore_password": material.keystore_password,
                "ca": material.ca,
            }
        path = self.config_dir / "server.properties"
        # it may hold the keystore's password: readable by its owner only
        write_private(path, template.substitute(values))
        return path

    def _java(self, *args: str) -> list[str]:
        return [
            "java", f"-Xmx{self.kafka.heap}", f"-Xms{self.kafka.heap}",
            *self.kafka.jvm_options, "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.yaml'}",
            "-cp", f"{self.lib_dir}/*", *args,
        ]  # fmt: skip

    def _sharing(self) -> list[str]:
        """The class archive's options for a JVM of this broker's jars (``infra.class_archive``)."""
        if class_archive.chosen_by_user(self.kafka.jvm_options):
            return []
        return class_archive.sharing_options(self.lib_dir)

    def _recording(self) -> list[str]:
        """The broker's own start: it maps the archive, or records one as it exits."""
        if class_archive.chosen_by_user(self.kafka.jvm_options):
            return []
        return class_archive.recording_options(self.lib_dir)[0]

    def _pending_archive(self, pid: int) -> Path | None:
        """The archive the broker ``pid`` records as it exits, if it does."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            return None
        option = "-XX:ArchiveClassesAtExit="
        return next((Path(o.removeprefix(option)) for o in cmdline if o.startswith(option)), None)

    @property
    def formatted(self) -> bool:
        return (self.data_dir / "meta.properties").exists()

    def _format_storage(self, config: Path, material: SecureMaterial | None) -> None:
        if self.formatted:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = new_cluster_id()
        arguments = [
            "kafka.tools.StorageTool", "format", "--standalone",
            "-t", cluster_id, "-c", str(config),
        ]  # fmt: skip
        if material is None:
            proc = subprocess.run(
                self._java(*self._sharing(), *arguments),
                capture_output=True,
                text=True,
                check=False,
            )
        else:
            # the SCRAM user of a secured broker, created by Kafka's own tool; its password
            # in a Java argument file, not on a command line ('ps' shows those to everyone)
            argfile = storage_arguments_file(material, [*arguments, *material.scram_arguments()])
            try:
                proc = subprocess.run(
                    self._java(*self._sharing(), f"@{argfile}"),
                    capture_output=True,
                    text=True,
                    check=False,
                )
            finally:
                argfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            output = proc.stdout + proc.stderr
            if material is not None:
                output = output.replace(material.client_password, "**********")
            raise FinradarError(f"formatting Kafka storage failed:\n{output}")
        if material is not None:
            (self.data_dir / SECURED_MARKER).write_text("SASL_SSL with SCRAM users\n")

    # ---- process ----------------------------------------------------------------------
    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    @staticmethod
    def _is_broker_process(pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        zombie = stat.rsplit(")", 1)[-1].split()[0] == "Z"
        return not zombie and MAIN_CLASS.encode() in cmdline

    def _port_open(self, port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((self.kafka.host, port)) == 0

    def _answers_metadata(self) -> bool:
        try:
            client = admin(
                self.kafka,
                client_id="finradar-status",
                request_timeout_ms=3000,
                # a port held by something that is not Kafka never answers: give up soon
                bootstrap_timeout_ms=3000,
            )
        except (KafkaError, OSError, TransientError):
            # a broker that refuses these settings (a login, a certificate) says so
            return False
        try:
            client.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            client.close()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no broker log yet)"
        return "\n".join(text.splitlines()[-lines:])

    # ---- public lifecycle -------------------------------------------------------------
    def status(self) -> BrokerStatus:
        pid = self._read_pid()
        bootstrap = self.kafka.bootstrap
        if pid is not None and self._is_broker_process(pid):
            if self._port_open(self.kafka.port):
                return BrokerStatus(True, pid, bootstrap, "accepting connections")
            return BrokerStatus(True, pid, bootstrap, "process alive, port not open yet")
        if self._port_open(self.kafka.port) and self._answers_metadata():
            # e.g. the compose broker or another checkout's: usable, but not ours to stop
            return BrokerStatus(True, None, bootstrap, "external broker, not managed here")
        detail = "no broker process"
        if pid is not None:
            detail = f"no broker process (stale pid file for {pid})"
        if self._port_open(self.kafka.port):
            detail += f"; port {self.kafka.port} is in use by another process"
        return BrokerStatus(False, None, bootstrap, detail)

    def up(self, secure: bool = False) -> BrokerStatus:
        """Start the broker unless it runs; wait until it serves metadata; create topics.
        Concurrent calls for the same broker start it once. ``secure``: see the module."""
        with one_at_a_time(self.pid_file.with_name("up.lock")):
            return self._up(secure)

    def _secure_material(self, secure: bool) -> SecureMaterial | None:
        """The secured storage's material (made now for a new ``secure`` storage)."""
        if is_secured(self.settings):
            material = load_material(secure_folder(self.settings))
        elif not secure:
            return None
        elif self.formatted:
            raise FinradarError(
                f"the broker's storage under {self.data_dir} was made without security; "
                "'finradar infra down --purge' deletes it (and its messages), then "
                "'finradar infra up --secure' makes a secured one"
            )
        else:
            material = secure_material(self.settings)
        # the clients of this broker: what 'infra up --secure' wrote, if it applies under
        # the user's own settings (as finradar.settings reads it)
        own = self.settings.kafka.model_dump(exclude_defaults=True)
        self.kafka = self.settings.kafka.updated(local_broker_client(own, self.settings.var))
        return material

    def _up(self, secure: bool) -> BrokerStatus:
        material = self._secure_material(secure)
        current = self.status()
        if current.running:
            if secure and material is None:
                raise FinradarError(
                    f"a broker runs at {self.kafka.bootstrap} without security; stop it "
                    "first ('finradar infra down')"
                )
            if current.pid is not None:
                self._wait_ready(current.pid)
            ensure_topics(self.kafka)
            return self.status()
        ports = (self.kafka.port, self.kafka.controller_port)
        for port in (*ports, self.kafka.mtls_port) if material else ports:
            if self._port_open(port):
                raise FinradarError(
                    f"port {self.kafka.host}:{port} is already taken by another process; "
                    "stop it or set FINRADAR_KAFKA__PORT / FINRADAR_KAFKA__CONTROLLER_PORT"
                )
        self.ensure_jars()
        config = self._render_config(material)
        self._format_storage(config, material)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                self._java(*self._recording(), MAIN_CLASS, str(config)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives the CLI; not killed by its Ctrl-C
                cwd=self.settings.kafka_dir,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        self._wait_ready(proc.pid, proc)
        ensure_topics(self.kafka)
        return self.status()

    def _wait_ready(self, pid: int | None, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + self.kafka.start_timeout_s
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise FinradarError(
                    f"Kafka exited during start (code {proc.returncode}); log tail:\n"
                    + self.log_tail()
                )
            # A child we just spawned may not have exec'd java yet; poll() speaks for it.
            if proc is None and pid is not None and not self._is_broker_process(pid):
                raise FinradarError("Kafka stopped during start; log tail:\n" + self.log_tail())
            if self._port_open(self.kafka.port) and self._answers_metadata():
                return
            time.sleep(0.25)
        if pid is not None:
            self._terminate(pid, force=True)
        raise FinradarError(
            f"Kafka did not become ready in {self.kafka.start_timeout_s:.0f}s; log tail:\n"
            + self.log_tail()
        )

    def _terminate(self, pid: int, force: bool = False) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL if force else signal.SIGTERM)

    def down(self, purge: bool = False) -> BrokerStatus:
        """Stop the broker (SIGTERM, then SIGKILL after the stop timeout). Idempotent."""
        pid = self._read_pid()
        if pid is not None and self._is_broker_process(pid):
            pending = self._pending_archive(pid)
            self._terminate(pid)
            deadline = time.monotonic() + self.kafka.stop_timeout_s
            while self._is_broker_process(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if self._is_broker_process(pid):
                self._terminate(pid, force=True)
                while self._is_broker_process(pid):
                    time.sleep(0.1)
                if pending is not None:  # perhaps half written
                    class_archive.discard(pending)
            elif pending is not None:
                class_archive.adopt(pending, self.lib_dir)
        self.pid_file.unlink(missing_ok=True)
        if purge:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            shutil.rmtree(secure_folder(self.settings), ignore_errors=True)
        return self.status()
