"""One typed settings object: defaults, TOML file, FINRADAR_ env vars (env wins)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from finradar.errors import FinradarError
from finradar.settings import load_settings, require_private_pii_key, secrets_in_environment


def test_defaults_point_into_the_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINRADAR_CONFIG", raising=False)
    monkeypatch.chdir(Path(__file__).parent)
    s = load_settings()
    assert s.kafka.bootstrap == "127.0.0.1:9092"
    assert s.var == (s.home / "var").resolve()
    assert s.catalog_path.name == "catalog.sqlite"
    assert s.beam.runner == "FnApiRunner"


def test_toml_file_then_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "finradar.toml"
    config.write_text('[kafka]\nport = 19092\nhost = "127.0.0.2"\n[beam]\nrunner = "X"\n')
    monkeypatch.setenv("FINRADAR_CONFIG", str(config))
    monkeypatch.setenv("FINRADAR_KAFKA__PORT", "29092")
    s = load_settings()
    assert s.kafka.bootstrap == "127.0.0.2:29092"
    assert s.beam.runner == "X"


def test_invalid_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINRADAR_KAFKA__PORT", "70000")
    with pytest.raises(FinradarError, match=r"^invalid setting kafka\.port: "):
        load_settings()


def test_unknown_toml_key_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "finradar.toml"
    config.write_text("kafak_port = 1\n")
    monkeypatch.setenv("FINRADAR_CONFIG", str(config))
    with pytest.raises(FinradarError, match="kafak_port"):
        load_settings()


def test_no_other_module_reads_the_environment() -> None:
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for folder in ("finradar", "contracts", "pipelines", "flows", "warehouse", "infra"):
        for path in (root / folder).rglob("*.py"):
            if path.name == "settings.py" and path.parent.name == "finradar":
                continue
            text = path.read_text(encoding="utf-8")
            if "os.environ" in text or "os.getenv" in text:
                offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_kafka_security_settings_are_checked_together() -> None:
    with pytest.raises(FinradarError, match="needs sasl_username and sasl_password"):
        load_settings(kafka={"security_protocol": "SASL_SSL", "sasl_username": "u"})
    with pytest.raises(FinradarError, match="go together"):
        load_settings(kafka={"security_protocol": "SSL", "ssl_certfile": "/c.pem"})
    with pytest.raises(FinradarError, match=r"invalid setting kafka\.security_protocol"):
        load_settings(kafka={"security_protocol": "TLS"})
    kafka = load_settings(
        kafka={"security_protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": "p"}
    ).kafka
    assert kafka.sasl and kafka.tls and kafka.sasl_mechanism == "SCRAM-SHA-512"


def test_a_pickled_secret_is_a_reference_read_where_it_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FINRADAR_KAFKA__SASL_PASSWORD", raising=False)
    settings = load_settings(
        kafka={
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_username": "u",
            "sasl_password": "pa55-of-this-test",
        },
        ingest={"pii_hash_key": "k3y-of-this-test"},
        warehouse={
            "catalog": "host=db dbname=finradar",
            "catalog_password": "pg-pa55-of-this-test",
            "data_path": "s3://bucket/lake",
            "s3_secret": "s3-s3cret-of-this-test",
        },
    )
    data = pickle.dumps(settings)
    for value in ("pa55-of-this-test", "k3y-of-this-test", "s3-s3cret-of-this-test"):
        assert value.encode() not in data
    copy = pickle.loads(data)  # no environment needed until the value is asked for
    assert "pa55" not in repr(copy) and "pa55" not in str(copy.kafka.sasl_password)
    with pytest.raises(FinradarError, match="FINRADAR_KAFKA__SASL_PASSWORD is not set"):
        copy.kafka.sasl_password.get_secret_value()
    with pytest.raises(FinradarError, match="FINRADAR_WAREHOUSE__CATALOG_PASSWORD is not set"):
        copy.warehouse.catalog_password.get_secret_value()
    with secrets_in_environment(settings):
        assert pickle.loads(data).kafka.sasl_password.get_secret_value() == "pa55-of-this-test"
        assert pickle.loads(data).warehouse.s3_secret.get_secret_value() == "s3-s3cret-of-this-test"
    assert "FINRADAR_KAFKA__SASL_PASSWORD" not in os.environ  # restored


def test_the_local_secured_brokers_client_settings_sit_under_the_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FINRADAR_CONFIG", raising=False)
    client = tmp_path / "var" / "kafka" / "secure" / "client.toml"
    client.parent.mkdir(parents=True)
    client.write_text(
        '[kafka]\nhost = "127.0.0.1"\nport = 19092\nsecurity_protocol = "SASL_SSL"\n'
        'sasl_username = "finradar"\nsasl_password = "pw"\nssl_cafile = "/x/ca.pem"\n'
    )
    settings = load_settings(var_dir=tmp_path / "var", kafka={"port": 19092, "heap": "1g"})
    assert settings.kafka.security_protocol == "SASL_SSL"
    assert settings.kafka.heap == "1g"  # merged with the user's, not replaced
    assert settings.kafka.sasl_password is not None
    assert settings.kafka.sasl_password.env_name == "FINRADAR_KAFKA__SASL_PASSWORD"
    # the user's own security settings: none of the file's (not its CA either)
    mine = load_settings(
        var_dir=tmp_path / "var", kafka={"port": 19092, "security_protocol": "SSL"}
    )
    assert mine.kafka.security_protocol == "SSL" and mine.kafka.ssl_cafile is None
    # another broker: none of them
    other = load_settings(var_dir=tmp_path / "var", kafka={"port": 29092})
    assert other.kafka.security_protocol == "PLAINTEXT" and other.kafka.sasl_username is None
    assert load_settings(var_dir=tmp_path / "other").kafka.security_protocol == "PLAINTEXT"


def test_the_public_default_pii_key_is_refused_unless_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FINRADAR_INGEST__PII_HASH_KEY", raising=False)
    settings = load_settings()
    assert settings.uses_default_pii_key
    with pytest.raises(FinradarError, match="public default key"):
        require_private_pii_key(settings)
    require_private_pii_key(load_settings(ingest={"allow_default_pii_key": True}))
    require_private_pii_key(load_settings(ingest={"pii_hash_key": "my-own-key"}))


def test_ingest_and_replay_refuse_the_default_pii_key_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FINRADAR_INGEST__PII_HASH_KEY"}
    env["FINRADAR_VAR_DIR"] = str(tmp_path / "var")
    for command in (["ingest", "--once"], ["replay"], ["follow", "--max-passes", "1"]):
        result = subprocess.run(
            [sys.executable, "-m", "finradar", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "public default key" in lines[0], result.stderr
    assert not (tmp_path / "var" / "warehouse").exists()  # refused before anything was made


def test_alert_settings_defaults_env_and_a_secret_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FINRADAR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    alerts = load_settings().alerts
    assert alerts.webhook_url is None and alerts.flow_failed and alerts.error_findings
    assert (alerts.quarantine_rate_max, alerts.quarantine_window_s) == (0.05, 900.0)
    assert (alerts.freshness_sla_s, alerts.lag_max_messages) == (86_400.0, 100_000)
    url = "https://hooks.example/services/T0/B0/tok3n"
    monkeypatch.setenv("FINRADAR_ALERTS__WEBHOOK_URL", url)
    monkeypatch.setenv("FINRADAR_ALERTS__FRESHNESS_SLA_BY_TOPIC", '{"fi.spend.disclosures.v1": 60}')
    settings = load_settings()
    assert settings.alerts.freshness_sla_by_topic == {"fi.spend.disclosures.v1": 60.0}
    assert settings.alerts.webhook_url is not None
    assert settings.alerts.webhook_url.get_secret_value() == url
    assert "tok3n" not in repr(settings) and "tok3n" not in str(settings.alerts)
    assert dict(settings.secrets())["alerts__webhook_url"].env_name == (
        "FINRADAR_ALERTS__WEBHOOK_URL"
    )
    with pytest.raises(FinradarError, match=r"invalid setting alerts\.quarantine_rate_max"):
        load_settings(alerts={"quarantine_rate_max": 1.5})


def test_the_readmes_settings_file_is_one_finradar_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``finradar.toml`` the README shows (Configuration) loads as it says."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```toml\n# finradar.toml\n", 1)[1].split("```", 1)[0]
    config = tmp_path / "finradar.toml"
    config.write_text(block, encoding="utf-8")
    monkeypatch.setenv("FINRADAR_CONFIG", str(config))
    settings = load_settings()
    assert settings.prefect.ui is True and settings.prefect.server_port == 4200
    assert settings.ingest.gx_rows == 120_000 and settings.beam.workers == 2
    assert settings.warehouse.commit_threads == 2
    assert settings.alerts.freshness_sla_by_topic == {"fi.spend.disclosures.v1": 3600}


def test_the_readmes_secured_broker_settings_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``[kafka]`` block the README shows (Security), its password from the environment."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("### Security", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    config = tmp_path / "finradar.toml"
    config.write_text(block, encoding="utf-8")
    monkeypatch.setenv("FINRADAR_CONFIG", str(config))
    monkeypatch.setenv("FINRADAR_KAFKA__SASL_PASSWORD", "from-the-secret-store")
    kafka = load_settings().kafka
    assert (kafka.host, kafka.port, kafka.security_protocol) == ("kafka.internal", 9093, "SASL_SSL")
    assert kafka.sasl and kafka.tls and kafka.sasl_username == "finradar-ingest"
    assert kafka.sasl_password is not None
    assert kafka.sasl_password.get_secret_value() == "from-the-secret-store"


@pytest.mark.parametrize(
    "catalog",
    [
        "host=db dbname=finradar user=finradar password=hunter2",
        "postgresql://finradar:hunter2@db:5432/finradar",
    ],
)
def test_a_password_in_the_catalog_string_is_refused(catalog: str) -> None:
    with pytest.raises(FinradarError, match="catalog_password") as caught:
        load_settings(warehouse={"catalog": catalog})
    assert "hunter2" not in str(caught.value)


def test_a_catalog_without_a_password_loads() -> None:
    for catalog in ("host=db dbname=finradar user=finradar", "postgresql://finradar@db/finradar"):
        assert load_settings(warehouse={"catalog": catalog}).catalog_is_postgres
