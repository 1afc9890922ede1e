"""The tests models declare (grain key, not-null columns, references to ``reference.*``):
every model declares them, and a refresh whose rows break one fails with one line naming the
model, the test and the rows, committing nothing."""

from __future__ import annotations

from datetime import date

import pytest

from finradar.errors import FinradarError
from finradar.settings import Settings
from tests.unit.warehouse_inputs import insert, milestone, query, response, spend
from warehouse.model_files import Reference, models, parse_header
from warehouse.model_tests import to_test
from warehouse.refresh import refresh

CLEAN = [
    spend("s1", "cn.segment.banking", "2023", "2658.5"),
    spend("s2", "cn.segment.banking", "2024", "2888.3", status="estimate"),
]


def test_every_model_declares_a_grain_key_and_its_columns_exist(
    tmp_settings: Settings,
) -> None:
    refresh(tmp_settings)
    columns: dict[str, set[str]] = {}
    for relation, column in query(
        tmp_settings,
        "select table_schema || '.' || table_name, column_name from information_schema.columns "
        "where table_catalog = current_database()",
    ):
        columns.setdefault(relation, set()).add(column)
    for model in models():
        header = model.header
        assert header.unique, f"{model.relation} declares no grain key"
        named = {
            *header.unique,
            *header.not_null,
            *(c for r in header.references for c in r.columns),
        }
        assert named <= columns[model.relation], (model.relation, named - columns[model.relation])
        assert all(r.relation.startswith("reference.") for r in header.references)


def test_the_header_syntax() -> None:
    header = parse_header(
        "-- What it holds.\n"
        "-- grain: entity × period\n"
        "-- unique: entity_id, fiscal_period\n"
        "-- not_null: entity_id\n"
        "-- references: capability -> reference.taxonomy_terms[capability]\n"
        "-- references: survey_id, question_id -> reference.survey_questions\n"
        "-- columns:\n"
        "--   entity_id: who\n"
        "select 1\n"
    )
    assert header.unique == ("entity_id", "fiscal_period")
    assert header.not_null == ("entity_id",)
    assert header.references == (
        Reference(("capability",), "reference.taxonomy_terms", "capability"),
        Reference(("survey_id", "question_id"), "reference.survey_questions"),
    )
    assert header.columns == {"entity_id": "who"}
    assert header.notes == ()
    with pytest.raises(ValueError, match="references"):
        parse_header("-- x\n-- references: capability -> marts.dim_entity\n")


def _fails_naming(settings: Settings, *parts: str) -> str:
    """Refresh, expect it to fail with one line holding ``parts``; nothing committed."""
    runs_before = query(settings, "select count(*) from ops.refresh_runs")
    series_before = query(settings, "select * from marts.spend_series order by event_id")
    with pytest.raises(FinradarError) as failure:
        refresh(settings)
    message = str(failure.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, message
    assert query(settings, "select count(*) from ops.refresh_runs") == runs_before
    assert query(settings, "select * from marts.spend_series order by event_id") == series_before
    return message


def test_a_duplicated_grain_key_fails_the_refresh_and_commits_nothing(
    tmp_settings: Settings,
) -> None:
    insert(tmp_settings, "spend_disclosures", CLEAN)
    refresh(tmp_settings)
    # the same event twice in raw (landing would have kept the first copy only)
    insert(tmp_settings, "spend_disclosures", [spend("s1", "cn.segment.banking", "2023", "2658.5")])
    _fails_naming(
        tmp_settings,
        "staging.spend_disclosures unique(event_id)",
        "(s1) ×2",
        "nothing was committed",
    )


def test_a_null_in_a_not_null_column_fails_the_refresh(tmp_settings: Settings) -> None:
    insert(tmp_settings, "spend_disclosures", CLEAN)
    refresh(tmp_settings)
    row, answers = response("r1", "p1", [{"question_id": "tech_domains_of_concern", "kind": None}])
    insert(tmp_settings, "survey_responses", [row])
    insert(tmp_settings, "survey_answers", answers)
    _fails_naming(
        tmp_settings,
        "staging.survey_answers not_null(",
        "kind NULL in 1 row(s)",
        "(r1, tech_domains_of_concern)",
    )


def test_a_code_missing_from_the_reference_tables_fails_the_refresh(
    tmp_settings: Settings,
) -> None:
    insert(tmp_settings, "spend_disclosures", CLEAN)
    refresh(tmp_settings)
    insert(
        tmp_settings,
        "deployment_milestones",
        [milestone("m1", "cn.bank.icbc", "fortune_telling", "mature", date(2024, 6, 1))],
    )
    _fails_naming(
        tmp_settings,
        "staging.deployment_milestones references(capability -> "
        "reference.taxonomy_terms[capability])",
        "(fortune_telling) in 1 row(s)",
    )


def test_a_refresh_tests_the_models_whose_rows_may_have_changed() -> None:
    # nothing rebuilt: only the views no table reads (dq.*, over ops tables batches append to)
    assert {m.relation for m in to_test(models(), [])} == {
        "dq.batch_pass_rate",
        "dq.batch_quality",
        "dq.findings_by_refresh",
    }
    # a rebuilt mart: it, and the views it reads (their inputs changed)
    tested = {m.relation for m in to_test(models(), ["marts.spend_series"])}
    assert {"marts.spend_series", "staging.spend_disclosures"} <= tested
    assert "marts.survey_scores" not in tested and "staging.survey_answers" not in tested
    assert len(to_test(models(), [m.relation for m in models()])) == len(models())
