"""The contract's Kafka topics (``contracts/topics.yaml``): one topic per event type.

The topics are part of the contract: producers publish each event to the topic of its
``event_type``. Creating them on a broker is ``infra.topics``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from contracts.yaml_files import read_yaml

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
    doc = read_yaml(path)
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
