"""The project's YAML files parse with libyaml (``contracts.yaml_files``) to what PyYAML's
own safe loader gives, file by file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contracts.yaml_files import read_yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    p.relative_to(ROOT)
    for folder in ("contracts", "infra")
    for p in (ROOT / folder).rglob("*.y*ml")
    if p.suffix in {".yaml", ".yml"}
)


def test_libyaml_is_used() -> None:
    assert yaml.__with_libyaml__, "PyYAML without libyaml: the contract's files parse slowly"


@pytest.mark.parametrize("path", FILES, ids=str)
def test_each_file_parses_as_the_safe_loader_parses_it(path: Path) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    assert read_yaml(ROOT / path) == yaml.safe_load(text)
