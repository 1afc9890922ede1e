"""Infrastructure versions, read from the one definition in ``infra/versions.env``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VERSIONS_FILE = Path(__file__).with_name("versions.env")


@dataclass(frozen=True)
class InfraVersions:
    kafka: str
    scala_binary: str
    log4j: str

    def maven_properties(self) -> dict[str, str]:
        """The -D properties that infra/kafka/pom.xml expects."""
        return {
            "kafka.version": self.kafka,
            "scala.binary": self.scala_binary,
            "log4j.version": self.log4j,
        }


def load_versions(path: Path = VERSIONS_FILE) -> InfraVersions:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return InfraVersions(
        kafka=values["KAFKA_VERSION"],
        scala_binary=values["SCALA_BINARY_VERSION"],
        log4j=values["LOG4J_VERSION"],
    )
