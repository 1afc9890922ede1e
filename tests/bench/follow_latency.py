"""Measure how long an event takes from Kafka to ``raw.*`` while something ingests.

* ``paced_produce``: a steady stream of good synthetic events at ``rate`` events/s, sent in
  small ticks (not a burst), for ``seconds`` or until told to stop.
* ``CommitProbe``: a reader in its own thread that looks every ``interval`` seconds whether
  the warehouse's catalog files changed and then reads the committed offsets
  (``ops.kafka_offsets``, part of the same commit as the rows), noting when each offset
  first became visible to a reader.
* ``latencies``: for every row landed in ``raw.*``, visible-at minus the record's Kafka
  timestamp (the producer's send time; same machine clock). The probe's interval is the
  resolution: a latency is overstated by at most one interval, never understated.
"""

from __future__ import annotations

import statistics
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass, field

from contracts.spec import contracts
from contracts.synthetic import SyntheticStream
from finradar.settings import Settings


def paced_produce(
    bootstrap: str, rate: int, seconds: float, seed: int, until: threading.Event | None = None
) -> int:
    """Send ``rate × seconds`` good events evenly over ``seconds``, or fewer if ``until`` is
    set first; returns the number sent."""
    from kafka import KafkaProducer

    tick = 0.05
    per_tick = max(1, round(rate * tick))
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    stream = iter(SyntheticStream(int(rate * seconds), bad_rate=0.0, seed=seed))
    sent = 0
    started = time.monotonic()
    try:
        while until is None or not until.is_set():
            for _ in range(per_tick):
                message = next(stream, None)
                if message is None:
                    return sent
                producer.send(message.topic, key=message.key, value=message.value)
                sent += 1
            producer.flush()
            delay = started + sent / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return sent
    finally:
        producer.flush()
        producer.close()


@dataclass
class CommitProbe:
    settings: Settings
    interval: float = 0.1
    seen: dict[tuple[str, int], list[tuple[int, float]]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> CommitProbe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _loop(self) -> None:
        # Reading the offsets through DuckLake ten times a second costs a quarter of a core,
        # taken from what is measured; a commit always writes the catalog's files, so the
        # offsets are read only when their modification times or sizes changed. (Not a
        # sqlite3 connection: two SQLite libraries in one process drop each other's locks.)
        from warehouse.lake import connect

        con = None
        last_change = None
        while not self.stop.wait(self.interval):
            change = self._catalog_change()
            if change == last_change:
                continue
            try:
                con = con or connect(self.settings, read_only=True)
                rows = con.execute(
                    "select kafka_topic, kafka_partition, next_offset from ops.kafka_offsets"
                ).fetchall()
            except Exception:  # the warehouse is not created yet
                con = None
                continue
            last_change = change
            now = time.time()  # after the read: a latency is never understated
            for topic, partition, next_offset in rows:
                history = self.seen.setdefault((topic, partition), [])
                if not history or history[-1][0] != next_offset:
                    history.append((next_offset, now))
        if con is not None:
            con.close()

    def _catalog_change(self) -> tuple[tuple[int, int], ...]:
        catalog = self.settings.catalog_path
        stats = []
        for path in (catalog, catalog.with_name(catalog.name + "-wal")):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            stats.append((st.st_mtime_ns, st.st_size))
        return tuple(stats)

    def visible_at(self, topic: str, partition: int, offset: int) -> float | None:
        """When a reader first saw ``offset`` committed (its partition's next offset past it)."""
        history = self.seen.get((topic, partition), [])
        offsets = [o for o, _ in history]
        i = bisect_right(offsets, offset)
        return history[i][1] if i < len(history) else None


@dataclass
class Latencies:
    values: list[float]
    missing: int

    def quantile(self, q: float) -> float:
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        return (
            f"{len(self.values):,} events: p50 {self.quantile(0.5):.2f} s, "
            f"p95 {self.quantile(0.95):.2f} s, max {max(self.values):.2f} s, "
            f"mean {statistics.fmean(self.values):.2f} s; not seen {self.missing}"
        )


def latencies(settings: Settings, probe: CommitProbe, since_ms: int) -> Latencies:
    """Latency of every row landed in ``raw.*`` from a record sent after ``since_ms``."""
    from warehouse.lake import connect

    union = " union all ".join(
        f"select kafka_topic, kafka_partition, kafka_offset, epoch_ms(kafka_timestamp) as ts "
        f"from raw.{c.table}"
        for c in contracts().values()
    )
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(f"select * from ({union}) where ts >= ?", [since_ms]).fetchall()
    finally:
        con.close()
    values, missing = [], 0
    for topic, partition, offset, ts in rows:
        seen = probe.visible_at(topic, partition, offset)
        if seen is None:
            missing += 1
        else:
            values.append(seen - ts / 1000)
    return Latencies(values, missing)
