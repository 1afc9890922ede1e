"""A warehouse made before a minor revision of the contract gains its new columns on the next
run's ``create_all``; its rows read NULL there, and the new models run on it."""

from __future__ import annotations

from contracts.export.ddl import raw_ddl
from finradar.settings import Settings
from tests.unit.warehouse_inputs import insert, query, spend
from warehouse.lake import connect
from warehouse.refresh import refresh
from warehouse.schema import create_all


def test_a_column_added_by_the_contract_reaches_an_older_warehouse(tmp_settings: Settings) -> None:
    con = connect(tmp_settings)
    try:
        con.execute("create schema if not exists raw")
        # the v1.0 table: contract v1.1 added payload.measure
        older = "\n".join(line for line in raw_ddl().splitlines() if "measure varchar" not in line)
        con.execute(older)
        columns = {r[0] for r in con.execute("describe raw.spend_disclosures").fetchall()}
        assert "measure" not in columns
        create_all(con)
        create_all(con)  # and again: nothing more to add
        columns = [r[0] for r in con.execute("describe raw.spend_disclosures").fetchall()]
    finally:
        con.close()
    assert columns.count("measure") == 1
    insert(tmp_settings, "spend_disclosures", [spend("a", "seg", "2024", "1", measure="m")])
    refresh(tmp_settings)
    assert query(tmp_settings, "select measure from marts.spend_series") == [("m",)]
