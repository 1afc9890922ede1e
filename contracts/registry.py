"""The entity registry: institutions, groups, segments and industries the corpus names.

Reference data lives in ``reference/entities/*.yaml`` (one list of entities per file); an
entity is defined in exactly one file. Events copy an entity's fields into their ``subject``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from contracts.yaml_files import read_yaml

ENTITIES_DIR = Path(__file__).with_name("reference") / "entities"
SUBJECT_FIELDS = ("entity_id", "level", "institution_type", "tier", "name_zh", "name_en", "members")


@cache
def entities() -> dict[str, dict[str, Any]]:
    """Every registered entity by ``entity_id``, from all files of the registry."""
    registry: dict[str, dict[str, Any]] = {}
    for path in sorted(ENTITIES_DIR.glob("*.yaml")):
        for entity in read_yaml(path)["entities"]:
            entity_id = entity["entity_id"]
            if entity_id in registry:
                raise ValueError(f"{path.name}: entity {entity_id} is already defined")
            registry[entity_id] = entity
    return registry


def subject(entity_id: str) -> dict[str, Any]:
    """The contract ``subject`` object of a registered entity."""
    try:
        entity = entities()[entity_id]
    except KeyError:
        raise KeyError(f"entity {entity_id!r} is not in the registry") from None
    return {k: entity[k] for k in SUBJECT_FIELDS if entity.get(k) is not None}
