"""Versions and topics are defined once and every consumer uses that definition."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import TOPICS_FILE, load_topics, topic_for_event_type
from infra.versions import load_versions

INFRA = Path(__file__).resolve().parents[2] / "infra"


def test_topics_are_the_contracts_four_with_three_partitions() -> None:
    specs = load_topics()
    assert {(s.name, s.event_type) for s in specs} == {
        ("fi.spend.disclosures.v1", "spend_disclosure"),
        ("fi.deployment.milestones.v1", "deployment_milestone"),
        ("fi.survey.responses.v1", "survey_response"),
        ("fi.observations.v1", "observation"),
    }
    assert all(s.partitions == 3 for s in specs)
    assert all(s.configs["max.message.bytes"] == str(8 * 1024 * 1024) for s in specs)
    assert topic_for_event_type("survey_response") == "fi.survey.responses.v1"


def test_kafka_version_has_one_definition() -> None:
    versions = load_versions()
    assert versions.kafka.startswith("4.")
    # compose reads infra/.env, which must be the same file as versions.env
    assert (INFRA / ".env").resolve() == (INFRA / "versions.env").resolve()
    compose = (INFRA / "compose.yaml").read_text()
    assert "apache/kafka:${KAFKA_VERSION}" in compose
    # the compose file's topic initialiser mounts the contract's one topic definition
    assert "../contracts/topics.yaml:/finradar/topics.yaml" in compose
    assert (INFRA / "../contracts/topics.yaml").resolve() == TOPICS_FILE.resolve()
    pom = (INFRA / "kafka" / "pom.xml").read_text()
    assert versions.kafka not in pom  # the pom takes versions as -D properties only
    assert "${kafka.version}" in pom


def test_cluster_ids_never_look_like_an_option(monkeypatch) -> None:
    """One id in 64 would start with '-' and fail `kafka-storage format -t <id>`."""
    import base64
    import uuid

    from infra import broker

    dash = uuid.UUID(bytes=base64.urlsafe_b64decode("-" + "A" * 21 + "=="))
    plain = uuid.UUID(int=1)
    draws = iter([dash, dash, plain])
    monkeypatch.setattr(broker.uuid, "uuid4", lambda: next(draws))
    cluster_id = broker.new_cluster_id()
    assert not cluster_id.startswith("-") and len(cluster_id) == 22
    assert base64.urlsafe_b64decode(cluster_id + "==") == plain.bytes


def _property_of(env_name: str) -> str:
    """The broker property an apache/kafka image variable sets (its naming: '.' → '_',
    '_' → '__', '-' → '___')."""
    name = env_name.removeprefix("KAFKA_").lower()
    return name.replace("___", "-").replace("__", "\0").replace("_", ".").replace("\0", "_")


def test_the_secured_compose_broker_is_configured_like_the_local_one() -> None:
    """The security properties of ``compose.secure.yaml`` are those of the local secured
    broker's template (same listeners' protections, SASL mechanisms, stores)."""
    import yaml

    compose = yaml.safe_load((INFRA / "compose.secure.yaml").read_text())
    environment = compose["services"]["kafka"]["environment"]
    template = (INFRA / "kafka" / "server-secure.properties.template").read_text()
    local = dict(
        line.split("=", 1) for line in template.splitlines() if line and not line.startswith("#")
    )
    security = {
        _property_of(k): str(v)
        for k, v in environment.items()
        if any(word in k for word in ("SSL", "SASL", "CLIENT_AUTH"))
    }
    assert "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config" in security
    for prop, value in security.items():
        if prop.startswith("listener.name.internal."):
            continue  # the compose network's own listener (the local broker's is MTLS)
        assert prop in local, prop
        if "${" not in local[prop] and "location" not in prop:
            assert local[prop] == value, prop
    # every protection of the local template is in the compose file too
    for prop in local:
        if prop.startswith(("ssl.", "sasl.", "listener.name.")) and "password" not in prop:
            assert prop in security, prop


def test_the_docker_brokers_files_are_its_own(tmp_path: Path) -> None:
    """``finradar infra secure-files`` writes the Docker broker's secrets to a folder the
    local broker and its clients never read; the local broker's material has none of them."""
    import shutil

    import pytest

    from finradar.settings import load_settings
    from infra.broker_security import compose_folder, secure_folder, secure_material

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    settings = load_settings(var_dir=tmp_path / "var")
    docker = secure_material(settings, compose_folder(settings)).folder
    local = secure_material(settings).folder
    compose_files = {"compose.env", "compose-client.properties", "compose-scram.properties"}
    assert compose_files <= {p.name for p in docker.iterdir()}
    assert not compose_files & {p.name for p in local.iterdir()}
    assert local == secure_folder(settings) != docker
    assert "[password=" in (docker / "compose-scram.properties").read_text()
    assert {p.stat().st_mode & 0o777 for p in docker.iterdir()} == {0o600}


def test_the_local_brokers_jvm_options_come_from_the_settings(tmp_path: Path) -> None:
    from finradar.settings import load_settings
    from infra.broker import LocalBroker

    default = load_settings(var_dir=tmp_path / "var", kafka={"jvm_options": ["-XX:+UseG1GC"]})
    light = load_settings(
        var_dir=tmp_path / "var", kafka={"jvm_options": ["-XX:TieredStopAtLevel=1"]}
    )
    assert "-XX:+UseG1GC" in LocalBroker(default)._java("kafka.Kafka")
    command = LocalBroker(light)._java("kafka.Kafka")
    assert "-XX:TieredStopAtLevel=1" in command and "-XX:+UseG1GC" not in command
    assert command[-1] == "kafka.Kafka" and f"-Xmx{light.kafka.heap}" in command
