"""The layers hold at run time too: light modules load no Beam, and every import kept inside
a function says why it must stay lazy (``make lint`` checks the layers themselves)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("finradar", "flows", "pipelines", "warehouse", "infra", "handoff", "contracts")


def _loaded_by_importing(module: str, heavy: tuple[str, ...]) -> list[str]:
    """Which of the ``heavy`` packages a fresh interpreter has loaded once it imported
    ``module``."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, {module}; print(*(m for m in {heavy!r} if m in sys.modules))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


@pytest.mark.parametrize(
    "module", ["flows.policy", "warehouse.landing", "handoff.staging", "pipelines.planning"]
)
def test_importing_a_light_module_does_not_load_beam(module: str) -> None:
    loaded = _loaded_by_importing(module, ("apache_beam",))
    assert not loaded, f"importing {module} loads apache_beam"


@pytest.mark.parametrize(
    "module", ["flows.ingest", "flows.refresh", "flows.backfill", "flows.report"]
)
def test_a_flow_module_leaves_beam_and_pandas_to_the_run_that_needs_them(module: str) -> None:
    """Each scheduled run of ``finradar serve`` is a process that imports its flow's module:
    a refresh, or an ingest that finds nothing new, runs no pipeline and validates
    nothing. Importing Beam and pandas cost each such run about a second of CPU
    (``/usr/bin/time python -c "import flows.ingest"``, three runs each, alternating:
    3.2-3.7 s user time with them, 2.1-2.3 s without): ``flows.artifacts`` imported the
    follow loop's module for an annotation. (``flows.follow`` runs that loop: it needs them.)"""
    loaded = _loaded_by_importing(module, ("apache_beam", "pandas", "great_expectations"))
    assert not loaded, f"importing {module} loads {loaded}"


def _function_local_imports(tree: ast.AST) -> list[ast.stmt]:
    """The imports inside a function body (once each, however deeply the functions nest)."""
    found: dict[int, ast.stmt] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for n in ast.walk(node):
                if isinstance(n, ast.Import) or (isinstance(n, ast.ImportFrom) and n.level == 0):
                    found[id(n)] = n
    return list(found.values())


def count_function_local_imports(root: Path = ROOT) -> int:
    """How many imports of the project's packages under ``root`` sit inside a function:
    ``python -c "from tests.unit.test_layers import count_function_local_imports as c;
    print(c())"`` (157 at bb49be5, before the layering)."""
    return sum(
        len(_function_local_imports(ast.parse(path.read_text(encoding="utf-8"))))
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
    )


def _reason_above(lines: list[str], lineno: int) -> str:
    """The comment block above the import group that starts before ``lineno``."""
    i = lineno - 2
    while i >= 0 and (
        lines[i].strip().startswith(("import ", "from ")) or lines[i].strip() in ("", "try:")
    ):
        i -= 1
    block = []
    while i >= 0 and lines[i].strip().startswith("#"):
        block.append(lines[i].strip())
        i -= 1
    return " ".join(reversed(block))


def test_every_function_local_import_says_why_it_is_lazy() -> None:
    unexplained = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            for node in _function_local_imports(ast.parse(text)):
                if "lazy:" not in _reason_above(lines, node.lineno):
                    unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not unexplained, "imports inside functions without a '# lazy: why' comment above"


def test_the_reason_check_sees_a_missing_reason() -> None:
    source = "def f():\n    x = 1\n    import json\n\ndef g():\n    # lazy: slow\n    import json\n"
    lines = source.splitlines()
    reasons = [_reason_above(lines, n.lineno) for n in _function_local_imports(ast.parse(source))]
    assert sorted(reasons) == ["", "# lazy: slow"]
