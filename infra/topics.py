"""Creating the contract's topics (``contracts/topics.yaml``) on a broker."""

from __future__ import annotations

from kafka import errors
from kafka.admin import NewTopic

from contracts.topics import TopicSpec, load_topics
from finradar.settings import KafkaSettings
from infra.kafka_clients import admin


def ensure_topics(kafka: KafkaSettings, specs: tuple[TopicSpec, ...] | None = None) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    specs = specs if specs is not None else load_topics()
    client = admin(kafka)
    try:
        existing = set(client.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return []
        result = client.create_topics(
            [
                NewTopic(
                    name=s.name,
                    num_partitions=s.partitions,
                    replication_factor=s.replication_factor,
                    topic_configs=s.configs,
                )
                for s in missing
            ],
            raise_errors=False,
        )
        return _created(result["topics"])
    finally:
        client.close()


def _created(results: list[dict]) -> list[str]:
    """The topics a CreateTopics response created. One that exists already is no error: a
    broker's metadata can list a topic created a moment earlier only a little later (a
    second ``infra up`` right after the first failed with ``TopicAlreadyExistsError``)."""
    created = []
    for topic in results:
        error = errors.for_code(topic["error_code"])
        if error is errors.NoError:
            created.append(topic["name"])
        elif error is not errors.TopicAlreadyExistsError:
            raise error(f"cannot create topic {topic['name']}: {topic.get('error_message')}")
    return created
