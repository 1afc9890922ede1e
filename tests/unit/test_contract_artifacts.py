"""Artifacts derived from contracts/spec.py: committed JSON Schema and DDL, Arrow schemas."""

from __future__ import annotations

import json

import jsonschema
import pyarrow as pa
import pytest

from contracts.corpus import seed_corpus
from contracts.export.arrow import event_columns, raw_schemas
from contracts.export.ddl import DDL_FILE, duckdb_type, raw_ddl
from contracts.export.jsonschema import SCHEMA_FILE, json_schema, render
from contracts.export.markdown import DOCUMENT_FILE
from contracts.export.markdown import render as render_document
from contracts.spec import contracts
from contracts.taxonomy import codes
from contracts.topics import load_topics
from tests.fixtures.contract import invalid_fixtures, spec_example

REGENERATE = "run `python -m contracts.export` and commit the result"


def test_committed_json_schema_matches_the_contract():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), REGENERATE


def test_committed_ddl_matches_the_contract():
    assert DDL_FILE.read_text(encoding="utf-8") == raw_ddl(), REGENERATE


def test_committed_contract_document_matches_the_contract():
    assert DOCUMENT_FILE.read_text(encoding="utf-8") == render_document(), REGENERATE
    # every event type and field appears, observations' included
    text = DOCUMENT_FILE.read_text(encoding="utf-8")
    for c in contracts().values():
        assert f"## `{c.event_type}`" in text and c.topic in text
        for column in event_columns(c):
            assert f"`{'.'.join(column.path)}`" in text, column.path


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_corpus_and_example_validate_against_the_json_schema(validator):
    for event in [spec_example(), *seed_corpus()]:
        errors = list(validator.iter_errors(event))
        assert errors == [], (event["event_id"], errors[0].message if errors else None)


STRUCTURAL = {
    "missing_field",
    "wrong_type",
    "unknown_enum",
    "out_of_range",
    "invalid_format",
    "unsupported_schema_version",
}


# what the checker rejects beyond a pattern: calendar and clock values, and a final newline
# (JSON Schema's ECMA-262 ``$`` rejects it; the Python jsonschema package's ``re.search`` lets
# ``$`` match before it, so this validator cannot be asked)
BEYOND_THE_SCHEMA = {
    "not_a_calendar_date",
    "hour_24",
    "timestamp_beyond_9999_in_utc",
    "event_id_trailing_newline",
    "fiscal_period_trailing_newline",
}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (f[0], f[3])
        for f in invalid_fixtures()
        if f[1] in STRUCTURAL and f[0] not in BEYOND_THE_SCHEMA
    ],
)
def test_json_schema_rejects_structural_fixtures(validator, name, value):
    assert not validator.is_valid(json.loads(value)), name


def test_enums_in_the_schema_come_from_the_taxonomies():
    spend = json_schema()["$defs"]["spend_disclosure"]["properties"]["payload"]["properties"]
    assert spend["scope"]["enum"] == list(codes("scope"))
    assert spend["technology"]["enum"] == list(codes("spend_technology"))


def test_topics_agree_with_infra_definitions():
    assert {c.topic: c.event_type for c in contracts().values()} == {
        t.name: t.event_type for t in load_topics()
    }


def test_arrow_schemas_and_ddl_have_the_same_columns():
    for table, schema in raw_schemas().items():
        block = raw_ddl().split(f"create table if not exists raw.{table} (")[1].split(");")[0]
        lines = [line.strip().rstrip(",") for line in block.strip().splitlines()]
        ddl = [line.removesuffix(" not null").split(" ", 1) for line in lines]
        assert ddl == [[f.name, duckdb_type(f.type)] for f in schema], table


def test_personal_data_lands_hashed_only():
    survey = contracts()["survey_response"]
    names = [c.name for c in event_columns(survey)]
    assert "respondent_email" not in names and "respondent_email_hash" in names
    assert raw_schemas()["survey_responses"].field("respondent_email_hash").type == pa.string()


def test_every_table_carries_kafka_coordinates():
    for table in ("spend_disclosures", "deployment_milestones", "survey_responses"):
        names = raw_schemas()[table].names
        for column in (
            "kafka_topic",
            "kafka_partition",
            "kafka_offset",
            "kafka_timestamp",
            "ingested_at",
            "batch_id",
            "raw_json",
        ):
            assert column in names, (table, column)
