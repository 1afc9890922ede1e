"""The environment is exactly the lock: every locked distribution is installed at its version."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)")


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def test_lock_holds_the_known_good_stack() -> None:
    pins = locked()
    assert len(pins) > 100  # a full transitive lock, not a list of direct dependencies
    assert pins["duckdb"] == "1.5.5"
    assert pins["duckdb-extension-ducklake"] == "1.5.5"
    assert pins["prefect"] == "3.8.8"
    major, minor = (int(x) for x in pins["fastapi"].split(".")[:2])
    assert (major, minor) < (0, 151)
    assert pins["sqlalchemy"].startswith("2.0.")


def test_installed_versions_match_the_lock() -> None:
    mismatched = {}
    for name, pinned in locked().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            mismatched[name] = (pinned, None)
            continue
        if installed != pinned:
            mismatched[name] = (pinned, installed)
    assert mismatched == {}
