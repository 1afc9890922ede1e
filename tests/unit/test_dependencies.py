"""pyproject.toml names the same direct dependencies as requirements/base.in (which ``make
lock`` compiles into requirements.lock, what ``make`` installs): a ``pip install .`` gets
what the project runs with."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _base_in() -> list[str]:
    lines = (ROOT / "requirements" / "base.in").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_pyproject_lists_the_direct_dependencies_of_base_in() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == _base_in()
