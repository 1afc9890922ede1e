"""The staging tables of a run: what ``Normalise and stage`` writes and the landing reads.

Raw tables take their columns from ``contracts`` (dates and timestamps as ISO strings: the
warehouse casts them on insert). A staged quarantine row (``QUARANTINE_SCHEMA``) is a row of
``quarantine.events`` without what the warehouse adds when it lands it (``warehouse.schema``).
The run-internal tables (``_valid``, ``_reads``, ``_gx_rejected``, ``_dq_results``) are
defined here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from contracts.export.arrow import answer_schema, raw_schema
from contracts.spec import contracts


@dataclass(frozen=True)
class StagedFile:
    """A Parquet file written for one staging table of a run."""

    table: str
    path: str
    rows: int


ANSWER_ORIGIN = [
    pa.field("kafka_topic", pa.string()),
    pa.field("kafka_partition", pa.int32()),
    pa.field("kafka_offset", pa.int64()),
]
QUARANTINE_SCHEMA = pa.schema(
    [
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("kafka_timestamp", pa.timestamp("ms", tz="UTC")),
        ("message_key", pa.string()),
        ("raw_value", pa.binary()),  # the bytes as received (personal data redacted, see below)
        # SHA-256 of the bytes as received, before any redaction (keyed, ``hmac-sha256:``, when
        # they held personal data: a plain hash of them could be matched by guessing)
        ("raw_sha256", pa.string()),
        # personal data (contracts.personal_data) in raw_value or message_key replaced by its
        # keyed hash: the message is no longer the one sent, and is never replayed
        ("redacted", pa.bool_()),
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("reason_code", pa.string()),
        ("reason_detail", pa.string()),
        ("reasons", pa.list_(pa.struct([("code", pa.string()), ("detail", pa.string())]))),
    ]
)
# A landing candidate: what deciding its verdict needs, and what quarantining it then takes
# besides its bytes. The bytes are staged once, as its raw table's ``raw_json`` (the same
# bytes as text): a pass quarantines few of its valid events at commit (conflicts, GX
# rejections, unstorable values), and a second copy of every message cost each worker a
# write of it.
VALID_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("content_sha256", pa.string()),
        ("raw_table", pa.string()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("kafka_timestamp", pa.timestamp("ms", tz="UTC")),
        ("message_key", pa.string()),
        ("redacted", pa.bool_()),
    ]
)
READS_SCHEMA = pa.schema(
    [
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("records", pa.int64()),
        ("first_offset", pa.int64()),
        ("last_offset", pa.int64()),
    ]
)
# an event the GX suites rejected (``pipelines.normalise.StageVerdicts``): the commit
# quarantines its staged ``_valid`` row with these reasons
GX_REJECTED_SCHEMA = pa.schema(
    [
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("reasons", pa.list_(pa.struct([("code", pa.string()), ("detail", pa.string())]))),
    ]
)
DQ_SCHEMA = pa.schema(
    [
        ("chunk_id", pa.string()),
        ("contract", pa.string()),
        ("suite", pa.string()),
        ("expectation", pa.string()),
        ("column_name", pa.string()),
        ("reason_code", pa.string()),
        ("success", pa.bool_()),
        ("unexpected_count", pa.int64()),
        ("rows_checked", pa.int64()),
        ("rows_failed", pa.int64()),
    ]
)


def _string_dates(schema: pa.Schema) -> pa.Schema:
    """The staging form of a raw schema: dates and timestamps as strings, nothing required."""
    fields = []
    for f in schema:
        t = f.type
        if (pa.types.is_date(t) or pa.types.is_timestamp(t)) and f.name not in (
            "kafka_timestamp",
            "ingested_at",
        ):
            t = pa.string()
        fields.append(pa.field(f.name, t))
    return pa.schema(fields)


def staging_schemas() -> dict[str, pa.Schema]:
    schemas = {c.table: _string_dates(raw_schema(c)) for c in contracts().values()}
    # staged answers also name their message, so that only the landed copy's answers land
    # (a conflicting copy has the same event_id); the raw table leaves these out
    schemas["survey_answers"] = pa.schema([*_string_dates(answer_schema()), *ANSWER_ORIGIN])
    schemas["_valid"] = VALID_SCHEMA
    schemas["_reads"] = READS_SCHEMA
    schemas["_dq_results"] = DQ_SCHEMA
    schemas["_gx_rejected"] = GX_REJECTED_SCHEMA
    schemas["quarantine"] = QUARANTINE_SCHEMA
    return schemas
