"""Normalise checked batches into Arrow tables and stage them as Parquet files.

``Normalise`` turns a ``CheckedBatch`` into one Arrow table per staging table:

* ``raw.<event table>``: flattened contract fields, ``amount_yi`` (amount × unit scale in 亿
  of the original currency), Kafka coordinates, ``content_sha256`` and the original JSON;
  personal data (``respondent_email``) becomes a keyed HMAC-SHA256 and is removed from
  ``raw_json``.
* ``raw.survey_answers``: one row per answer of each valid survey response.
* ``_valid``: the landing candidates with their hashes (duplicates and conflicts by
  ``event_id`` are decided at commit, against everything landed before).
* ``quarantine``: every rejected record with its bytes and all its reasons.
* ``_reads``: records read per partition (the accounting's ``consumed``).
* ``_dq_results``: the GX outcomes of the batch.

Dates and timestamps stay ISO strings here; the warehouse casts them on insert.
``StageBatches`` writes each table of a batch to ``<staging>/<table>/<uuid>.parquet``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from contracts.checks import EMAIL_PATTERN
from contracts.flatten import flatten_answers, flatten_event
from contracts.spec import contracts
from contracts.taxonomy import unit_scale
from handoff.staging import StagedFile, staging_schemas
from pipelines.batches import CheckedBatch

YI = 1e8
EMAIL_BYTES = re.compile(EMAIL_PATTERN.encode())


class Normaliser:
    """Turns checked batches into staging tables (see the module docstring)."""

    def __init__(self, batch_id: str, ingested_at: datetime, pii_key: bytes) -> None:
        self.batch_id = batch_id
        self.ingested_at = ingested_at
        self.pii_key = pii_key
        self.schemas = staging_schemas()
        self.scales = unit_scale()
        self.integer_fields = {
            c.event_type: [f.name for f in c.payload.fields if f.kind == "integer"]
            for c in contracts().values()
        }

    def pii_hash(self, value: str) -> str:
        digest = hmac.new(self.pii_key, value.strip().lower().encode("utf-8"), hashlib.sha256)
        return "hmac-sha256:" + digest.hexdigest()

    def redact(self, value: bytes) -> bytes:
        """E-mail addresses in raw bytes replaced by their keyed hash."""
        return EMAIL_BYTES.sub(lambda m: self.pii_hash(m.group().decode()).encode(), value)

    def tables(self, batch: CheckedBatch) -> dict[str, pa.Table]:
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in self.schemas}
        reads: dict[tuple[str, int], list[int]] = {}
        for i, r in enumerate(batch.records):
            span = reads.setdefault((r.topic, r.partition), [0, r.offset, r.offset])
            span[0] += 1
            span[1], span[2] = min(span[1], r.offset), max(span[2], r.offset)
            key = r.key.decode("utf-8", "replace") if r.key is not None else None
            value = r.value or b""
            redacted = b"@" in value and bool(EMAIL_BYTES.search(value))
            safe_value = self.redact(value) if redacted else value
            if i in batch.rejected:
                reasons = batch.rejected[i]
                event_id, event_type = _peek(value)
                rows["quarantine"].append(
                    {
                        "kafka_topic": r.topic,
                        "kafka_partition": r.partition,
                        "kafka_offset": r.offset,
                        "kafka_timestamp": r.timestamp_ms,
                        "message_key": key,
                        "raw_value": safe_value,
                        "raw_sha256": hashlib.sha256(value).hexdigest(),
                        "redacted": redacted,
                        "event_id": event_id,
                        "event_type": event_type,
                        "reason_code": reasons[0].code,
                        "reason_detail": reasons[0].detail,
                        "reasons": [r_.as_dict() for r_ in reasons],
                    }
                )
                continue
            event = batch.valid[i]
            contract = contracts()[event["event_type"]]
            row = flatten_event(event, contract)
            for name in self.integer_fields[contract.event_type]:
                if row.get(name) is not None:
                    row[name] = int(row[name])
            if contract.event_type == "spend_disclosure":
                row["amount_yi"] = row["amount"] * self.scales[row["unit"]] / YI
            if "respondent_email_hash" in row and row["respondent_email_hash"] is not None:
                row["respondent_email_hash"] = self.pii_hash(str(row["respondent_email_hash"]))
            sha = hashlib.sha256(value).hexdigest()
            raw_json = safe_value.decode("utf-8")
            row.update(
                kafka_topic=r.topic,
                kafka_partition=r.partition,
                kafka_offset=r.offset,
                kafka_timestamp=r.timestamp_ms,
                message_key=key,
                ingested_at=self.ingested_at,
                batch_id=self.batch_id,
                content_sha256=sha,
                raw_json=raw_json,
            )
            rows[contract.table].append(row)
            rows["_valid"].append(
                {
                    "event_id": event["event_id"],
                    "event_type": contract.event_type,
                    "content_sha256": sha,
                    "raw_table": contract.table,
                    "kafka_topic": r.topic,
                    "kafka_partition": r.partition,
                    "kafka_offset": r.offset,
                    "kafka_timestamp": r.timestamp_ms,
                    "message_key": key,
                    "raw_value": safe_value,
                    "redacted": redacted,
                }
            )
            if contract.event_type == "survey_response":
                for answer in flatten_answers(event):
                    answer["batch_id"] = self.batch_id
                    rows["survey_answers"].append(answer)
        for (topic, partition), (count, first, last) in reads.items():
            rows["_reads"].append(
                {
                    "kafka_topic": topic,
                    "kafka_partition": partition,
                    "records": count,
                    "first_offset": first,
                    "last_offset": last,
                }
            )
        chunk_id = uuid.uuid4().hex
        for contract_name, suite in batch.suites:
            for o in suite.outcomes:
                rows["_dq_results"].append(
                    {
                        "chunk_id": chunk_id,
                        "contract": contract_name,
                        "suite": suite.suite,
                        "expectation": o.expectation,
                        "column_name": o.column,
                        "reason_code": o.reason_code,
                        "success": o.success,
                        "unexpected_count": o.unexpected_count,
                        "rows_checked": suite.rows_checked,
                        "rows_failed": suite.rows_failed,
                    }
                )
        return {
            name: pa.Table.from_pylist(table_rows, schema=self.schemas[name])
            for name, table_rows in rows.items()
            if table_rows
        }


def _peek(value: bytes) -> tuple[str | None, str | None]:
    """event_id and event_type of a rejected value, when it is a JSON object that has them."""
    try:
        event = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(event, dict):
        return None, None
    event_id, event_type = event.get("event_id"), event.get("event_type")
    return (
        event_id if isinstance(event_id, str) else None,
        event_type if isinstance(event_type, str) else None,
    )


class _NormaliseAndStageFn(beam.DoFn):
    def __init__(self, staging: str, batch_id: str, ingested_at: datetime, pii_key: bytes) -> None:
        self.staging = staging
        self.args = (batch_id, ingested_at, pii_key)
        self.normaliser: Normaliser | None = None

    def setup(self) -> None:
        self.normaliser = Normaliser(*self.args)

    def process(self, batch: CheckedBatch) -> Iterator[StagedFile]:
        assert self.normaliser is not None
        for name, table in self.normaliser.tables(batch).items():
            folder = Path(self.staging) / name
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{uuid.uuid4().hex}.parquet"
            pq.write_table(table, path, compression="zstd")
            yield StagedFile(name, str(path), table.num_rows)


class NormaliseAndStage(beam.PTransform):
    """``CheckedBatch`` → ``StagedFile``: normalise and write the batch's staging tables."""

    def __init__(self, staging: Path, batch_id: str, ingested_at: datetime, pii_key: bytes) -> None:
        super().__init__()
        self.fn = _NormaliseAndStageFn(str(staging), batch_id, ingested_at, pii_key)

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        return batches | "Normalise and stage Parquet" >> beam.ParDo(self.fn)
