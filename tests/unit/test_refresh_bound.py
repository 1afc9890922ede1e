"""A refresh that cannot finish fails with one line within its bound, committing nothing;
the findings are written inside DuckDB (issue 15: fetching them once hung for good)."""

from __future__ import annotations

import atexit
import threading
from pathlib import Path

import pytest

import warehouse.refresh as refresh_module
from finradar.errors import FinradarError
from finradar.settings import Settings, load_settings
from tests.unit.warehouse_inputs import insert, query, spend
from warehouse.lake import connect
from warehouse.locks import lock_is_free
from warehouse.refresh import RefreshSummary, refresh
from warehouse.transactions import writers_turn


def _small_warehouse(settings: Settings) -> None:
    insert(
        settings,
        "spend_disclosures",
        [spend("a", "e", "2022", "100"), spend("b", "e", "2023", "130", reported_yoy="0.1")],
    )


def _bounded(settings: Settings, seconds: float) -> Settings:
    return load_settings(
        var_dir=settings.var,
        warehouse={**settings.warehouse.model_dump(), "refresh_timeout_s": seconds},
    )


def test_a_refresh_past_its_bound_is_stopped_with_one_line(tmp_settings: Settings) -> None:
    _small_warehouse(tmp_settings)
    with pytest.raises(FinradarError) as failed:
        refresh(_bounded(tmp_settings, 1e-6))
    message = str(failed.value)
    assert "\n" not in message
    assert "refresh_timeout_s" in message and "nothing was committed" in message
    assert query(tmp_settings, "select count(*) from ops.refresh_runs") == [(0,)]

    # the lock is free and the warehouse as it was: the next refresh runs to the end
    summary = refresh(tmp_settings)
    assert summary.findings_by_rule == {"yoy_mismatch": 1}
    assert query(tmp_settings, "select count(*) from ops.refresh_runs") == [(1,)]


def test_a_refresh_that_ignores_the_interrupt_still_fails_in_bound(
    tmp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement DuckDB cannot interrupt (its executor parked for ever) is given up."""
    never = threading.Event()
    monkeypatch.setattr(refresh_module, "_refresh", lambda *args: never.wait())
    monkeypatch.setattr(refresh_module, "INTERRUPT_GRACE_S", 0.2)
    try:
        with pytest.raises(FinradarError) as failed:
            refresh(_bounded(tmp_settings, 0.2))
        message = str(failed.value)
        assert "\n" not in message
        assert "did not stop when interrupted" in message
        assert "nothing was committed" in message
        # the abandoned session does not keep other writers waiting
        assert lock_is_free(Path(f"{tmp_settings.catalog_path}.commit.lock"))
    finally:
        never.set()  # let the abandoned worker end, and the test process exit as usual
        atexit.unregister(refresh_module._exit_past_stuck_session)


def test_waiting_for_the_writers_turn_does_not_count_against_the_bound(
    tmp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_warehouse(tmp_settings)
    monkeypatch.setattr(refresh_module, "_refresh", lambda *args: RefreshSummary("quick"))
    con = connect(tmp_settings)
    holding, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with writers_turn(con, 10.0):
            holding.set()
            release.wait(10.0)

    holder = threading.Thread(target=other_writer)
    holder.start()
    try:
        assert holding.wait(10.0)
        threading.Timer(1.5, release.set).start()
        # held three times the bound: the refresh waits, then runs within it
        assert refresh(_bounded(tmp_settings, 0.5)).refresh_id == "quick"
    finally:
        release.set()
        holder.join()
        con.close()


def test_findings_keep_their_first_detection_and_leave_no_stale_rows(
    tmp_settings: Settings,
) -> None:
    _small_warehouse(tmp_settings)
    refresh(tmp_settings)
    first = query(tmp_settings, "select finding_key, detected_at, refresh_id from dq.findings")
    again = refresh(tmp_settings, full=True)
    rows = query(tmp_settings, "select finding_key, detected_at, refresh_id from dq.findings")
    assert len(rows) == len(first) == 1
    assert rows[0][:2] == first[0][:2]  # same finding, first detected then
    assert rows[0][2] == again.refresh_id != first[0][2]


def test_a_statement_that_fails_in_a_small_warehouses_refresh_is_the_error_given(
    tmp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain plans of a small warehouse (``refresh_planned_below``) are set for the
    transaction: a statement's failure leaves it aborted, and the error reported is that
    statement's, not the transaction's state."""
    _small_warehouse(tmp_settings)

    def failing(con, full, started):  # type: ignore[no-untyped-def]
        con.execute("select error('a model failed')")

    monkeypatch.setattr(refresh_module, "_refresh_statements", failing)
    with pytest.raises(Exception, match="a model failed"):
        refresh(tmp_settings)
    monkeypatch.undo()
    assert refresh(tmp_settings).plain_plans
