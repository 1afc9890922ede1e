"""Messages that once stopped ingestion for good, published between good events on a real
broker: each is quarantined with its reason and its bytes, the good events land, the pass
exits 0, and the next pass has nothing left to do. ``finradar validate`` on a file of them
gives one verdict per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.corpus import seed_corpus
from contracts.spec import contracts
from finradar.settings import Settings, load_settings
from infra.producing import publish
from tests.fixtures.contract import poison_fixtures
from tests.integration.cli_runner import run_finradar
from warehouse.lake import connect

pytestmark = pytest.mark.integration

KAFKA = {"port": 29292, "controller_port": 29293}
SPEND = contracts()["spend_disclosure"].topic
# what no dict can carry: bytes as they arrive
RAW_CLASSES = [
    ("not_utf8", "invalid_utf8", b'{"event_id": "x\xff"}'),
    ("truncated", "invalid_json", b'{"event_id": "seed-003", "event_type": "spend_dis'),
    ("tombstone", "invalid_json", None),
    ("trailing_data", "invalid_json", b'{"event_id": "a"} {"event_id": "b"}'),
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    from infra.broker import LocalBroker

    settings = load_settings(var_dir=tmp_path_factory.mktemp("poison") / "var", kafka=KAFKA)
    broker = LocalBroker(settings)
    broker.up()
    yield settings
    broker.down(purge=True)


def _good() -> list[bytes]:
    events = [e for e in seed_corpus() if e["event_type"] == "spend_disclosure"]
    return [json.dumps(e, ensure_ascii=False).encode() for e in events[: len(_poison()) + 1]]


def _poison() -> list[tuple[str, str, bytes | None]]:
    return [(name, code, value) for name, code, _, value in poison_fixtures()] + RAW_CLASSES


def test_each_poison_message_is_quarantined_and_the_rest_lands(settings: Settings):
    good, poison = _good(), _poison()
    # one key: one partition, so every poison message sits between two good events
    interleaved: list[tuple[str, bytes | None, bytes | None]] = [(SPEND, b"k", good[0])]
    for (_, _, value), after in zip(poison, good[1:], strict=True):
        interleaved += [(SPEND, b"k", value), (SPEND, b"k", after)]
    publish(interleaved, settings.kafka)  # type: ignore[arg-type]

    first = run_finradar(settings, "ingest", "--once", "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Traceback" not in first.stderr
    summary = json.loads(first.stdout)
    assert (summary["consumed"], summary["landed"]) == (len(interleaved), len(good))
    assert summary["quarantined"] == len(poison)

    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            "select kafka_offset, reason_code, raw_value from quarantine.events order by 1"
        ).fetchall()
        landed = con.execute("select count(*) from raw.spend_disclosures").fetchone()[0]
    finally:
        con.close()
    assert landed == len(good)
    got = [(code, raw) for _, code, raw in rows]
    assert got == [(code, value or b"") for _, code, value in poison], [
        (name, code) for (name, _, _), (code, _) in zip(poison, got, strict=False)
    ]

    second = run_finradar(settings, "ingest", "--once", "--json")
    assert second.returncode == 0, second.stderr[-3000:]
    assert (json.loads(second.stdout)["consumed"], json.loads(second.stdout)["landed"]) == (0, 0)


def test_validate_gives_one_verdict_per_line_of_a_poisoned_file(settings: Settings, tmp_path: Path):
    good, poison = _good(), [p for p in _poison() if p[2] is not None and b"\n" not in p[2]]
    lines = [good[0]] + [value for _, _, value in poison if value is not None]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = run_finradar(settings, "validate", str(path), "--topic", SPEND)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["line"] for v in verdicts] == list(range(1, len(lines) + 1))
    assert verdicts[0]["valid"] is True
    assert [v["reasons"][0]["code"] for v in verdicts[1:]] == [code for _, code, _ in poison]
