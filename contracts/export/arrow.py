"""Arrow schemas of the landed ``raw.*`` tables, derived from ``contracts.spec``.

A landed row is the flattened event: envelope fields by name, ``source.*`` as
``source_<name>``, ``subject.*`` and ``payload.*`` by name, then the Kafka coordinates and
landing metadata every raw table carries. Arrays of objects (``kpis``) stay nested;
``answers`` of a survey response also land one row per answer in ``raw.survey_answers``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from contracts.spec import ANSWER, EventContract, Field, contracts

PREFIX = {"source": "source_", "subject": "", "payload": ""}

LANDING_COLUMNS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("kafka_topic", pa.string(), "topic the message was read from"),
    ("kafka_partition", pa.int32(), "partition"),
    ("kafka_offset", pa.int64(), "offset"),
    ("kafka_timestamp", pa.timestamp("ms", tz="UTC"), "broker or producer timestamp"),
    (
        "message_key",
        pa.string(),
        "the message key (subject.entity_id); its keyed hash if it holds personal data",
    ),
    ("ingested_at", pa.timestamp("us", tz="UTC"), "when the batch landed"),
    ("batch_id", pa.string(), "the ingest batch that landed the row"),
    (
        "content_sha256",
        pa.string(),
        "SHA-256 of the message value as received (when it held personal data: its "
        "HMAC-SHA256 under the personal-data key, hmac-sha256:<hex>)",
    ),
    (
        "raw_json",
        pa.string(),
        "the JSON text as received, each string holding personal data replaced by its keyed hash",
    ),
)
# Columns the ingest derives while normalising, per event type.
DERIVED_COLUMNS: dict[str, tuple[tuple[str, pa.DataType, str], ...]] = {
    "spend_disclosure": (
        (
            "amount_yi",
            pa.float64(),
            "amount in 亿 of the original currency (amount × unit scale / 1e8)",
        ),
    ),
}
ANSWER_KEY_COLUMNS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("event_id", pa.string(), "the survey_response event"),
    ("survey_id", pa.string(), "survey"),
    ("wave", pa.string(), "wave"),
    ("respondent_id", pa.string(), "pseudonymous respondent"),
    ("entity_id", pa.string(), "the respondent's institution"),
    ("institution_type", pa.string(), "the institution's type"),
    ("occurred_at", pa.timestamp("us", tz="UTC"), "when the response was given"),
    ("answer_index", pa.int32(), "position in the response"),
)


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    doc: str
    path: tuple[str, ...]
    enum: str | None = None
    required: bool = False
    spec: Field | None = None


def arrow_type(f: Field) -> pa.DataType:
    if f.kind == "string":
        return pa.string()
    if f.kind == "integer":
        return pa.int64()
    if f.kind == "number":
        return pa.float64()
    if f.kind == "date":
        return pa.date32()
    if f.kind == "timestamp":
        return pa.timestamp("us", tz="UTC")
    if f.kind == "array":
        assert f.items is not None
        return pa.list_(arrow_type(f.items))
    return pa.struct([pa.field(c.name, arrow_type(c)) for c in f.fields])


def event_columns(contract: EventContract) -> list[Column]:
    """The flattened contract fields of a landed row, in declaration order."""
    columns: list[Column] = []
    for f in contract.root.fields:
        if f.kind == "object":
            for c in f.fields:
                if f.name == "payload" and c.name in contract.child_tables:
                    continue
                name = PREFIX[f.name] + c.name
                required = f.required and c.required
                if c.personal:
                    name = f"{c.name}_hash"
                    columns.append(
                        Column(name, pa.string(), "keyed hash of " + c.name, (f.name, c.name))
                    )
                    continue
                columns.append(
                    Column(name, arrow_type(c), c.doc, (f.name, c.name), c.enum, required, c)
                )
        else:
            columns.append(Column(f.name, arrow_type(f), f.doc, (f.name,), f.enum, f.required, f))
    return columns


def raw_schema(contract: EventContract) -> pa.Schema:
    fields = [pa.field(c.name, c.type, nullable=not c.required) for c in event_columns(contract)]
    fields += [pa.field(n, t) for n, t, _ in DERIVED_COLUMNS.get(contract.event_type, ())]
    fields += [
        pa.field(n, t, nullable=False)
        for n, t, _ in LANDING_COLUMNS
        if n not in ("kafka_timestamp", "message_key")
    ]
    fields += [
        pa.field(n, t) for n, t, _ in LANDING_COLUMNS if n in ("kafka_timestamp", "message_key")
    ]
    return pa.schema(fields)


def answer_columns() -> list[Column]:
    cols = [Column(n, t, d, ()) for n, t, d in ANSWER_KEY_COLUMNS]
    cols += [
        Column(c.name, arrow_type(c), c.doc, ("answer", c.name), c.enum, c.required, c)
        for c in ANSWER.fields
    ]
    return cols


def answer_schema() -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, c.type) for c in answer_columns()] + [pa.field("batch_id", pa.string())]
    )


def raw_schemas() -> dict[str, pa.Schema]:
    """Arrow schema of every ``raw.*`` table by table name."""
    schemas = {c.table: raw_schema(c) for c in contracts().values()}
    schemas["survey_answers"] = answer_schema()
    return schemas
