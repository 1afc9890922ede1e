"""Every ``python -m <module>`` the README and ``docs/`` show names a module that runs as a
command: a figure's command must stay one a reader can run (the snippets themselves run in
``test_readme_snippets.py``; the benchmarks are too long for ``make test``)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# a line break may fall between ``-m`` and the module in the wrapped prose
COMMAND = re.compile(r"python\s+-m\s+([A-Za-z_][\w.]*\w)")


def _modules() -> list[str]:
    found = {m for doc in DOCUMENTS for m in COMMAND.findall(doc.read_text(encoding="utf-8"))}
    return sorted(found - {"pytest"})


def test_the_documents_show_commands() -> None:
    assert "tests.bench.ingest_timeline" in _modules()


@pytest.mark.parametrize("module", _modules())
def test_each_command_shown_runs_as_a_module(module: str) -> None:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"{module} is not a module of the project"
    source = Path(spec.origin)
    if source.name == "__init__.py":  # a package runs its __main__
        source = source.with_name("__main__.py")
        assert source.exists(), f"{module} has no __main__.py"
    else:
        assert 'if __name__ == "__main__":' in source.read_text(encoding="utf-8"), (
            f"{module} does nothing when run"
        )
