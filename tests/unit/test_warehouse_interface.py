"""The relations and columns analysts rely on (shared/spec/warehouse-interface.md) exist,
every model states its grain, and the committed data dictionary is current."""

from __future__ import annotations

import re

import pytest

from finradar.settings import Settings
from warehouse.dictionary import DICTIONARY_FILE, render
from warehouse.lake import connect
from warehouse.model_files import checks, models
from warehouse.refresh import refresh

# The interface's minimum columns, typed in from the spec (a rename here is a breaking change).
INTERFACE = {
    "marts.dim_entity": "entity_id level institution_type tier name_zh name_en",
    "marts.spend_series": "entity_id scope spend_class technology fiscal_period status vintage "
    "amount_yi currency bound yoy reported_yoy yoy_gap revenue_share is_restated",
    "marts.spend_frontier_share": "entity_id scope fiscal_period status total_yi frontier_yi "
    "frontier_share",
    "marts.spend_group_rollup": "group_id scope fiscal_period status members_expected "
    "members_reported members_total_yi group_reported_yi scopes_mixed",
    "marts.spend_growth": "entity_id scope spend_class technology status start_period end_period "
    "periods cagr",
    "marts.capability_maturity": "institution_type capability institutions median_stage "
    "share_at_or_beyond_scaled skewness cluster",
    "marts.maturity_distribution": "institution_type capability stage institutions share",
    "marts.institution_maturity": "entity_id capabilities_rated maturity_index as_of",
    "marts.deployment_cases": "institution_type capability sourcing cases",
    "marts.survey_option_shares": "survey_id wave question_id option_id respondents selected share",
    "marts.survey_scores": "survey_id wave question_id respondents mean_score",
    "dq.validation_runs": "batch_id contract rows_checked rows_failed expectations "
    "expectations_failed success report_path",
    "dq.expectation_results": "batch_id contract expectation column_name success unexpected_count",
    "dq.findings": "rule_id severity entity_id fiscal_period detail event_ids detected_at",
    "dq.findings_history": "finding_key episode rule_id severity entity_id fiscal_period "
    "event_ids detail first_seen_refresh_id first_seen_at last_seen_refresh_id last_seen_at "
    "resolved_refresh_id resolved_at",
    "dq.findings_by_refresh": "refresh_id refreshed_at severity open_findings new_findings",
    "dq.batch_quality": "batch_id outcome stage reason_code messages consumed share",
    "dq.batch_pass_rate": "batch_id consumed landed duplicates quarantined rejected_by_contract "
    "rejected_by_gx rejected_in_staging rejected_at_landing pass_rate quarantine_rate",
    "ops.kafka_offsets": "kafka_topic kafka_partition next_offset batch_id committed_at",
    "ops.ingest_runs": "batch_id started_at finished_at consumed landed duplicates quarantined "
    "runner",
    "quarantine.events": "kafka_topic kafka_partition kafka_offset message_key raw_value "
    "reason_code reason_detail batch_id quarantined_at replayed_at",
}
RULES = {
    "yoy_mismatch",
    "frontier_exceeds_total",
    "parts_exceed_whole",
    "group_members_mismatch",
    "scope_mixed_rollup",
    "scale_outlier",
    "restated",
    "currency_conflict",
    "yoy_shifted",
    "copied_figure",
    "survey_share_not_integral",
    "survey_shares_sum",
    "cagr_mismatch",
    "text_vs_chart",
    "unit_conflict",
    "cited_source_conflict",
    "observation_parts_exceed_whole",
    "rate_outside_its_parts",
    "share_base_mismatch",
    "ratio_denominator",
    "group_total_covers_fewer_members",
    "spend_per_staff_outlier",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from finradar.settings import load_settings

    settings = load_settings(var_dir=tmp_path_factory.mktemp("interface") / "var")
    refresh(settings)
    return settings


@pytest.mark.parametrize("relation", sorted(INTERFACE))
def test_interface_relation_has_its_columns(built: Settings, relation: str) -> None:
    schema, name = relation.split(".")
    con = connect(built, read_only=True)
    try:
        columns = {
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_catalog = current_database() and table_schema = ? and table_name = ?",
                [schema, name],
            ).fetchall()
        }
    finally:
        con.close()
    assert columns, f"{relation} does not exist"
    assert set(INTERFACE[relation].split()) <= columns


def test_every_rule_of_the_interface_has_a_check() -> None:
    assert {c.rule_id for c in checks()} == RULES


def _code(sql: str) -> str:
    """SQL without comments and string literals."""
    without_comments = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return re.sub(r"'(?:[^']|'')*'", "''", without_comments)


def test_every_model_states_grain_and_is_lower_case() -> None:
    for model in models():
        assert model.header.description and model.header.grain, model.path
        code = _code(model.sql)
        assert code == code.lower(), f"{model.path}: SQL keywords and names are lower-case"
    for check in checks():
        code = _code(check.sql)
        assert code == code.lower(), check.path


def test_data_dictionary_is_current() -> None:
    assert DICTIONARY_FILE.read_text(encoding="utf-8") == render(), (
        "docs/data-dictionary.md is stale: run `python -m warehouse.dictionary`"
    )
