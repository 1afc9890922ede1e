"""The fixed ports the integration tests and benchmarks start their servers on.

Each lies below the system's ephemeral range (Linux: 32768–60999), where the kernel picks
the local port of every outgoing connection and of every ``bind(0)``: a broker asked to
listen on a port in that range fails now and then with "Address already in use" when a
client socket of the run holds it (``make bench``'s third broker did, once, on 39292).
And no two modules share one: pytest-xdist runs them at once.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
NAMES = ("KAFKA", "PORTS")  # module-level dicts of a module's fixed ports


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def fixed_ports() -> dict[Path, list[int]]:
    """Each test or bench module's fixed ports: its ``KAFKA``/``PORTS`` dicts' values whose
    key names a port, and its ``…_PORT`` constants."""
    found: dict[Path, list[int]] = {}
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.Assign) or len(node.targets) != 1:
                continue
            target = node.targets[0]
            if not isinstance(target, ast.Name):
                continue
            value = _literal(node.value)
            if target.id in NAMES and isinstance(value, dict):
                ports = [v for k, v in value.items() if "port" in str(k) and isinstance(v, int)]
            elif target.id.endswith("_PORT") and isinstance(value, int):
                ports = [value]
            else:
                continue
            found.setdefault(path.relative_to(TESTS), []).extend(ports)
    return found


def _literal(node: ast.expr) -> Any:
    """The node's value if it is a literal, else None."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def test_every_fixed_port_lies_below_the_ephemeral_range() -> None:
    ports = fixed_ports()
    assert any("bench" in str(path) for path in ports)  # the scan sees the benchmarks
    start = _ephemeral_start()
    inside = {str(path): p for path, found in ports.items() for p in found if p >= start}
    assert not inside, f"ports at or above {start}, the ephemeral range: {inside}"


def test_no_two_modules_share_a_fixed_port() -> None:
    owners: dict[int, list[str]] = {}
    for path, found in fixed_ports().items():
        for port in set(found):
            owners.setdefault(port, []).append(str(path))
    shared = {port: paths for port, paths in owners.items() if len(paths) > 1}
    assert not shared
