"""The order ``make test`` hands out its modules in (``tests.fixtures.module_order``)."""

from __future__ import annotations

import json

from tests.fixtures.module_order import SECONDS_FILE, longest_first

IDS = [
    "tests/a.py::test_1",
    "tests/a.py::test_2",
    "tests/b.py::test_1",
    "tests/c.py::test_1[x]",
    "tests/c.py::test_1[y]",
    "tests/d.py::test_1",
]


def test_modules_go_longest_first_and_keep_their_tests_together_in_order() -> None:
    order = longest_first(IDS, {"tests/a.py": 5.0, "tests/b.py": 50.0, "tests/c.py": 20.0})
    assert [IDS[i] for i in order] == [
        "tests/d.py::test_1",  # not measured yet: first
        "tests/b.py::test_1",
        "tests/c.py::test_1[x]",
        "tests/c.py::test_1[y]",
        "tests/a.py::test_1",
        "tests/a.py::test_2",
    ]


def test_without_figures_the_collection_order_stays() -> None:
    assert longest_first(IDS, {}) == list(range(len(IDS)))


def test_the_recorded_figures_name_modules_that_exist() -> None:
    seconds = json.loads(SECONDS_FILE.read_text())
    root = SECONDS_FILE.parents[1]
    assert seconds and all(s >= 0 for s in seconds.values())
    missing = [module for module in seconds if not (root / module).is_file()]
    assert not missing, f"{SECONDS_FILE.name} names modules that are gone: {missing}"
