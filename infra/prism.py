"""Apache Beam's Prism runner, built locally, and the processes a portable run needs.

``prism_binary`` builds Prism once from Beam's Go module, fetched from the Go module proxy,
with the fixes of ``infra.prism_patches`` (about five minutes cold; a 66 MB binary under
``.cache/prism/v<beam version>-<patch level>/prism``) for the Beam version installed here,
so Beam never tries to download it from GitHub.
``prism_options`` are the pipeline options of a run on ``PrismRunner`` (Beam starts and
stops Prism itself); ``job_server`` starts Prism as a job server of its own for
``PortableRunner`` (``--job_endpoint``), and ``worker_pool`` a pool of SDK worker processes
for the ``EXTERNAL`` environment.

Infra stays below the pipelines: nothing here imports Apache Beam (the worker pool is a
child process).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from finradar.errors import FinradarError
from finradar.settings import Settings, child_env, secrets_in_environment
from infra.broker import one_at_a_time
from infra.prism_patches import LEVEL, apply_patches

PRISM_MODULE = "github.com/apache/beam/sdks/v2"
PRISM_MAIN = "go/cmd/prism"  # the package, inside the module
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 5

# A worker pool like ``python -m apache_beam.runners.worker.worker_pool_main``, which
# listens on every interface ("[::]:PORT"); this one takes the host to bind as well.
# Its workers are processes started with the ``python`` found on PATH.
_WORKER_POOL_MAIN = """\
import sys
import grpc
from apache_beam.portability.api import beam_fn_api_pb2_grpc
from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer
from apache_beam.utils import thread_pool_executor

host, port = sys.argv[1], int(sys.argv[2])
server = grpc.server(
    thread_pool_executor.shared_unbounded_instance(),
    options=[("grpc.http2.max_pings_without_data", 0), ("grpc.http2.max_ping_strikes", 0)],
)
pool = BeamFnExternalWorkerPoolServicer(use_process=True, data_buffer_time_limit_ms=-1)
beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, server)
if not server.add_insecure_port(f"{host}:{port}"):
    sys.exit(f"the worker pool cannot listen on {host}:{port}")
server.start()
print(f"worker pool listening on {host}:{port}", flush=True)
server.wait_for_termination()
"""


def beam_version() -> str:
    """The installed Apache Beam's version (read without importing Beam)."""
    return importlib.metadata.version("apache-beam")


def prism_dir(settings: Settings, version: str | None = None) -> Path:
    """Where the Prism of Beam ``version`` (the installed one by default), patched at
    ``infra.prism_patches.LEVEL``, is built."""
    return settings.cache / "prism" / f"v{version or beam_version()}-{LEVEL}"


def prism_binary(settings: Settings, version: str | None = None) -> Path:
    """The Prism binary of Beam ``version`` (the installed one by default), built from its
    patched source (``_patched_source``) into the project's cache the first time; a second
    process asking meanwhile waits for the first build instead of starting its own."""
    folder = prism_dir(settings, version)
    binary = folder / "prism"
    if _is_executable(binary):
        return binary
    with one_at_a_time(folder.with_name(folder.name + ".lock")):
        if not _is_executable(binary):
            print(
                f"finradar: building Beam's Prism runner v{version or beam_version()} once "
                f"into {folder} (a few minutes)",
                file=sys.stderr,
            )
            _build(folder, binary, version or beam_version())
    return binary


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _build(folder: Path, binary: Path, version: str) -> None:
    go = shutil.which("go")
    if go is None:
        raise FinradarError(
            f"Go (go) is not installed; it is needed once to build Beam's Prism runner "
            f"(prism v{version}; see https://go.dev/doc/install)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    # built in a folder of its own, then moved: an interrupted build leaves no binary
    partial = folder / "partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    log = folder / "build.log"
    # one package at a time: the default parallel build needs more memory than we have
    goflags = f"{child_env().get('GOFLAGS', '')} -p=1".strip()
    env = child_env(GOFLAGS=goflags)
    built = partial / "prism"
    try:
        with log.open("w") as out:
            source = _patched_source(go, version, partial, env, out)
            # (no VCS stamp: the copy may sit inside another repository, the project's)
            cmd = [go, "build", "-buildvcs=false", "-o", str(built), f"./{PRISM_MAIN}"]
            subprocess.run(cmd, cwd=source, stdout=out, stderr=subprocess.STDOUT, env=env)
        if not _is_executable(built):
            raise FinradarError(
                f"building Beam's Prism runner (prism v{version}) failed: {_last_line(log)}; "
                f"see {log}"
            )
        built.replace(binary)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _patched_source(
    go: str, version: str, partial: Path, env: Mapping[str, str], log: IO[str]
) -> Path:
    """A copy of Beam's Go module v``version`` (from the Go module proxy, through Go's
    module cache, whose files must not change) under ``partial``, with
    ``infra.prism_patches`` applied."""
    cmd = [go, "mod", "download", "-json", f"{PRISM_MODULE}@v{version}"]
    proc = subprocess.run(
        cmd, cwd=partial, stdout=subprocess.PIPE, stderr=log, env=env, text=True, check=False
    )
    try:
        downloaded = json.loads(proc.stdout)
    except ValueError:
        downloaded = None
    if not isinstance(downloaded, dict):
        downloaded = {}
    if proc.returncode != 0 or "Dir" not in downloaded:
        log.flush()
        why = downloaded.get("Error") or _last_line(Path(log.name))
        raise FinradarError(
            f"downloading Beam's Go module for Prism (v{version}) failed: {why}; see {log.name}"
        )
    module, source = Path(downloaded["Dir"]), partial / "source"
    source.mkdir()
    for name in ("go.mod", "go.sum"):
        shutil.copyfile(module / name, source / name)
    # the module's Go code alone (its Java, Python and TypeScript are most of its size)
    shutil.copytree(module / "go", source / "go", copy_function=shutil.copyfile)
    for directory, _, _ in os.walk(source):
        os.chmod(directory, 0o755)  # copied read-only, as the module cache keeps them
    apply_patches(source, version)
    return source


def _last_line(path: Path) -> str:
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else "no output"


def prism_options(
    settings: Settings, environment: str = "LOOPBACK", worker_pool: str | None = None
) -> list[str]:
    """Pipeline options for ``runner = "PrismRunner"``: Beam starts the locally built Prism
    (nothing downloaded). ``LOOPBACK``: the SDK workers run in the driver's process;
    ``EXTERNAL``: in the processes of the ``worker_pool`` at that address."""
    return [
        f"--prism_location={prism_binary(settings)}",
        *environment_options(environment, worker_pool),
    ]


def portable_options(
    job_endpoint: str, environment: str = "EXTERNAL", worker_pool: str | None = None
) -> list[str]:
    """Pipeline options for ``runner = "PortableRunner"`` to a running job server
    (``job_server``)."""
    return [f"--job_endpoint={job_endpoint}", *environment_options(environment, worker_pool)]


def environment_options(environment: str, worker_pool: str | None = None) -> list[str]:
    environment = environment.upper()
    if environment == "EXTERNAL":
        if not worker_pool:
            raise FinradarError("the EXTERNAL environment needs a worker pool's address")
        return ["--environment_type=EXTERNAL", f"--environment_config={worker_pool}"]
    if environment == "LOOPBACK":
        return ["--environment_type=LOOPBACK"]
    raise FinradarError(f"unsupported Beam environment {environment!r} (LOOPBACK or EXTERNAL)")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def job_server(settings: Settings, port: int | None = None) -> Iterator[str]:
    """Prism as a job server (``PortableRunner --job_endpoint``), stopped on exit; yields
    its endpoint. Prism listens on every interface (it has no option to bind one)."""
    port = port or free_port()
    cmd = [
        str(prism_binary(settings)), f"--job_port={port}", "--serve_http=false",
        "--log_level=warn",
    ]  # fmt: skip
    with _child(cmd, settings.var / "prism" / "job_server.log", port, "Prism", child_env()):
        yield f"localhost:{port}"


@contextlib.contextmanager
def worker_pool(
    settings: Settings, port: int | None = None, host: str = "127.0.0.1"
) -> Iterator[str]:
    """A pool of SDK worker processes for the ``EXTERNAL`` environment, listening on
    ``host`` only, stopped (with its workers) on exit; yields its address, the
    ``--environment_config`` of the runs that use it. The workers are started with the
    ``python`` found on PATH: this interpreter's ``bin`` comes first. The settings' secrets
    are in the pool's environment: its workers read them there (``Secret``)."""
    port = port or free_port(host)
    bin_dir = str(Path(sys.executable).parent)
    with secrets_in_environment(settings):
        env = child_env(PATH=os.pathsep.join([bin_dir, child_env().get("PATH", "")]))
    env.pop("PYTHONHOME", None)
    cmd = [sys.executable, "-c", _WORKER_POOL_MAIN, host, str(port)]
    with _child(cmd, settings.var / "prism" / "worker_pool.log", port, "the worker pool", env):
        yield f"{host}:{port}"


@contextlib.contextmanager
def _child(
    cmd: list[str], log_path: Path, port: int, name: str, env: Mapping[str, str]
) -> Iterator[None]:
    """``cmd`` as a child process in a session of its own (its children go with it),
    logging to ``log_path``, once it accepts connections on ``port``; stopped on exit."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(port):
            if proc.poll() is not None:
                raise FinradarError(
                    f"{name} exited with {proc.returncode}: {_last_line(log_path)}; see {log_path}"
                )
            if time.monotonic() > deadline:
                raise FinradarError(f"{name} did not listen on port {port} in {START_TIMEOUT_S} s")
            time.sleep(0.1)
        yield
    finally:
        _stop(proc)


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
