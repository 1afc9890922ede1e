"""`finradar produce` and `finradar validate` against the real broker and the real suites."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from contracts.corpus import seed_corpus
from contracts.corpus.printed import corpus_json
from contracts.spec import contracts
from tests.fixtures.contract import invalid_fixtures, spec_example

pytestmark = pytest.mark.integration


def finradar(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "finradar", *args], capture_output=True, text=True, timeout=timeout
    )


def _partitions(consumer: KafkaConsumer) -> list[TopicPartition]:
    return [
        TopicPartition(c.topic, p)
        for c in contracts().values()
        for p in sorted(consumer.partitions_for_topic(c.topic) or [])
    ]


def _consumer(bootstrap: str) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )


def end_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = _consumer(bootstrap)
    try:
        return consumer.end_offsets(_partitions(consumer))
    finally:
        consumer.close()


def read_since(bootstrap: str, start: dict[TopicPartition, int]):
    """Every message after ``start`` up to the current end, as a plain consumer sees it."""
    consumer = _consumer(bootstrap)
    try:
        end = consumer.end_offsets(list(start))
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        out = []
        while any(consumer.position(tp) < end[tp] for tp in start):
            for records in consumer.poll(timeout_ms=2000).values():
                out.extend(records)
        return out
    finally:
        consumer.close()


def test_produce_corpus_then_plain_read_returns_exactly_the_corpus(kafka_bootstrap):
    finradar("infra", "up")
    start = end_offsets(kafka_bootstrap)
    result = finradar("produce", "--corpus", "seeds")
    assert result.returncode == 0, result.stderr
    corpus = seed_corpus()
    assert f"produced {len(corpus)} messages" in result.stdout
    records = read_since(kafka_bootstrap, start)
    topics = {c.event_type: c.topic for c in contracts().values()}
    got = Counter((r.topic, r.key.decode(), r.value.decode()) for r in records)
    want = Counter(
        (
            topics[e["event_type"]],
            e["subject"]["entity_id"],
            corpus_json(e).decode(),
        )
        for e in corpus
    )
    assert got == want
    # one entity's events keep their order within its partition
    by_key: dict[str, list[str]] = {}
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        by_key.setdefault(r.topic + r.key.decode(), []).append(json.loads(r.value)["event_id"])
    for e_ids in by_key.values():
        order = [e["event_id"] for e in corpus if e["event_id"] in set(e_ids)]
        assert e_ids == order


def test_produce_synthetic_routes_by_event_type(kafka_bootstrap):
    start = end_offsets(kafka_bootstrap)
    result = finradar("produce", "--synthetic", "3000", "--bad-rate", "0.05", "--seed", "9")
    assert result.returncode == 0, result.stderr
    assert "produced 3000 messages" in result.stdout and "events/s" in result.stdout
    records = read_since(kafka_bootstrap, start)
    assert len(records) == 3000
    from contracts.synthetic import SyntheticStream

    want = Counter((m.topic, m.key, m.value) for m in SyntheticStream(3000, 0.05, 9))
    assert Counter((r.topic, r.key, r.value) for r in records) == want


def test_produce_file_sends_non_json_lines_to_the_given_topic(kafka_bootstrap, tmp_path: Path):
    good = json.dumps(spec_example(), ensure_ascii=False).encode()
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(good + b"\n{not json\n\n" + b"\xff\xfe broken\n")
    start = end_offsets(kafka_bootstrap)
    assert finradar("produce", "--file", str(path)).returncode == 1  # bad lines need --topic
    result = finradar("produce", "--file", str(path), "--topic", "fi.spend.disclosures.v1")
    assert result.returncode == 0, result.stderr
    records = read_since(kafka_bootstrap, start)
    assert [(r.topic, r.key, r.value) for r in records if r.key] == [
        ("fi.spend.disclosures.v1", b"cn.bank.icbc", good)
    ]
    assert sorted(r.value for r in records if r.key is None) == [b"{not json", b"\xff\xfe broken"]


def test_validate_reports_every_line(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    example = json.dumps(spec_example(), ensure_ascii=False).encode()
    conflicting = example.replace(b"163.74", b"163.75")
    fixtures = [
        f
        for f in invalid_fixtures()
        if f[2] == "fi.spend.disclosures.v1"
        and f[1] != "event_type_topic_mismatch"
        and f[0] != "invalid_utf8"
    ]
    lines = [example, example, conflicting] + [f[3] for f in fixtures]
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = finradar("validate", str(path))
    assert result.returncode == 1, result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["line"] for v in verdicts] == list(range(1, len(lines) + 1))
    assert verdicts[0] == {
        "line": 1,
        "event_id": "seed-003-chart16-icbc-2019",
        "valid": True,
        "reasons": [],
    }
    assert verdicts[1]["valid"]  # a byte-identical repeat is a duplicate, not a violation
    assert [r["code"] for r in verdicts[2]["reasons"]] == ["event_id_conflict"]
    for verdict, (name, code, *_rest) in zip(verdicts[3:], fixtures, strict=True):
        assert not verdict["valid"], name
        assert code in [r["code"] for r in verdict["reasons"]], (name, verdict)


def test_validate_corpus_is_all_valid(tmp_path: Path):
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in seed_corpus()), encoding="utf-8"
    )
    result = finradar("validate", str(path))
    assert result.returncode == 0, result.stdout[-2000:]
    assert len(result.stdout.splitlines()) == len(seed_corpus())


def test_bad_arguments_get_one_line_and_exit_2():
    for args in (
        ["produce"],
        ["produce", "--synthetic", "0"],
        ["produce", "--synthetic", "x"],
        ["produce", "--corpus", "seeds", "--bad-rate", "2"],
        ["validate"],
    ):
        result = finradar(*args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    missing = finradar("validate", "/no/such/file.jsonl")
    assert missing.returncode == 1 and missing.stderr.strip() == (
        "finradar: no such file: /no/such/file.jsonl"
    )
