"""Hand-made ``raw.*`` rows for model tests: a temporary DuckLake and row builders.

Only the fields a test cares about are given; the rest get plausible defaults. ``raw_json``
carries the amount and growth exactly as written, since the models read the printed
precision from it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa

from contracts.export.arrow import raw_schemas
from finradar.settings import Settings
from warehouse.lake import connect
from warehouse.schema import create_all
from warehouse.transactions import in_transaction

_offsets = itertools.count()
OCCURRED = datetime(2025, 4, 1, tzinfo=UTC)


def _landing(event_id: str, event_type: str, batch_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": OCCURRED,
        "producer": "test",
        "source_publisher": "test",
        "source_document": "hand-made",
        "kafka_topic": "test",
        "kafka_partition": 0,
        "kafka_offset": next(_offsets),
        "ingested_at": datetime.now(UTC),
        "batch_id": batch_id,
        "content_sha256": event_id,
    }


def _subject(entity_id: str, level: str, institution_type: str) -> dict[str, Any]:
    return {"entity_id": entity_id, "level": level, "institution_type": institution_type}


def spend(
    event_id: str,
    entity_id: str,
    fiscal_period: str,
    amount: str,
    *,
    status: str = "actual",
    scope: str = "tech",
    spend_class: str = "total",
    technology: str | None = None,
    reported_yoy: str | None = None,
    bound: str | None = None,
    vintage: date = date(2025, 4, 1),
    unit: str = "yi",
    currency: str = "CNY",
    measure: str | None = None,
    source_document: str = "hand-made",
    provenance: str | None = None,
    stated_cagr: str | None = None,
    stated_cagr_from: str | None = None,
    level: str = "segment",
    institution_type: str = "bank",
    tech_headcount: int | None = None,
    batch_id: str = "b1",
) -> dict[str, Any]:
    """A spend figure; ``amount`` and ``reported_yoy`` as printed (strings)."""
    payload_text = (
        f'"amount": {amount}'
        + (f', "reported_yoy": {reported_yoy}' if reported_yoy is not None else "")
        + (f', "stated_cagr": {stated_cagr}' if stated_cagr is not None else "")
    )
    scale = {"yuan": 1e-8, "wan": 1e-4, "yi": 1.0, "wan_yi": 1e4}[unit]
    return {
        **_landing(event_id, "spend_disclosure", batch_id),
        "source_document": source_document,
        "source_provenance": provenance,
        **_subject(entity_id, level, institution_type),
        "fiscal_period": fiscal_period,
        "status": status,
        "vintage": vintage,
        "scope": scope,
        "spend_class": spend_class,
        "technology": technology,
        "measure": measure,
        "amount": float(amount),
        "currency": currency,
        "unit": unit,
        "bound": bound,
        "reported_yoy": float(reported_yoy) if reported_yoy is not None else None,
        "stated_cagr": float(stated_cagr) if stated_cagr is not None else None,
        "stated_cagr_from": stated_cagr_from,
        "tech_headcount": tech_headcount,
        "amount_yi": float(amount) * scale,
        "raw_json": "{" + f'"event_id": "{event_id}", "payload": {{{payload_text}}}' + "}",
    }


def observation(
    event_id: str,
    entity_id: str,
    measure: str,
    value: str,
    *,
    fiscal_period: str | None = "2019",
    metric: str = "level",
    unit: str = "亿元",
    value_high: str | None = None,
    status: str = "actual",
    bound: str | None = None,
    span_from: str | None = None,
    currency: str | None = None,
    presentation: str | None = None,
    cited_source: str | None = None,
    part_of: str | None = None,
    base_measure: str | None = None,
    base_count: int | None = None,
    numerator_measure: str | None = None,
    source_document: str = "hand-made",
    level: str = "market",
    institution_type: str = "all_financial",
    batch_id: str = "b1",
) -> dict[str, Any]:
    """An observation (contract v1.2); ``value`` and ``value_high`` as printed (strings)."""
    payload_text = f'"value": {value}' + (
        f', "value_high": {value_high}' if value_high is not None else ""
    )
    return {
        **_landing(event_id, "observation", batch_id),
        "source_document": source_document,
        **_subject(entity_id, level, institution_type),
        "measure": measure,
        "metric": metric,
        "fiscal_period": fiscal_period,
        "span_from": span_from,
        "status": status,
        "vintage": date(2021, 3, 1),
        "value": float(value),
        "value_high": float(value_high) if value_high is not None else None,
        "bound": bound,
        "unit": unit,
        "currency": currency,
        "presentation": presentation,
        "cited_source": cited_source,
        "part_of": part_of,
        "base_measure": base_measure,
        "base_count": base_count,
        "numerator_measure": numerator_measure,
        "raw_json": "{" + f'"event_id": "{event_id}", "payload": {{{payload_text}}}' + "}",
    }


def milestone(
    event_id: str,
    entity_id: str,
    capability: str,
    stage: str,
    effective_date: date,
    *,
    institution_type: str = "bank",
    level: str = "institution",
    technology: str = "ai",
    sourcing: str | None = None,
    case_count: int | None = None,
    product: str | None = None,
    batch_id: str = "b1",
) -> dict[str, Any]:
    return {
        **_landing(event_id, "deployment_milestone", batch_id),
        **_subject(entity_id, level, institution_type),
        "technology": technology,
        "capability": capability,
        "stage": stage,
        "effective_date": effective_date,
        "date_precision": "day",
        "sourcing": sourcing,
        "case_count": case_count,
        "product": product,
        "raw_json": json.dumps({"event_id": event_id}),
    }


def response(
    event_id: str,
    respondent_id: str,
    answers: Iterable[dict[str, Any]],
    *,
    entity_id: str | None = None,
    institution_type: str = "bank",
    survey_id: str = "fintech-practice-2025",
    wave: str = "2025",
    occurred_at: datetime = OCCURRED,
    provenance: str | None = None,
    batch_id: str = "b1",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A survey response row and its answer rows (``raw.survey_answers``)."""
    entity_id = entity_id or f"panel.{respondent_id}"
    row = {
        **_landing(event_id, "survey_response", batch_id),
        **_subject(entity_id, "institution", institution_type),
        "occurred_at": occurred_at,
        "source_provenance": provenance,
        "survey_id": survey_id,
        "wave": wave,
        "respondent_id": respondent_id,
        # occurred_at as the producer wrote it, with its own offset
        "raw_json": json.dumps({"event_id": event_id, "occurred_at": occurred_at.isoformat()}),
    }
    rows = [
        {
            "event_id": event_id,
            "survey_id": survey_id,
            "wave": wave,
            "respondent_id": respondent_id,
            "entity_id": entity_id,
            "institution_type": institution_type,
            "occurred_at": occurred_at,
            "answer_index": i,
            "question_id": a["question_id"],
            "kind": a["kind"],
            "options": a.get("options"),
            "score": a.get("score"),
            "stage": a.get("stage"),
            "batch_id": batch_id,
        }
        for i, a in enumerate(answers)
    ]
    return row, rows


def open_lake(settings: Settings) -> duckdb.DuckDBPyConnection:
    con = connect(settings)
    create_all(con)
    return con


def insert(settings: Settings, table: str, rows: list[dict[str, Any]]) -> None:
    """Append rows to ``raw.<table>`` in one commit, retried as the platform's commits are
    when another writer holds the catalog (a refresh beside it, in the concurrency test)."""
    schema = raw_schemas()[table]
    data = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema)
    con = open_lake(settings)
    try:
        con.register("new_rows", data)
        in_transaction(
            con,
            lambda: con.execute(f"insert into raw.{table} by name select * from new_rows"),
            message=lambda _: f"test: {len(rows)} rows into raw.{table}",
        )
    finally:
        con.close()


def insert_responses(
    settings: Settings, responses: list[tuple[dict[str, Any], list[dict[str, Any]]]]
) -> None:
    insert(settings, "survey_responses", [r for r, _ in responses])
    insert(settings, "survey_answers", [a for _, answers in responses for a in answers])


def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = connect(settings, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
