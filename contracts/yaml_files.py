"""The project's YAML files (the contract's taxonomies, topics, registry, surveys), parsed
by PyYAML's libyaml parser.

Every finradar process reads the contract's YAML (a pass and each of its workers, every
scheduled run, every CLI command), the registry's files more than once. The libyaml parser
builds the same objects (with the same safe constructor) in about an eighth of the time:
``python -m timeit -s 'import yaml, pathlib; t =
pathlib.Path("contracts/taxonomies.yaml").read_text()' 'yaml.load(t, Loader=yaml.X)'``
gave 20-26 ms with ``SafeLoader`` and 2.7-3.2 ms with ``CSafeLoader`` (two runs each,
2026-12-03). A PyYAML built without libyaml has the Python parser only, which then reads
them as before; ``tests/unit/test_yaml_files.py`` compares both on every file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``text`` parsed as ``yaml.safe_load`` would."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def read_yaml(path: Path) -> Any:
    """The YAML file at ``path`` (UTF-8), parsed as ``yaml.safe_load`` would."""
    return load_yaml(path.read_text(encoding="utf-8"))
