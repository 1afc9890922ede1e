"""Topic definitions from ``infra/topics.yaml`` and their creation on a broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

TOPICS_FILE = Path(__file__).with_name("topics.yaml")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    event_type: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)


@cache
def load_topics(path: Path = TOPICS_FILE) -> tuple[TopicSpec, ...]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    defaults = doc.get("defaults", {})
    specs = []
    for entry in doc["topics"]:
        merged = {**defaults, **entry}
        specs.append(
            TopicSpec(
                name=merged["name"],
                event_type=merged["event_type"],
                partitions=int(merged["partitions"]),
                replication_factor=int(merged["replication_factor"]),
                configs={k: str(v) for k, v in (merged.get("configs") or {}).items()},
            )
        )
    return tuple(specs)


def topic_for_event_type(event_type: str) -> str:
    for spec in load_topics():
        if spec.event_type == event_type:
            return spec.name
    raise KeyError(event_type)


def ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...] | None = None) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    specs = specs if specs is not None else load_topics()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="finradar-infra")
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            admin.create_topics(
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
        admin.close()
