"""Creating the contract's topics (``contracts/topics.yaml``) on a broker."""

from __future__ import annotations

from kafka.admin import NewTopic

from contracts.topics import TopicSpec, load_topics
from infra.kafka_clients import admin


def ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...] | None = None) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    specs = specs if specs is not None else load_topics()
    client = admin(bootstrap)
    try:
        existing = set(client.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            client.create_topics(
                [
                    NewTopic(
                        name=s.name,
                        num_partitions=s.partitions,
                        replication_factor=s.replication_factor,
                        topic_configs=s.configs,
                    )
                    for s in missing
                ]
            )
        return [s.name for s in missing]
    finally:
        client.close()
