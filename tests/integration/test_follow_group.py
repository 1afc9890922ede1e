"""Ingest workers sharded by partition: ``finradar follow --group`` processes on a shared
warehouse (Postgres catalog, S3 data: the project's stand-ins), as Kafka Connect's sink
tasks share a topic.

Three workers share the topics' partitions through one consumer group while the seed corpus
and 100,000 synthetic events (every bad class) arrive, with copies of some events sent again
under another key, so that one ``event_id`` reaches two partitions held by two workers (half
byte-identical, half with other content). One worker is killed (SIGKILL) in the middle of a
pass: its partitions move to the others. A fourth joins mid-stream: the group rebalances.
Throughout, a reader in a process of its own sees only whole commits. At the end every
message is accounted for exactly once, no ``event_id`` is landed twice, and each message's
verdict is the one a single ``ingest --once`` into a local warehouse gives it; for an id
that reached two partitions, which copy lands follows commit order, and the verdicts of its
copies (one lands, a repeat is a duplicate, other content a conflict) are the same.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.partitioner.default import murmur2
from prefect.settings import PREFECT_API_URL

from contracts.spec import contracts
from contracts.synthetic import SyntheticStream
from finradar.errors import FinradarError
from finradar.settings import Settings, load_settings
from infra.object_store import LocalObjectStore
from infra.postgres import LocalPostgres, find_postgres_binaries
from infra.prefect_server import free_port
from infra.producing import corpus_messages, publish
from pipelines.planning import plan_ranges
from tests.integration.cli_runner import finradar_env, run_finradar
from warehouse.lake import connect

pytestmark = pytest.mark.integration

KAFKA = {"port": 29992, "controller_port": 29993}
PARTITIONS = 3
HALF = 50_000  # synthetic events before the kill, and as many after
COPIES = 200  # events sent again to another partition, per half
GROUP = "finradar-test-workers"


def _other_partition_key(key: bytes) -> bytes:
    """A key that kafka-python's partitioner sends to another partition than ``key``."""
    home = (murmur2(key) & 0x7FFFFFFF) % PARTITIONS
    n = 0
    while (murmur2(other := key + b"#%d" % n) & 0x7FFFFFFF) % PARTITIONS == home:
        n += 1
    return other


def _stream(n: int, seed: int) -> tuple[list[tuple[str, bytes, bytes]], set[str]]:
    """``n`` synthetic events (2% bad), then ``COPIES`` of their good events once more on
    another partition (every other copy byte-identical, the rest with other content); and
    the event ids of those copies."""
    stream = list(SyntheticStream(n, 0.02, seed))
    messages = [(m.topic, m.key, m.value) for m in stream]
    good = [m for m in stream if m.bad_class is None]
    copies, ids = [], set()
    for i, m in enumerate(good[:: len(good) // COPIES][:COPIES]):
        value = m.value if i % 2 else m.value.replace(b'"locator":"', b'"locator":"copy ', 1)
        copies.append((m.topic, _other_partition_key(m.key), value))
        assert m.event_id is not None
        ids.add(m.event_id)
    return messages + copies, ids


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, prefect_server: None
) -> Iterator[tuple[Settings, dict[str, str]]]:
    try:
        find_postgres_binaries()
    except FinradarError as exc:
        pytest.skip(f"no Postgres server binaries (make postgres): {exc}")
    from infra.broker import LocalBroker

    var = tmp_path_factory.mktemp("workers") / "var"
    ports = {
        "local_postgres_port": free_port("127.0.0.1"),
        "local_object_store_port": free_port("127.0.0.1"),
    }
    local = load_settings(var_dir=var, kafka=KAFKA, warehouse=ports)
    postgres, store, broker = LocalPostgres(local), LocalObjectStore(local), LocalBroker(local)
    try:
        postgres.up()
        store.up()
        broker.up()
        env = {
            **finradar_env(local),
            **postgres.client_environment(),
            **store.client_environment(),
            # the workers share the session's Prefect server (a group's members on many
            # hosts share one: ``prefect.api_url``)
            "FINRADAR_PREFECT__API_URL": str(PREFECT_API_URL.value()),
            # a killed worker's partitions move after this many seconds of silence
            "FINRADAR_INGEST__FOLLOW_GROUP_SESSION_S": "6",
            # four workers on two cores: one validator process each is enough, and fewer,
            # longer passes cost less (each pass builds and starts a pipeline)
            "FINRADAR_INGEST__FOLLOW_VALIDATORS": "1",
            "FINRADAR_INGEST__FOLLOW_GROUP_PASS_EVENTS": "50000",
        }
        prefix = "FINRADAR_WAREHOUSE__"
        shared = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
        settings = load_settings(var_dir=var, kafka=KAFKA, warehouse={**ports, **shared})
        yield settings, env
    finally:
        broker.down(purge=True)
        store.down(purge=True)
        postgres.down(purge=True)


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "finradar", "follow", "--group", GROUP],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _caught_up(settings: Settings) -> bool:
    try:
        return not plan_ranges(settings)
    except FinradarError:  # the catalog is still being created
        return False


def _verdicts(settings: Settings) -> dict[tuple[str, int, int], tuple[str, str | None]]:
    """Each message's verdict by its Kafka coordinates: landed (with its event_id),
    duplicate (of which event_id) or quarantined (with its reason)."""
    raw = " union all ".join(
        f"select kafka_topic, kafka_partition, kafka_offset, 'landed' as verdict, event_id "
        f"from raw.{c.table}"
        for c in contracts().values()
    )
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            f"""
            {raw}
            union all
            select kafka_topic, kafka_partition, kafka_offset, 'duplicate', event_id
            from ops.duplicate_events
            union all
            select kafka_topic, kafka_partition, kafka_offset, 'quarantined ' || reason_code,
                   event_id
            from quarantine.events
            """
        ).fetchall()
    finally:
        con.close()
    verdicts = {}
    for topic, partition, offset, verdict, event_id in rows:
        assert (topic, partition, offset) not in verdicts, "a message accounted for twice"
        verdicts[(topic, partition, offset)] = (verdict, event_id)
    return verdicts


def test_workers_share_partitions_survive_a_kill_and_a_join_exactly_once(
    stack: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    settings, env = stack
    publish(corpus_messages(), settings.kafka)
    first, copied_ids = _stream(HALF, 11)
    publish(first, settings.kafka)
    logs = tmp_path / "logs"
    logs.mkdir()
    reader = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("lake_reader.py")),
            str(settings.var),
            "--one-session",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    workers = [_worker(env, logs / f"worker-{n}.log") for n in range(3)]
    try:
        # the first worker is killed once it has staged files of a pass it has not committed
        victim = workers[0]
        staging = settings.staging_dir / str(victim.pid)
        deadline = time.monotonic() + 240
        while not any(staging.rglob("*.parquet")):
            assert time.monotonic() < deadline, "the first worker never staged a pass"
            assert victim.poll() is None, (logs / "worker-0.log").read_text()[-3000:]
            time.sleep(0.05)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()

        second, more_ids = _stream(HALF, 12)
        publish(second, settings.kafka)
        copied_ids |= more_ids
        workers.append(_worker(env, logs / "worker-3.log"))  # joins mid-stream

        deadline = time.monotonic() + 600
        while not (_caught_up(settings) and (time.sleep(3) or _caught_up(settings))):
            assert time.monotonic() < deadline, "the workers never caught up"
            for n, w in enumerate(workers[1:], 1):
                assert w.poll() is None, (logs / f"worker-{n}.log").read_text()[-3000:]
            time.sleep(3)  # each look opens a session: half a second of CPU
    finally:
        for w in workers[1:]:
            w.send_signal(signal.SIGTERM)
        ended = [w.wait(timeout=120) for w in workers[1:]]
        reader.terminate()
        reads = [json.loads(line) for line in reader.communicate(timeout=60)[0].splitlines()]
    assert ended == [0, 0, 0], [(logs / f).read_text()[-2000:] for f in sorted(os.listdir(logs))]
    assert any(r.get("rows") for r in reads)
    assert all(r["consistent"] for r in reads), [r for r in reads if not r["consistent"]][:3]

    # the members shared the partitions, and the group moved them twice (kill, join)
    joined = (logs / "worker-3.log").read_text()
    assert "partitions assigned: fi." in joined, joined[-3000:]
    for n in (1, 2):
        assert (logs / f"worker-{n}.log").read_text().count("partitions assigned:") >= 2

    local = load_settings(var_dir=tmp_path / "single" / "var", kafka=KAFKA)
    single = run_finradar(local, "ingest", "--once", timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    shared, alone = _verdicts(settings), _verdicts(local)
    assert shared.keys() == alone.keys()
    for verdicts in (shared, alone):
        landed = Counter(event_id for verdict, event_id in verdicts.values() if verdict == "landed")
        assert landed and max(landed.values()) == 1, "an event_id landed twice"
    # an id that reached two partitions may land from another copy than on one worker
    moved = {event_id for c, (verdict, event_id) in alone.items() if shared[c][0] != verdict}
    assert moved <= copied_ids
    for event_id in moved:
        assert Counter(v for v, e in shared.values() if e == event_id) == Counter(
            v for v, e in alone.values() if e == event_id
        )
    assert {c: v for c, v in shared.items() if v[1] not in moved} == {
        c: v for c, v in alone.items() if v[1] not in moved
    }
