"""Versions and topics are defined once and every consumer uses that definition."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import TOPICS_FILE, load_topics, topic_for_event_type
from infra.versions import load_versions

INFRA = Path(__file__).resolve().parents[2] / "infra"


def test_topics_are_the_contracts_three_with_three_partitions() -> None:
    specs = load_topics()
    assert {(s.name, s.event_type) for s in specs} == {
        ("fi.spend.disclosures.v1", "spend_disclosure"),
        ("fi.deployment.milestones.v1", "deployment_milestone"),
        ("fi.survey.responses.v1", "survey_response"),
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
