"""What other Kafka clients may send, on a broker of its own: batches compressed with each
codec Kafka defines, and a transactional producer's committed, aborted and open
transactions. The contract says nothing of either; a Java or librdkafka producer may
use both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.spec import contracts
from contracts.synthetic import Message, SyntheticStream
from finradar.settings import Settings, load_settings
from infra.kafka_clients import producer
from pipelines.ingest import run_once
from warehouse.lake import connect

pytestmark = pytest.mark.integration

KAFKA = {"port": 30292, "controller_port": 30293}
CODECS = ("gzip", "snappy", "lz4", "zstd")
SPEND_TOPIC = contracts()["spend_disclosure"].topic


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    from infra.broker import LocalBroker

    settings = load_settings(var_dir=tmp_path_factory.mktemp("producers") / "var", kafka=KAFKA)
    broker = LocalBroker(settings)
    broker.up()
    yield settings
    broker.down(purge=True)


def _warehouse(tmp_path: Path) -> Settings:
    """A warehouse of the test's own, fed by the module's broker."""
    return load_settings(var_dir=tmp_path / "var", kafka=KAFKA)


def _spend(n: int, seed: int) -> list[Message]:
    """``n`` valid spend disclosures of their own (``seed``)."""
    stream = SyntheticStream(20 * n, 0.0, seed)
    return [m for m in stream if m.topic == SPEND_TOPIC][:n]


def _landed_ids(settings: Settings) -> set[str]:
    con = connect(settings, read_only=True)
    try:
        rows = con.execute("select event_id from raw.spend_disclosures").fetchall()
        return {r[0] for r in rows}
    finally:
        con.close()


def _next_offset(settings: Settings, topic: str, partition: int) -> int:
    con = connect(settings, read_only=True)
    try:
        row = con.execute(
            "select next_offset from ops.kafka_offsets"
            " where kafka_topic = ? and kafka_partition = ?",
            [topic, partition],
        ).fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def test_batches_compressed_with_every_kafka_codec_land(broker: Settings, tmp_path: Path):
    sent: dict[str, list[Message]] = {}
    for seed, codec in enumerate(CODECS, start=1):
        sent[codec] = _spend(300, 100 + seed)
        client = producer(
            broker.kafka, f"codec-{codec}", compression_type=codec, linger_ms=50, batch_size=1 << 20
        )
        try:
            for m in sent[codec]:
                client.send(m.topic, m.value, key=m.key)
            client.flush()
        finally:
            client.close()
    settings = _warehouse(tmp_path)
    summary = run_once(settings)  # a warehouse of its own: all the broker holds, whatever ran
    assert summary.consumed >= sum(len(ms) for ms in sent.values())
    assert (summary.landed, summary.quarantined) == (summary.consumed, 0)
    landed = _landed_ids(settings)
    for codec, messages in sent.items():
        assert {m.event_id for m in messages} <= landed, codec


def test_only_committed_transactions_land_and_an_open_one_waits_for_its_end(
    broker: Settings, tmp_path: Path
):
    committed, aborted, still_open = _spend(40, 7), _spend(40, 8), _spend(40, 9)
    client = producer(broker.kafka, "transactional", transactional_id="finradar-test-txn")
    settings = _warehouse(tmp_path)
    try:
        client.init_transactions()
        for messages, end in (
            (committed, client.commit_transaction),
            (aborted, client.abort_transaction),
        ):
            client.begin_transaction()
            for m in messages:
                client.send(m.topic, m.value, key=m.key, partition=0)
            client.flush()
            end()
        client.begin_transaction()
        sent = [client.send(m.topic, m.value, key=m.key, partition=0) for m in still_open]
        client.flush()
        open_at = sent[0].get(timeout=30).offset  # the open transaction's first record

        run_once(settings)  # everything before the open transaction: never an aborted record
        landed = _landed_ids(settings)
        assert {m.event_id for m in committed} <= landed
        assert not landed & {m.event_id for m in aborted + still_open}
        assert _next_offset(settings, SPEND_TOPIC, 0) == open_at

        client.commit_transaction()
    finally:
        client.close()
    run_once(settings)  # the transaction has ended: its records are read now
    landed = _landed_ids(settings)
    assert {m.event_id for m in still_open} <= landed
    assert not landed & {m.event_id for m in aborted}
