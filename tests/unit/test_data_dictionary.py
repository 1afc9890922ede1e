"""Every column of the data dictionary says what it means, and a column holding codes says
where its values are (``reference.taxonomy_terms``). The committed file is current
(``test_warehouse_interface.test_data_dictionary_is_current``), so these read it."""

from __future__ import annotations

import re

from contracts.export.arrow import answer_columns, event_columns
from contracts.spec import contracts
from warehouse.column_docs import taxonomy_of
from warehouse.dictionary import DICTIONARY_FILE

RELATION = re.compile(r"^### `([a-z_]+\.[a-z_0-9]+)`")
ROW = re.compile(r"^\| `([a-z_0-9]+)` \| ([^|]+) \| (.*) \|$")


def columns(text: str) -> list[tuple[str, str, str, str]]:
    """(relation, column, type, meaning) of every column row of a dictionary page."""
    out, relation = [], ""
    for line in text.splitlines():
        if m := RELATION.match(line):
            relation = m.group(1)
        elif relation and (m := ROW.match(line)):
            out.append((relation, m.group(1), m.group(2).strip(), m.group(3).strip()))
    return out


def undescribed(text: str) -> list[str]:
    return [f"{r}.{c}" for r, c, _, meaning in columns(text) if not meaning]


def test_the_check_finds_an_undescribed_column() -> None:
    page = "### `dq.x` (table)\n\n| column | type | meaning |\n|---|---|---|\n"
    page += "| `a` | varchar | what a is |\n| `b` | bigint |  |\n"
    assert undescribed(page) == ["dq.x.b"]


def test_every_column_is_described() -> None:
    text = DICTIONARY_FILE.read_text(encoding="utf-8")
    assert len(columns(text)) > 400
    missing = undescribed(text)
    assert not missing, f"{len(missing)} columns without a meaning: {', '.join(missing)}"


def test_code_columns_point_to_the_taxonomy_terms() -> None:
    text = DICTIONARY_FILE.read_text(encoding="utf-8")
    pointing = [
        (r, c)
        for r, c, t, meaning in columns(text)
        if taxonomy_of(r, c, t) and f"taxonomy = '{taxonomy_of(r, c, t)}'" in meaning
    ]
    wanted = [(r, c) for r, c, t, _ in columns(text) if taxonomy_of(r, c, t)]
    assert pointing == wanted
    assert ("marts.capability_maturity", "capability") in wanted


def test_the_contract_enums_are_the_taxonomies_the_dictionary_names() -> None:
    for contract in contracts().values():
        for c in event_columns(contract):
            if c.enum:
                assert taxonomy_of(f"raw.{contract.table}", c.name, "varchar") == c.enum, c.name
    for c in answer_columns():
        if c.enum:
            assert taxonomy_of("raw.survey_answers", c.name, "varchar") == c.enum, c.name


def test_quarantine_columns_say_what_they_hold() -> None:
    meaning = {(r, c): m for r, c, _, m in columns(DICTIONARY_FILE.read_text(encoding="utf-8"))}
    assert "quarantined" in meaning[("quarantine.events", "batch_id")]
    assert "landed the row" not in meaning[("quarantine.events", "batch_id")]
    assert "base64" in meaning[("quarantine.events", "raw_value")]
    assert "UTF-8" in meaning[("quarantine.events", "raw_text")]
