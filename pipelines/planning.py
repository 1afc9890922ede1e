"""Planning a pass: for every partition of the contract topics, [committed offset, end now).

The committed offsets come from the warehouse (``ops.kafka_offsets``, committed with the
data), the end offsets from Kafka; the consumer lag is the same question asked by a reader.
``follow`` plans every second or two, with this process's long-lived warehouse session and
Kafka client (``shared``), which ``close_shared_clients`` closes at the end of a session.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import duckdb

from contracts.spec import contracts
from finradar.errors import FinradarError, TransientError
from finradar.settings import Settings
from handoff.records import PartitionRange
from infra.kafka_clients import OffsetsClient, close_shared, shared_offsets_client
from warehouse.lake import close_shared_connections, connect, shared_connection, warehouse_exists
from warehouse.landing import committed_offsets
from warehouse.schema import create_all

Partition = tuple[str, int]  # (topic, partition)


class OffsetsBehind(FinradarError):
    """A partition ends before the offset the warehouse committed for it."""


# catalogs whose schema this process's shared session has created (``follow``)
_initialised: dict[str, bool] = {}


def plan_ranges(
    settings: Settings, shared: bool = False, partitions: Collection[Partition] | None = None
) -> list[PartitionRange]:
    """For every partition of the contract topics (of ``partitions`` only, when given):
    [committed offset, end offset now).

    ``shared``: use this process's long-lived warehouse session and Kafka client (the
    continuous mode plans a pass every second or two)."""
    committed = _shared_committed(settings) if shared else committed_offsets_now(settings)
    kafka = settings.kafka
    client = shared_offsets_client(kafka) if shared else OffsetsClient(kafka)
    try:
        every = client.partitions(c.topic for c in contracts().values())
        wanted = (
            every
            if partitions is None
            else [tp for tp in every if (tp.topic, tp.partition) in partitions]
        )
        ends = client.end_offsets(wanted)
        starts = client.beginning_offsets(wanted)
    except TransientError:
        if shared:  # the next pass connects again
            client.close()
        raise
    finally:
        if not shared:
            client.close()
    refuse_offsets_behind(
        wanted,
        ends,
        committed,
        "the topics were recreated or purged, or this is another broker. Nothing was read. "
        "Once you have confirmed the topics were recreated: finradar backfill --earliest "
        "--reset",
    )
    plan = []
    for tp in wanted:
        start = committed.get((tp.topic, tp.partition), 0)
        if start < starts[tp]:
            raise FinradarError(
                f"{tp.topic}[{tp.partition}]: offsets {start}-{starts[tp]} were deleted by the "
                "broker before they were ingested; backfill from the current start explicitly"
            )
        if ends[tp] > start:
            plan.append(PartitionRange(tp.topic, tp.partition, start, ends[tp]))
    return plan


def refuse_offsets_behind(
    partitions: list[Any], ends: dict[Any, int], committed: dict[tuple[str, int], int], why: str
) -> None:
    """Raise ``OffsetsBehind`` naming every partition that ends before its committed offset
    (a recreated or purged topic), followed by ``why``."""
    behind = [
        f"{tp.topic}[{tp.partition}] ends at {ends[tp]}, committed {committed[key]}"
        for tp in partitions
        if ends[tp] < committed.get(key := (tp.topic, tp.partition), 0)
    ]
    if behind:
        raise OffsetsBehind(
            f"the broker's offsets are behind the warehouse's ({'; '.join(behind)}): {why}"
        )


def consumer_lag(settings: Settings) -> list[PartitionRange]:
    """Messages on the topics beyond the warehouse's committed offsets, per partition."""
    return plan_ranges(settings)


def consumer_lag_if_reachable(settings: Settings) -> list[PartitionRange] | None:
    """``consumer_lag``, or None when Kafka (or the plan) cannot be had: the report then
    shows Kafka as unreachable."""
    try:
        return consumer_lag(settings)
    except FinradarError:
        return None


def _shared_committed(settings: Settings) -> dict[tuple[str, int], int]:
    con = shared_connection(settings)
    if not _initialised.get(settings.warehouse_name):
        create_all(con)
        _initialised[settings.warehouse_name] = True
    return committed_offsets(con)


def committed_offsets_now(settings: Settings) -> dict[tuple[str, int], int]:
    """The committed offsets, read in a read-only session once the warehouse exists: a lag
    check must not write (it runs beside the writer, outside the writer slot)."""
    if warehouse_exists(settings):
        con = connect(settings, read_only=True)
        try:
            return committed_offsets(con)
        except duckdb.CatalogException:  # a catalog without its tables yet: none committed
            return {}
        finally:
            con.close()
    con = connect(settings)
    try:
        create_all(con)
        return committed_offsets(con)
    finally:
        con.close()


def close_shared_clients() -> None:
    """Close what ``follow`` kept open: Kafka clients and warehouse sessions."""
    close_shared()
    close_shared_connections()
    _initialised.clear()
