"""Partition assignment through a Kafka consumer group, as Kafka Connect's sink tasks have it.

Several ``finradar follow`` processes, on one host or many, join one group; Kafka's group
protocol gives each a share of the topics' partitions and moves them when a member joins,
leaves or dies (its session times out). The group is used for assignment *only*: no record
is fetched through it (every assigned partition is paused at once) and no offset is
committed to Kafka. What was landed, and so where a partition's next pass starts, is the
warehouse's to say (offsets are committed in the catalog with the data).

The group's protocol runs in a thread of the member's own (kafka-python's ``poll``), so a
member answers a rebalance at once, even in the middle of a pass. A pass whose partitions
were revoked meanwhile still commits if no other member committed them first; if one did,
its commit finds their offsets moved and is not made (``warehouse.landing``): the catalog
decides, and nothing is landed twice or lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from kafka.errors import KafkaError

from finradar.settings import KafkaSettings
from infra.kafka_clients import client_config
from infra.kafka_diagnosis import connection_error

log = logging.getLogger(__name__)
POLL_MS = 500

Partition = tuple[str, int]


class _Listener(ConsumerRebalanceListener):
    def __init__(self, group: PartitionGroup) -> None:
        self.group = group

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        gone = sorted((tp.topic, tp.partition) for tp in revoked)
        self.group.held = None  # until the group assigns again, this member holds nothing
        if gone:
            self.group.say(f"partitions revoked: {_names(gone)}")

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.group.consumer.pause(*assigned)  # assignment only: never fetched through the group
        now = sorted((tp.topic, tp.partition) for tp in assigned)
        self.group.held = frozenset(now)
        self.group._assigned.set()
        self.group.say(f"partitions assigned: {_names(now)}")


class PartitionGroup:
    """This process's membership of the consumer group ``group_id`` over ``topics``."""

    def __init__(
        self,
        kafka: KafkaSettings,
        group_id: str,
        topics: Iterable[str],
        session_timeout_ms: int = 10_000,
        max_poll_interval_ms: int = 300_000,
        say: Callable[[str], None] = log.info,
    ) -> None:
        self.say = say  # where a change of the member's partitions is told
        # what the group last assigned; None while a rebalance is under way (kafka-python
        # still lists the revoked partitions then)
        self.held: frozenset[Partition] | None = None
        try:
            self.consumer = KafkaConsumer(
                **client_config(kafka),
                group_id=group_id,
                client_id="finradar-follow",
                enable_auto_commit=False,
                session_timeout_ms=session_timeout_ms,
                heartbeat_interval_ms=max(500, session_timeout_ms // 5),
                max_poll_interval_ms=max_poll_interval_ms,
                # a member joining or leaving moves as few partitions as it can
                partition_assignment_strategy=(StickyPartitionAssignor,),
            )
            self.consumer.subscribe(topics=sorted(topics), listener=_Listener(self))
        except KafkaError as exc:
            raise connection_error(kafka, exc) from None

        self._assigned = threading.Event()
        self._leaving = threading.Event()
        # the group's protocol runs in a thread of its own, the only one that touches the
        # consumer: a member answers a rebalance within a poll, whatever its pass is doing
        self._thread = threading.Thread(target=self._take_part, name="finradar-group", daemon=True)
        self._thread.start()

    def _take_part(self) -> None:
        while not self._leaving.is_set():
            try:
                self.consumer.poll(timeout_ms=POLL_MS)
            except KafkaError as exc:  # the broker away: the session ends, partitions move
                log.warning("consumer group: %s", exc)
                self._leaving.wait(POLL_MS / 1000)
        self.consumer.close(autocommit=False)

    def join(self, timeout_s: float) -> frozenset[Partition]:
        """Wait until the group has given this member its share (some, or none when the
        group has more members than partitions), for at most ``timeout_s``; that share."""
        self._assigned.wait(timeout_s)
        return self.assigned()

    def assigned(self) -> frozenset[Partition]:
        """The partitions this member holds now (none while a rebalance is under way)."""
        return self.held or frozenset()

    def close(self) -> None:
        """Leave the group at once (its partitions move to the other members now, not after
        a session timeout)."""
        self._leaving.set()
        self._thread.join()


def _names(partitions: list[Partition]) -> str:
    return ", ".join(f"{topic}[{partition}]" for topic, partition in partitions) or "none"
