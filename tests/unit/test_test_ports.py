"""The fixed ports of the integration tests' and benchmarks' brokers are each one module's.

``make test`` runs test modules side by side (pytest-xdist, a module per worker), and a
broker already listening on a port is taken as the module's own (``LocalBroker.up`` is
idempotent): two modules on one port would read each other's topics. ``test_flows`` and
``test_outside_faults`` shared 29392 (and ``test_poison_ingest`` and ``test_warehouse_seed``
29292): they passed only while the scheduler happened not to run them at once. (Another
broker left on 29392 showed what that looks like: ``test_flows`` consumed 7,522 messages
where it had published 1,761.)
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
PORT_TABLES = {"KAFKA", "PORTS"}  # the module-level dicts that name a module's ports


def _fixed_ports(path: Path) -> list[int]:
    ports = []
    for node in ast.parse(path.read_text()).body:
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Dict):
            continue
        if not any(isinstance(t, ast.Name) and t.id in PORT_TABLES for t in node.targets):
            continue
        for key, value in zip(node.value.keys, node.value.values, strict=True):
            if (
                isinstance(key, ast.Constant)
                and str(key.value).endswith("port")
                and isinstance(value, ast.Constant)
            ):
                ports.append(int(value.value))
    return ports


def test_every_fixed_port_belongs_to_one_module() -> None:
    owners: dict[int, list[str]] = defaultdict(list)
    for folder in ("integration", "bench"):
        for path in sorted((TESTS / folder).glob("*.py")):
            for port in _fixed_ports(path):
                owners[port].append(f"{folder}/{path.name}")
    assert len(owners) >= 20, "the scan found too few ports: has the tables' form changed?"
    shared = {port: modules for port, modules in owners.items() if len(modules) > 1}
    assert not shared, shared
