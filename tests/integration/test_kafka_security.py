"""The platform against a secured broker (``finradar infra up --secure``): SASL_SSL with
SCRAM-SHA-512, and mutual TLS; what a client with wrong settings is told; and that no secret
reaches a log, an artifact, an error, ``--help`` or a pickled pipeline."""

from __future__ import annotations

import base64
import bz2
import json
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from finradar.settings import Settings, load_settings
from infra.producing import publish_synthetic
from tests.integration.cli_runner import finradar_env

PORTS = {"port": 29892, "controller_port": 29893, "mtls_port": 29894}
PII_KEY = "a-pii-key-of-the-security-test-5f1c"
SYNTHETIC = 2_000

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "openssl"], capture_output=True).returncode != 0,
    reason="openssl is not installed",
)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """An own broker made secure, and the settings its clients then have."""
    from infra.broker import LocalBroker

    var = tmp_path_factory.mktemp("secure") / "var"
    before = load_settings(var_dir=var, kafka=PORTS)
    assert before.kafka.security_protocol == "PLAINTEXT"
    broker = LocalBroker(before)
    broker.up(secure=True)
    settings = load_settings(var_dir=var, kafka=PORTS, ingest={"pii_hash_key": PII_KEY})
    yield settings
    broker.down(purge=True)


def _secrets(settings: Settings) -> dict[str, str]:
    values = json.loads((settings.var / "kafka/secure/server.secrets").read_text())
    return {**values, "pii_hash_key": PII_KEY}


def _run(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **finradar_env(settings),
        "FINRADAR_KAFKA__MTLS_PORT": str(settings.kafka.mtls_port),
        "FINRADAR_INGEST__PII_HASH_KEY": PII_KEY,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "finradar", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


_outputs: list[str] = []  # every CLI output of this module, for the secrets check


def _ok(settings: Settings, *args: str, **env: str) -> str:
    result = _run(settings, *args, **env)
    _outputs.append(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _one_line_failure(settings: Settings, *args: str, **env: str) -> str:
    # a refused client retries until it gives up: soon, here
    result = _run(settings, *args, FINRADAR_KAFKA__CONNECT_TIMEOUT_S="4", **env)
    _outputs.append(result.stdout + result.stderr)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("finradar: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_the_clients_are_set_up_for_scram_over_tls(secured: Settings) -> None:
    kafka = secured.kafka
    assert kafka.security_protocol == "SASL_SSL"
    assert kafka.sasl_mechanism == "SCRAM-SHA-512"
    assert kafka.ssl_cafile is not None and kafka.ssl_cafile.is_file()
    folder = secured.var / "kafka/secure"
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o600}
    assert not (folder / "ca.key").exists()  # the throwaway CA signs nothing more


def test_produce_ingest_follow_and_lag_over_sasl_ssl(secured: Settings) -> None:
    from infra.kafka_clients import close_shared
    from pipelines.ingest import run_once
    from pipelines.planning import consumer_lag_if_reachable

    _ok(secured, "produce", "--corpus", "seeds")
    _ok(secured, "produce", "--synthetic", str(SYNTHETIC), "--workers", "2")
    summary = json.loads(_ok(secured, "ingest", "--once", "--json"))
    assert summary["consumed"] >= SYNTHETIC and summary["landed"] > 0
    lag = consumer_lag_if_reachable(secured)
    assert lag is not None and sum(r.size for r in lag) == 0

    publish_synthetic(300, 0.0, 41, secured.kafka, workers=1)
    try:
        follow_pass = run_once(secured, follow=True)
    finally:
        close_shared()
    assert follow_pass.consumed == 300


def test_mutual_tls_clients(secured: Settings) -> None:
    mtls = {
        "FINRADAR_CONFIG": str(secured.var / "kafka/secure/client-mtls.toml"),
        "FINRADAR_KAFKA__PORT": str(secured.kafka.mtls_port),
    }
    _ok(secured, "produce", "--synthetic", "500", "--workers", "1", **mtls)
    summary = json.loads(_ok(secured, "ingest", "--once", "--json", **mtls))
    assert summary["consumed"] >= 500

    # the same listener without a client certificate
    line = _one_line_failure(
        secured,
        "produce",
        "--corpus",
        "seeds",
        FINRADAR_KAFKA__PORT=str(secured.kafka.mtls_port),
        FINRADAR_KAFKA__SECURITY_PROTOCOL="SSL",
        FINRADAR_KAFKA__SSL_CAFILE=str(secured.kafka.ssl_cafile),
    )
    assert "requires a client certificate" in line


def _own_settings(secured: Settings, **changed: object) -> dict[str, str]:
    """The secured broker's client settings as a user's own (environment variables), with
    ``changed``: set above them, the local broker's client file applies no more."""
    kafka = secured.kafka
    assert kafka.sasl_password is not None
    fields = {
        "security_protocol": kafka.security_protocol,
        "sasl_mechanism": kafka.sasl_mechanism,
        "sasl_username": kafka.sasl_username,
        "sasl_password": kafka.sasl_password.get_secret_value(),
        "ssl_cafile": kafka.ssl_cafile,
        **changed,
    }
    return {f"FINRADAR_KAFKA__{name.upper()}": str(value) for name, value in fields.items()}


def test_the_users_own_settings_reach_the_broker(secured: Settings) -> None:
    """The same settings set by the user (the local client file then applies no more)."""
    _ok(secured, "produce", "--corpus", "seeds", **_own_settings(secured))


def test_a_wrong_password_is_one_line(secured: Settings) -> None:
    for command in (("produce", "--corpus", "seeds"), ("ingest", "--once")):
        line = _one_line_failure(
            secured, *command, **_own_settings(secured, sasl_password="not-the-password")
        )
        assert "refused the SCRAM-SHA-512 login of user 'finradar'" in line


def test_an_unknown_ca_is_one_line(secured: Settings, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
            str(tmp_path / "k.pem"), "-out", str(other_ca), "-days", "1", "-subj", "/CN=other",
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    for command in (("produce", "--corpus", "seeds"), ("ingest", "--once")):
        line = _one_line_failure(secured, *command, **_own_settings(secured, ssl_cafile=other_ca))
        assert "presented a certificate not trusted by" in line


def test_a_plaintext_client_is_one_line(secured: Settings) -> None:
    for command in (("produce", "--corpus", "seeds"), ("ingest", "--once")):
        line = _one_line_failure(secured, *command, FINRADAR_KAFKA__SECURITY_PROTOCOL="PLAINTEXT")
        assert "expects TLS, but kafka.security_protocol is PLAINTEXT" in line


def _pickled_steps(pipeline) -> list[bytes]:
    """The pickles of every DoFn of ``pipeline``'s portable form (what a job server gets)."""
    from apache_beam.portability import common_urns
    from apache_beam.portability.api import beam_runner_api_pb2

    pickles = []
    proto = pipeline.to_runner_api()
    for transform in proto.components.transforms.values():
        if transform.spec.urn != common_urns.primitives.PAR_DO.urn:
            continue
        payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
        data = base64.b64decode(payload.do_fn.payload)
        if data.startswith(b"BZh"):  # Beam compresses with bz2 or zlib
            data = bz2.decompress(data)
        elif not data.startswith(b"\x80"):
            data = zlib.decompress(data)
        assert data.startswith(b"\x80"), transform.unique_name  # a pickle
        pickles.append(data)
    return pickles


def test_no_pickled_step_carries_a_secret(secured: Settings, tmp_path: Path) -> None:
    import apache_beam as beam

    from handoff.records import PartitionRange
    from pipelines.ingest_pipeline import build_pipeline

    plan = [PartitionRange("fi.spend.disclosures.v1", 0, 0, 300_000)]
    for follow in (False, True):
        pipeline = beam.Pipeline()
        build_pipeline(pipeline, secured, plan, "b", _now(), tmp_path, follow=follow)
        pickles = _pickled_steps(pipeline)
        assert len(pickles) > 5
        for name, value in _secrets(secured).items():
            assert not any(value.encode() in p for p in pickles), name
        # the references instead
        for name in ("FINRADAR_KAFKA__SASL_PASSWORD", "FINRADAR_INGEST__PII_HASH_KEY"):
            assert any(name.encode() in p for p in pickles), name


def test_the_secured_storage_stays_secured(secured: Settings) -> None:
    """A later plain ``infra up`` of the same storage keeps it secured: its clients still
    use SASL_SSL, and a PLAINTEXT client is still refused."""
    result = _run(secured, "infra", "up")
    assert result.returncode == 0, result.stderr
    assert "accepting connections" in result.stdout
    line = _one_line_failure(
        secured, "produce", "--corpus", "seeds", FINRADAR_KAFKA__SECURITY_PROTOCOL="PLAINTEXT"
    )
    assert "expects TLS" in line
    assert (secured.var / "kafka" / "data" / "finradar-secured").is_file()


def test_no_secret_in_logs_artifacts_errors_or_help(secured: Settings) -> None:
    """Runs last in this module: everything the tests above wrote is under var/."""
    secrets = _secrets(secured)
    helps = [_ok(secured, "--help")]
    from finradar.cli import build_parser

    for command in build_parser()._subparsers._group_actions[0].choices:  # type: ignore[union-attr]
        helps.append(_ok(secured, command, "--help"))
    # the stores of the secrets themselves: the client settings and the broker's config
    stores = {
        secured.var / "kafka/secure/client.toml",
        secured.var / "kafka/secure/server.secrets",
        secured.var / "kafka/config/server.properties",
    }
    scanned = 0
    for path in secured.var.rglob("*"):
        if not path.is_file() or path in stores:
            continue
        data = path.read_bytes()
        scanned += 1
        for name, value in secrets.items():
            assert value.encode() not in data, f"{name} in {path}"
    assert scanned > 20  # logs, the warehouse, GX results, reports
    for text in (*_outputs, *helps):
        for name, value in secrets.items():
            assert value not in text, name


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
