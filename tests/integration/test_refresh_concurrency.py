"""A refresh is safe while ingestion commits: both succeed, and every mart reflects one
snapshot of ``raw`` (no half-landed batch), with nothing lost once the writer stops."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from finradar.settings import Settings
from tests.unit.warehouse_inputs import query
from warehouse.refresh import refresh

pytestmark = pytest.mark.integration

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from finradar.settings import load_settings
    from tests.unit.warehouse_inputs import insert, spend

    settings = load_settings(var_dir=Path(sys.argv[1]))
    for batch in range(int(sys.argv[2])):
        # one commit per batch, as an ingest lands: two figures of the same entity
        insert(settings, "spend_disclosures", [
            spend(f"e{batch}-a", f"inst{batch}", "2023", "10.0", batch_id=f"b{batch:04d}"),
            spend(f"e{batch}-b", f"inst{batch}", "2024", "11.0", batch_id=f"b{batch:04d}"),
        ])
    """
)


def test_refresh_while_batches_land(tmp_settings: Settings) -> None:
    # writers take turns (warehouse.transactions): each batch waits for the refresh before
    # it, so the run lasts about batches × refresh
    batches = 8
    refresh(tmp_settings)  # create everything before the writer starts
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_settings.var), str(batches)],
        stderr=subprocess.PIPE,
        text=True,
    )
    refreshes = 0
    try:
        while writer.poll() is None:
            refresh(tmp_settings)
            refreshes += 1
            # every refresh saw whole batches: two figures per entity, one yoy each
            (n, entities, with_yoy) = query(
                tmp_settings,
                "select count(*), count(distinct entity_id), count(yoy) from marts.spend_series",
            )[0]
            assert n == 2 * entities and with_yoy == entities
    finally:
        _, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    assert refreshes >= 2
    refresh(tmp_settings)
    assert query(tmp_settings, "select count(*) from marts.spend_series") == [(2 * batches,)]
