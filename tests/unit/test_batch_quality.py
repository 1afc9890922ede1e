"""Per-batch quality: every rejection counted by the stage that made it, and the pass rate."""

from __future__ import annotations

from contracts.export.gx_suites import suites
from finradar.settings import Settings
from pipelines.gx_runner import _detail
from tests.unit.warehouse_inputs import open_lake, query
from warehouse.refresh import refresh


def test_each_rejection_counts_by_its_stage_and_lowers_the_pass_rate(
    tmp_settings: Settings,
) -> None:
    refresh(tmp_settings)  # creates the dq views; they read the tables when queried
    gx_reason = _detail(suites()["spend_disclosure"][0], "spend_disclosure")
    quarantined = [
        ("invalid_json", "not one JSON object"),  # the contract check
        ("internal_error", "contract check: ValueError: x"),
        ("out_of_range", gx_reason),  # a GX suite
        ("internal_error", "GX validation: KeyError: 'x'"),
        ("internal_error", "normalise: TypeError: x"),  # staging
        ("event_id_conflict", "event_id e1 was seen before with other content"),  # landing
        ("internal_error", "landing: raw.spend_disclosures: vintage x is not a DATE"),
    ]
    con = open_lake(tmp_settings)
    try:
        con.execute(
            "insert into ops.ingest_runs (batch_id, finished_at, consumed, landed, duplicates, "
            "quarantined) values ('b1', now(), 20, 10, 3, 7), ('b2', now(), 0, 0, 0, 0)"
        )
        for code, detail in quarantined:
            con.execute(
                "insert into quarantine.events (batch_id, reason_code, reason_detail, reasons) "
                "values ('b1', ?, ?, [{'code': ?, 'detail': ?}])",
                [code, detail, code, detail],
            )
    finally:
        con.close()

    assert query(
        tmp_settings,
        "select outcome, stage, reason_code, messages, consumed, share from dq.batch_quality "
        "order by outcome, stage, reason_code",
    ) == [
        ("duplicate", None, None, 3, 20, 0.15),
        ("landed", None, None, 10, 20, 0.5),
        ("quarantined", "contract", "internal_error", 1, 20, 0.05),
        ("quarantined", "contract", "invalid_json", 1, 20, 0.05),
        ("quarantined", "gx", "internal_error", 1, 20, 0.05),
        ("quarantined", "gx", "out_of_range", 1, 20, 0.05),
        ("quarantined", "landing", "event_id_conflict", 1, 20, 0.05),
        ("quarantined", "landing", "internal_error", 1, 20, 0.05),
        ("quarantined", "staging", "internal_error", 1, 20, 0.05),
    ]
    # a batch that consumed nothing has no rate
    assert query(
        tmp_settings,
        "select batch_id, rejected_by_contract, rejected_by_gx, rejected_in_staging, "
        "rejected_at_landing, pass_rate, duplicate_rate, quarantine_rate from dq.batch_pass_rate",
    ) == [("b1", 2, 2, 1, 2, 10 / 20, 3 / 20, 7 / 20)]
