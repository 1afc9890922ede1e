"""An ingest pass without Kafka: the pipeline's own stages, in process, over given messages.

Each stage is the function its Beam step runs (``check_batch``, ``validate_batch``,
``stage_batch`` and ``stage_verdicts``, ``land``), timed; the messages get consecutive
offsets of one partition per topic, so passes follow each other on one warehouse like ingest
passes do. ``outcome`` reads
back what became of every message: landed, a duplicate, or quarantined with its reasons.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from contracts.spec import contracts
from finradar.settings import Settings
from handoff.records import KafkaRecord, PartitionRange
from pipelines.checking import check_batch, validate_batch
from pipelines.gx_runner import shared_runner
from pipelines.normalise import Normaliser, stage_batch, stage_verdicts
from tests.poison.strategies import NOW, Message
from warehouse.lake import connect
from warehouse.landing import LandingSummary, committed_offsets, land
from warehouse.schema import create_all

FUZZ_KEY = b"fuzz-key"  # the key of the personal-data hash in these passes

STAGES = ("decode and check", "GX", "normalise and stage", "land")


@dataclass
class PassResult:
    batch_id: str
    records: list[KafkaRecord]
    summary: LandingSummary
    seconds: dict[str, float] = field(default_factory=dict)


class InProcessIngest:
    """Passes over one warehouse under ``settings.var``; offsets continue from pass to pass."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.con = connect(settings)
        create_all(self.con)

    def close(self) -> None:
        self.con.close()

    def run(self, messages: list[Message]) -> PassResult:
        topics = {c.event_type: c.topic for c in contracts().values()}
        committed = committed_offsets(self.con)  # a failed pass leaves them where they were
        next_offset = Counter({t: committed.get((t, 0), 0) for t in topics.values()})
        records = []
        for m in messages:
            topic = topics[m.event_type]
            records.append(KafkaRecord(topic, 0, next_offset[topic], 0, b"key", m.value))
            next_offset[topic] += 1
        plan = [
            PartitionRange(t, 0, min(r.offset for r in rs), max(r.offset for r in rs) + 1)
            for t in sorted({r.topic for r in records})
            for rs in [[r for r in records if r.topic == t]]
        ]
        batch_id = f"fuzz-{uuid.uuid4().hex[:12]}"
        staging = self.settings.staging_dir / batch_id
        seconds = {}
        started = time.perf_counter()
        batch = check_batch(records, NOW)
        seconds[STAGES[0]] = time.perf_counter() - started
        started = time.perf_counter()
        verdicts = validate_batch(batch, shared_runner(), NOW)
        seconds[STAGES[1]] = time.perf_counter() - started
        started = time.perf_counter()
        staged = stage_batch(Normaliser(batch_id, NOW, FUZZ_KEY), batch, staging)
        staged += stage_verdicts(verdicts, staging)
        seconds[STAGES[2]] = time.perf_counter() - started
        started = time.perf_counter()
        summary = land(self.con, batch_id, plan, staged, NOW, runner="in-process")
        seconds[STAGES[3]] = time.perf_counter() - started
        shutil.rmtree(staging, ignore_errors=True)
        return PassResult(batch_id, records, summary, seconds)

    def outcome(self, result: PassResult) -> dict[tuple[str, int], tuple[str, list[str]]]:
        """Per (topic, offset): ``landed``, ``duplicate`` or ``quarantined`` with its reason
        codes; a message the warehouse shows twice, or in none of them, is an error."""
        rows = self.con.execute(
            """
            select kafka_topic, kafka_offset, 'landed', [] from ops.landed_events
            where batch_id = $b
            union all
            select kafka_topic, kafka_offset, 'duplicate', [] from ops.duplicate_events
            where batch_id = $b
            union all
            select kafka_topic, kafka_offset, 'quarantined', list_transform(reasons, r -> r.code)
            from quarantine.events where batch_id = $b
            """,
            {"b": result.batch_id},
        ).fetchall()
        found: dict[tuple[str, int], tuple[str, list[str]]] = {}
        for topic, offset, verdict, codes in rows:
            assert (topic, offset) not in found, f"{topic}@{offset} accounted for twice"
            found[(topic, offset)] = (verdict, codes)
        return found

    def landed_before(self, result: PassResult, event_id: str) -> bool:
        """Whether an earlier pass landed ``event_id`` (a later copy is then a duplicate or
        a conflict, whatever it says)."""
        row = self.con.execute(
            "select count(*) from ops.landed_events where event_id = ? and batch_id <> ?",
            [event_id, result.batch_id],
        ).fetchone()
        return bool(row and row[0])

    def quarantined_bytes_hold(self, result: PassResult) -> bool:
        """Every quarantined message keeps the SHA-256 of the bytes it arrived with (their
        HMAC under the personal-data key when they held personal data, and only then)."""
        sent = {(r.topic, r.offset): r.value or b"" for r in result.records}
        kept = self.con.execute(
            "select kafka_topic, kafka_offset, raw_sha256, redacted from quarantine.events "
            "where batch_id = ?",
            [result.batch_id],
        ).fetchall()
        normaliser = Normaliser("check", NOW, FUZZ_KEY)
        return all(
            sha
            in (
                normaliser.bytes_hash(sent[(t, o)], False),
                normaliser.bytes_hash(sent[(t, o)], True),
            )
            and (not sha.startswith("hmac-sha256:") or redacted)
            for t, o, sha, redacted in kept
        )
