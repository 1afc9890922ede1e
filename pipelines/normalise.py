"""Normalise checked batches into Arrow tables and stage them as Parquet files.

``Normalise`` turns a ``CheckedBatch`` into one Arrow table per staging table:

* ``raw.<event table>``: flattened contract fields, ``amount_yi`` (amount × unit scale in 亿
  of the original currency), Kafka coordinates, ``content_sha256`` and the original JSON.
  Personal data (``contracts.personal_data``: e-mail addresses and phone numbers in any
  string of the event, keys included, and declared personal fields such as
  ``respondent_email``) is replaced whole by its keyed HMAC-SHA256 (``pii_hash``) in every
  column, in ``raw_json`` (the redacted event, encoded again) and in the message key.
* ``raw.survey_answers``: one row per answer of each valid survey response.
* ``_valid``: the landing candidates with their hashes (duplicates and conflicts by
  ``event_id`` are decided at commit, against everything landed before); their bytes
  are their raw table's ``raw_json``, staged once.
* ``quarantine``: every rejected record with its bytes and all its reasons (redacted the
  same way: a message that does not decode keeps its bytes with each JSON string token,
  or run of text, that holds personal data replaced by its hash; a reason that would
  quote personal data does not).
* ``_reads``: records read per partition (the accounting's ``consumed``).

Dates and timestamps stay ISO strings here; the warehouse casts them on insert.
``NormaliseAndStage`` writes each table to ``<staging>/<table>/<uuid>.parquet``, the
tables of many batches in one file (``STAGE_BYTES``).

``StageVerdicts`` stages what the GX suites decided (``ValidatedRows``, validated over many
batches at once) the same way: ``_gx_rejected``, each event they rejected by its Kafka
coordinates with its reasons (the commit quarantines it instead of landing it), and
``_dq_results``, the suites' outcomes.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import apache_beam as beam
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.windowed_value import WindowedValue

from contracts.batch_checks import suspects, value_at
from contracts.checks import Reason, decode, internal_error
from contracts.decoding import printable
from contracts.flatten import flatten_answers, flatten_columns, flatten_event
from contracts.personal_data import (
    WITHHELD,
    holds_personal_bytes,
    holds_personal_data,
    may_hold_personal_data,
    may_hold_personal_data_each,
    redact_bytes,
    redact_event,
    redact_json,
)
from contracts.spec import contracts
from contracts.taxonomy import unit_scale
from finradar.settings import Secret
from handoff.records import KafkaRecord
from handoff.staging import StagedFile, staging_schemas
from handoff.validation import ValidatedRows
from pipelines.batch_gc import collector_paused
from pipelines.batches import CheckedBatch, own_columns

YI = 1e8
# A staging file is read once, whole, by the commit: LZ4 without dictionaries writes in
# about half of zstd's time, twice the bytes, and without the columns' statistics (min and
# max, which nothing reads: each is a comparison of every value, a message's bytes among
# them) in less again (``tests.bench.profile_ingest_steps`` prints the three)
STAGING_PARQUET: dict[str, Any] = {
    "compression": "lz4",
    "use_dictionary": False,
    "write_statistics": False,
}
StagingRows = list[tuple[str, dict[str, Any]]]  # (staging table, row) of one record
# A worker writes the staging tables of its batches once this many bytes of them wait
# (``HeldTables``): a file per table of each batch cost about 40% more to write, in setting
# up writers and footers (``python -m tests.bench.profile_ingest_steps`` prints both), and
# the commit reads each file
STAGE_BYTES = 32 * 1024 * 1024
# the message keys a worker keeps read (an entity's id each, as the project's producers
# send them): their bytes, not their number, bound what it holds, whatever the keys
KEY_BYTES_KEPT = 4 * 1024 * 1024
_PARTITION, _OFFSET = itemgetter(0, 1), itemgetter(2)  # of a ``KafkaRecord``


class Normaliser:
    """Turns checked batches into staging tables (see the module docstring)."""

    def __init__(self, batch_id: str, ingested_at: datetime, pii_key: bytes) -> None:
        self.batch_id = batch_id
        self.ingested_at = ingested_at
        self.pii_key = pii_key
        self.schemas = staging_schemas()
        self.scales = unit_scale()
        # the keys are few (an entity's id each): each is read for personal data once
        self.keys: dict[bytes, tuple[str, bool]] = {}
        self.key_bytes = 0  # of the keys in ``keys`` (``KEY_BYTES_KEPT`` at most)
        self.integer_fields = {
            c.event_type: [f.name for f in c.payload.fields if f.kind == "integer"]
            for c in contracts().values()
        }

    def pii_hash(self, value: str) -> str:
        """The keyed hash that replaces a personal value (trimmed and lower-cased first, so
        that one address gives one hash however it is written)."""
        digest = hmac.new(self.pii_key, value.strip().lower().encode("utf-8"), hashlib.sha256)
        return "hmac-sha256:" + digest.hexdigest()

    def bytes_hash(self, value: bytes, personal: bool) -> str:
        """The hash kept of a message's bytes as received: SHA-256, or, when they held
        personal data (``personal``), an HMAC-SHA256 under the personal-data key: a plain
        hash of bytes around a guessable address or number could be matched by trying
        candidates. Either way one message gives one hash (duplicates are still found)."""
        if personal:
            return "hmac-sha256:" + hmac.new(self.pii_key, value, hashlib.sha256).hexdigest()
        return hashlib.sha256(value).hexdigest()

    def stored_event(
        self, value: bytes, event: dict[str, Any], suspect: bool | None = None
    ) -> tuple[dict[str, Any], bytes]:
        """A valid message's event and bytes as they are kept: unchanged when it holds no
        personal data, else the event with every personal value replaced whole by its hash
        (``contracts.personal_data.redact_event``) and the bytes with the same strings
        replaced (``redact_json``: number texts stay as sent, whose digits the warehouse
        reads). ``suspect``: whether the bytes may hold personal data, if known."""
        if not (may_hold_personal_data(value) if suspect is None else suspect):
            return event, value
        redacted, changed = redact_event(event, self.pii_hash)
        if not changed:
            return event, value
        return redacted, self._redacted_bytes(value, redacted)

    def _redacted_bytes(self, value: bytes, redacted: dict[str, Any]) -> bytes:
        """The bytes of a message whose decoded event holds personal data, with the strings
        replaced that ``redact_event`` replaced in ``redacted``; or ``redacted`` encoded
        again, if those bytes do not decode to it (a declared personal field that is not a
        string)."""
        try:
            text, _ = redact_json(value.decode("utf-8"), self.pii_hash)
            if orjson.loads(text) == redacted:
                return text.encode("utf-8")
        except (UnicodeError, orjson.JSONDecodeError):
            pass
        return orjson.dumps(redacted)

    def stored_bytes(
        self, value: bytes, suspect: bool = True, decoded: dict[str, Any] | None = None
    ) -> tuple[bytes, bool, dict[str, Any] | None]:
        """The bytes to keep of a rejected message, whether personal data was replaced in
        them, and the event they decode to (redacted), if any. A message that decodes is
        redacted as a valid one is; one that does not keeps its bytes with each string
        or run of text that holds personal data replaced by its hash
        (``contracts.personal_data.redact_bytes``). ``suspect``: false if the bytes were
        found to hold no personal data (``may_hold_personal_data`` of them). ``decoded``:
        the event the contract check decoded the bytes to, if any (else they are decoded
        here)."""
        event = decoded
        if event is None:
            try:
                event = decode(value).event
            except Exception:  # whatever the value, the quarantine row is built
                event = None
        if not (suspect and may_hold_personal_data(value, fields=event is not None)):
            return value, False, event
        if event is None:
            kept, changed = redact_bytes(value, self.pii_hash)
            return kept, changed, None
        redacted, changed = redact_event(event, self.pii_hash)
        if not changed:
            return value, False, event
        return self._redacted_bytes(value, redacted), True, redacted

    def message_key(self, key: bytes | None) -> tuple[str | None, bool]:
        """The message key as kept (text), and whether it held personal data, which its
        keyed hash then replaces whole."""
        if key is None:
            return None, False
        kept = self.keys.get(key)
        if kept is None:
            text = key.decode("utf-8", "replace")
            personal = holds_personal_bytes(key)
            kept = (self.pii_hash(text) if personal else text), personal
            if self.key_bytes + len(key) > KEY_BYTES_KEPT:
                self.keys.clear()
                self.key_bytes = 0
            if len(key) <= KEY_BYTES_KEPT:
                self.keys[key] = kept
                self.key_bytes += len(key)
        return kept

    def tables(self, batch: CheckedBatch) -> dict[str, pa.Table]:
        """The batch's staging tables. An event type whose events the batch check gathered
        as columns is built column by column (``_columnar``); the others, and a type whose
        columns Arrow refuses, row by row, where a record whose rows cannot be built, or
        that Arrow cannot hold, goes to quarantine as ``internal_error`` instead of failing
        the batch."""
        rejected = dict(batch.rejected)
        accepted: dict[int, StagingRows] = {}
        built: list[dict[str, pa.Table]] = []
        for event_type, indexes in batch.valid_by_type():
            columns = batch.columns(event_type, indexes)
            if columns is not None:
                try:
                    built.append(self._columnar(batch, event_type, indexes, columns))
                    continue
                except Exception:  # a value Arrow refuses: find its record row by row
                    pass
            for i in indexes:
                try:
                    accepted[i] = self._event_rows(batch.records[i], batch.valid[i])
                except Exception as exc:  # one record's defect must not stop the pass
                    rejected[i] = [internal_error("normalise", exc)]
        built.append(self._arrow(accepted, rejected))
        tables = _concatenated(built)
        order = sorted(rejected)
        # one screen over the batch's rejected values: an oversize one is a megabyte to search
        suspect = may_hold_personal_data_each([batch.records[i].value for i in order])
        quarantine = [
            self._quarantine_row(batch.records[i], rejected[i], maybe, batch.decoded.get(i))
            for i, maybe in zip(order, suspect, strict=True)
        ]
        if quarantine:
            tables["quarantine"] = _quarantine_table(quarantine, self.schemas["quarantine"])
        reads = _reads(batch)
        if reads:
            tables["_reads"] = pa.Table.from_pylist(reads, schema=self.schemas["_reads"])
        return tables

    def _columnar(
        self,
        batch: CheckedBatch,
        event_type: str,
        indexes: list[int],
        columns: dict[str, list[Any]],
    ) -> dict[str, pa.Table]:
        """The staging tables of the valid events at ``indexes`` (all of ``event_type``)
        from their field columns: the rows ``_event_rows`` would give, built per column."""
        contract = contracts()[event_type]
        records = [batch.records[i] for i in indexes]
        # the records' fields as columns, in one pass in C
        topics, partitions, offsets, timestamps, message_keys, raw = map(
            list, zip(*records, strict=True)
        )
        values = [v or b"" for v in raw]
        kept = list(values)
        suspect = suspects(batch.screened.get(event_type), indexes, values)
        shared = True  # ``columns`` may be the batch's own lists
        # an event whose bytes hold no personal data is kept as it is (``stored_event``)
        for j in [j for j, maybe in enumerate(suspect) if maybe]:
            event, stored = self.stored_event(values[j], batch.valid[indexes[j]], True)
            if stored is not values[j]:  # the event holds personal data: its columns too
                if shared:
                    columns, shared = own_columns(columns), False
                for path, column in columns.items():
                    column[j] = value_at(event, path)
                kept[j] = stored
        shas = [self.bytes_hash(v, s is not v) for v, s in zip(values, kept, strict=True)]
        stored_keys = list(map(self.message_key, message_keys))
        keys = [k for k, _ in stored_keys]
        redacted = [
            stored is not value or key_redacted
            for stored, value, (_, key_redacted) in zip(kept, values, stored_keys, strict=True)
        ]
        coordinates = {
            "kafka_topic": topics,
            "kafka_partition": partitions,
            "kafka_offset": offsets,
        }
        row = flatten_columns(columns, contract)
        if event_type == "spend_disclosure":
            scales = [self.scales[unit] for unit in row["unit"]]
            row["amount_yi"] = [a * s / YI for a, s in zip(row["amount"], scales, strict=True)]
        n = len(records)
        # the bytes once, as Arrow: the raw table keeps them as text (a cast that checks the
        # UTF-8 in C, against a Python str per message and its copy)
        stored = pa.array(kept, pa.binary())
        row.update(
            coordinates,
            kafka_timestamp=timestamps,
            message_key=keys,
            ingested_at=[self.ingested_at] * n,
            batch_id=[self.batch_id] * n,
            content_sha256=shas,
            raw_json=stored.cast(pa.string()),
        )
        # the field columns as GX's frames convert them too (``CheckedBatch.arrow``)
        tables = {contract.table: _table(row, self.schemas[contract.table], batch.arrow)}
        valid = {
            "event_id": row["event_id"],
            "event_type": [event_type] * n,
            "content_sha256": shas,
            "raw_table": [contract.table] * n,
            **coordinates,
            "kafka_timestamp": row["kafka_timestamp"],
            "message_key": keys,
            "redacted": redacted,
        }
        tables["_valid"] = _table(valid, self.schemas["_valid"])
        if event_type == "survey_response":
            rows, answers = batch.answer_columns(columns)
            if rows:
                answers.update(
                    batch_id=[self.batch_id] * len(rows),
                    **{name: [column[j] for j in rows] for name, column in coordinates.items()},
                )
                tables["survey_answers"] = _table(answers, self.schemas["survey_answers"])
        return tables

    def _arrow(
        self,
        accepted: dict[int, StagingRows],
        rejected: dict[int, list[Reason]],
    ) -> dict[str, pa.Table]:
        """Arrow tables of the accepted records' rows; a record with a row Arrow refuses
        moves from ``accepted`` to ``rejected``."""
        while True:
            by_table: dict[str, list[tuple[int, dict[str, Any]]]] = {}
            for i, rows in accepted.items():
                for table, row in rows:
                    by_table.setdefault(table, []).append((i, row))
            tables, refused = {}, {}
            for table, rows in by_table.items():
                schema = self.schemas[table]
                try:
                    tables[table] = pa.Table.from_pylist([r for _, r in rows], schema=schema)
                except Exception:
                    refused.update(_refused_rows(rows, schema, table))
            if not refused:
                return tables
            for i, reason in refused.items():
                del accepted[i]
                rejected[i] = [reason]

    def _event_rows(self, r: KafkaRecord, event: dict[str, Any]) -> StagingRows:
        """The staging rows of one valid record: its raw table's, ``_valid``'s, its answers'."""
        key, key_redacted = self.message_key(r.key)
        value = r.value or b""
        event, safe_value = self.stored_event(value, event)
        redacted = safe_value is not value or key_redacted
        contract = contracts()[event["event_type"]]
        row = flatten_event(event, contract)
        for name in self.integer_fields[contract.event_type]:
            if row.get(name) is not None:
                row[name] = int(row[name])
        if contract.event_type == "spend_disclosure":
            row["amount_yi"] = row["amount"] * self.scales[row["unit"]] / YI
        sha = self.bytes_hash(value, safe_value is not value)
        row.update(
            kafka_topic=r.topic,
            kafka_partition=r.partition,
            kafka_offset=r.offset,
            kafka_timestamp=r.timestamp_ms,
            message_key=key,
            ingested_at=self.ingested_at,
            batch_id=self.batch_id,
            content_sha256=sha,
            raw_json=safe_value.decode("utf-8"),
        )
        rows = [(contract.table, row)]
        rows.append(
            (
                "_valid",
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
                    "redacted": redacted,
                },
            )
        )
        if contract.event_type == "survey_response":
            for answer in flatten_answers(event):
                answer.update(
                    batch_id=self.batch_id,
                    kafka_topic=r.topic,
                    kafka_partition=r.partition,
                    kafka_offset=r.offset,
                )
                rows.append(("survey_answers", answer))
        return rows

    def _quarantine_row(
        self,
        r: KafkaRecord,
        reasons: list[Reason],
        suspect: bool = True,
        decoded: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A rejected record with its bytes and every reason, personal data redacted
        (``stored_bytes``, ``message_key``, ``kept_detail``); ``suspect`` and ``decoded``
        as there."""
        value = r.value or b""
        kept, redacted, event = self.stored_bytes(value, suspect, decoded)
        key, key_redacted = self.message_key(r.key)
        event_id, event_type = _peek(event)
        details = [kept_detail(x.detail) for x in reasons]
        return {
            "kafka_topic": r.topic,
            "kafka_partition": r.partition,
            "kafka_offset": r.offset,
            "kafka_timestamp": r.timestamp_ms,
            "message_key": key,
            "raw_value": kept,
            "raw_sha256": self.bytes_hash(value, redacted),
            "redacted": redacted or key_redacted,
            "event_id": event_id,
            "event_type": event_type,
            "reason_code": reasons[0].code,
            "reason_detail": details[0],
            "reasons": [
                {"code": x.code, "detail": d} for x, d in zip(reasons, details, strict=True)
            ],
        }


def _table(
    columns: dict[str, Any],
    schema: pa.Schema,
    convert: Callable[[list[Any], pa.DataType], pa.Array] = pa.array,
) -> pa.Table:
    """The table of ``columns`` (lists, or Arrow arrays of the schema's types) in
    ``schema``'s order; ``convert`` makes an array of a list."""
    arrays = [_array(columns[f.name], f.type, convert) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _array(
    values: Any, type_: pa.DataType, convert: Callable[[list[Any], pa.DataType], pa.Array]
) -> pa.Array:
    return values if isinstance(values, pa.Array) else convert(values, type_)


def _concatenated(parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
    """Each staging table's parts as one table."""
    by_name: dict[str, list[pa.Table]] = {}
    for part in parts:
        for name, table in part.items():
            by_name.setdefault(name, []).append(table)
    return {
        name: tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        for name, tables in by_name.items()
    }


def _refused_rows(
    rows: list[tuple[int, dict[str, Any]]], schema: pa.Schema, table: str
) -> dict[int, Reason]:
    """The records whose row of ``table`` Arrow refuses on its own, with why."""
    refused = {}
    for i, row in rows:
        try:
            pa.Table.from_pylist([row], schema=schema)
        except Exception as exc:
            refused.setdefault(i, internal_error(f"staging {table}", exc))
    if not refused:  # only together: give up on the whole table's records, not the batch
        exc = RuntimeError(f"{table}: Arrow refused the batch's rows together")
        refused = {i: internal_error(f"staging {table}", exc) for i, _ in rows}
    return refused


def _quarantine_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """The quarantine rows as a table; a row Arrow refuses keeps its bytes and reasons but
    not what was peeked from it (event id and type, the key as text)."""
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except Exception:
        return pa.Table.from_pylist([_holdable(row, schema) for row in rows], schema=schema)


def _holdable(row: dict[str, Any], schema: pa.Schema) -> dict[str, Any]:
    try:
        pa.Table.from_pylist([row], schema=schema)
    except Exception:
        return {**row, "event_id": None, "event_type": None, "message_key": None}
    return row


def _reads(batch: CheckedBatch) -> list[dict[str, Any]]:
    """Records read per partition (the accounting's ``consumed``)."""
    records = batch.records
    reads: dict[tuple[str, int], list[int]] = {}
    partitions = set(map(_PARTITION, records))
    if len(partitions) == 1:  # a batch of one partition's range, read in C loops
        offsets = list(map(_OFFSET, records))
        reads[partitions.pop()] = [len(records), min(offsets), max(offsets)]
    else:  # a small pass's batch of a topic's partitions (``ReadSmallPass``)
        for r in records:
            span = reads.setdefault((r.topic, r.partition), [0, r.offset, r.offset])
            span[0] += 1
            span[1], span[2] = min(span[1], r.offset), max(span[2], r.offset)
    return [
        {
            "kafka_topic": topic,
            "kafka_partition": partition,
            "records": count,
            "first_offset": first,
            "last_offset": last,
        }
        for (topic, partition), (count, first, last) in reads.items()
    ]


def kept_detail(detail: str) -> str:
    """A reason's detail as kept: the checks never quote personal data
    (``contracts.personal_data.shown``); a detail that does anyway is withheld."""
    detail = printable(detail)
    if may_hold_personal_data(detail.encode()) and holds_personal_data(detail):
        return WITHHELD
    return detail


def verdict_tables(verdicts: ValidatedRows) -> dict[str, pa.Table]:
    """The staging tables of GX's verdicts: ``_gx_rejected`` and ``_dq_results``."""
    schemas = staging_schemas()
    rejected = [
        {
            "kafka_topic": topic,
            "kafka_partition": partition,
            "kafka_offset": offset,
            "reasons": [{"code": r.code, "detail": kept_detail(r.detail)} for r in reasons],
        }
        for (topic, partition, offset), reasons in verdicts.rejected
    ]
    tables = {}
    for name, rows in (("_gx_rejected", rejected), ("_dq_results", _dq_rows(verdicts))):
        if rows:
            tables[name] = pa.Table.from_pylist(rows, schema=schemas[name])
    return tables


def _dq_rows(verdicts: ValidatedRows) -> list[dict[str, Any]]:
    """GX's outcomes, one row per expectation and suite outcome; each outcome is a chunk
    of its own (a validation run again in halves has two outcomes of one suite, and the
    landing counts ``rows_checked`` once per chunk)."""
    chunk = uuid.uuid4().hex
    return [
        {
            "chunk_id": f"{chunk}-{n}",
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
        for n, (contract_name, suite) in enumerate(verdicts.suites)
        for o in suite.outcomes
    ]


def _peek(event: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """event_id and event_type of a rejected value's event (redacted), if it decoded to
    an object that has them."""
    if event is None:
        return None, None
    event_id, event_type = event.get("event_id"), event.get("event_type")
    return (
        event_id if isinstance(event_id, str) else None,
        event_type if isinstance(event_type, str) else None,
    )


class HeldTables:
    """Staging tables of several batches, held and written together, a file per table,
    once ``stage_bytes`` bytes of them wait (``add``), and when asked (``flush``)."""

    def __init__(self, staging: Path, stage_bytes: int = STAGE_BYTES) -> None:
        self.staging = staging
        self.stage_bytes = stage_bytes
        self.waiting: list[dict[str, pa.Table]] = []
        self.waiting_bytes = 0

    def add(self, tables: dict[str, pa.Table]) -> list[StagedFile]:
        """Hold one batch's tables; the files written, if this made enough wait."""
        self.waiting.append(tables)
        self.waiting_bytes += sum(t.nbytes for t in tables.values())
        return self.flush() if self.waiting_bytes >= self.stage_bytes else []

    def flush(self) -> list[StagedFile]:
        """Write what waits."""
        tables = _concatenated(self.waiting)
        self.waiting, self.waiting_bytes = [], 0
        return _write(tables, self.staging)


class _NormaliseAndStageFn(beam.DoFn):
    """Normalises each batch it receives and holds its staging tables (``HeldTables``)
    until ``stage_bytes`` bytes of them wait, and the bundle's last until it ends."""

    def __init__(
        self,
        staging: str,
        batch_id: str,
        ingested_at: datetime,
        pii_key: Secret,
        stage_bytes: int = STAGE_BYTES,
    ) -> None:
        self.staging = staging
        self.batch_id = batch_id
        self.ingested_at = ingested_at
        # pickled as a reference to the worker's environment (``Secret``), read here
        self.pii_key = pii_key
        self.stage_bytes = stage_bytes
        self.normaliser: Normaliser | None = None
        self.held: HeldTables | None = None

    def setup(self) -> None:
        key = self.pii_key.get_secret_value().encode()
        self.normaliser = Normaliser(self.batch_id, self.ingested_at, key)

    def start_bundle(self) -> None:
        self.held = HeldTables(Path(self.staging), self.stage_bytes)

    def process(self, batch: CheckedBatch) -> Iterator[StagedFile]:
        assert self.normaliser is not None and self.held is not None
        with collector_paused():
            staged = self.held.add(self.normaliser.tables(batch))
        yield from staged

    def finish_bundle(self) -> Iterator[WindowedValue]:
        assert self.held is not None
        with collector_paused():
            staged = self.held.flush()
        for file in staged:
            yield GlobalWindows.windowed_value(file)


def stage_batch(normaliser: Normaliser, batch: CheckedBatch, staging: Path) -> list[StagedFile]:
    """Write the batch's staging tables as Parquet files under ``staging/<table>/``."""
    return _write(normaliser.tables(batch), staging)


def stage_verdicts(verdicts: ValidatedRows, staging: Path) -> list[StagedFile]:
    """Write the staging tables of GX's verdicts under ``staging/<table>/``."""
    return _write(verdict_tables(verdicts), staging)


def _write(tables: dict[str, pa.Table], staging: Path) -> list[StagedFile]:
    staged = []
    for name, table in tables.items():
        folder = staging / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}.parquet"
        pq.write_table(table, path, **STAGING_PARQUET)
        staged.append(StagedFile(name, str(path), table.num_rows))
    return staged


class NormaliseAndStage(beam.PTransform):
    """``CheckedBatch`` → ``StagedFile``: normalise each batch into its staging tables and
    write them, the tables of many batches in one file each (once ``stage_bytes`` bytes of
    tables wait, and when the bundle ends)."""

    def __init__(
        self,
        staging: Path,
        batch_id: str,
        ingested_at: datetime,
        pii_key: Secret,
        stage_bytes: int = STAGE_BYTES,
    ) -> None:
        super().__init__()
        self.fn = _NormaliseAndStageFn(str(staging), batch_id, ingested_at, pii_key, stage_bytes)

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        return batches | "Normalise and stage Parquet" >> beam.ParDo(self.fn)


class _StageVerdictsFn(beam.DoFn):
    def __init__(self, staging: str) -> None:
        self.staging = staging

    def process(self, verdicts: ValidatedRows) -> Iterator[StagedFile]:
        yield from stage_verdicts(verdicts, Path(self.staging))


class StageVerdicts(beam.PTransform):
    """``ValidatedRows`` → ``StagedFile``: write GX's verdicts as staging tables."""

    def __init__(self, staging: Path) -> None:
        super().__init__()
        self.fn = _StageVerdictsFn(str(staging))

    def expand(self, verdicts: beam.PCollection) -> beam.PCollection:
        return verdicts | "Stage GX verdicts" >> beam.ParDo(self.fn)
