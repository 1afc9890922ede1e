"""A large backlog is ingested in parts: consecutive, covering the plan exactly once; a
pass's workers each read an equal share of every partition."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.records import PartitionRange
from pipelines.ingest import IngestSummary, split_plan
from pipelines.ingest_pipeline import shares_to_read

ranges = st.lists(
    st.builds(
        lambda p, start, size: PartitionRange("t", p, start, start + size),
        st.integers(0, 5),
        st.integers(0, 10**6),
        st.integers(0, 10**5),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda r: r.partition,
)


@settings(deadline=None)
@given(plan=ranges, most=st.integers(1_000, 200_000))
def test_parts_cover_the_plan_in_order_and_each_is_bounded(plan, most) -> None:  # type: ignore[no-untyped-def]
    parts = split_plan(plan, most)
    total = sum(r.size for r in plan)
    assert len(parts) == max(1, -(-total // most))
    for r in plan:
        pieces = [p for part in parts for p in part if p.partition == r.partition]
        assert pieces[0].start == r.start and pieces[-1].end == r.end
        assert all(a.end == b.start for a, b in itertools.pairwise(pieces))
    # equal slices of every partition: a part holds at most ``most`` plus one per partition
    assert all(sum(p.size for p in part) <= most + len(plan) for part in parts)


def test_a_small_plan_is_one_part() -> None:
    plan = [PartitionRange("t", 0, 0, 10)]
    assert split_plan(plan, 10) == [plan]


def test_the_summary_of_parts_adds_them_up() -> None:
    a = IngestSummary("b-1", consumed=5, landed=3, duplicates=1, quarantined=1, by_reason={"x": 1})
    b = IngestSummary("b-2", consumed=4, landed=4, by_reason={"x": 2, "y": 0})
    merged = IngestSummary.merged("b", [a, b])
    assert (merged.consumed, merged.landed, merged.duplicates, merged.quarantined) == (9, 7, 1, 1)
    assert merged.by_reason == {"x": 3, "y": 0} and merged.commits == 2


@settings(deadline=None)
@given(plan=ranges, chunk=st.integers(1, 50_000), workers=st.integers(1, 4))
def test_shares_cover_each_offset_once_and_each_worker_reads_as_much(  # type: ignore[no-untyped-def]
    plan, chunk, workers
) -> None:
    shares = shares_to_read(plan, chunk, workers)
    assert {k for k, _ in shares} <= set(range(workers))
    assert all(0 < c.size <= chunk for _, c in shares)
    for r in plan:
        pieces = sorted((c for _, c in shares if c.partition == r.partition), key=lambda c: c.start)
        assert sum(c.size for c in pieces) == r.size
        if pieces:
            assert pieces[0].start == r.start and pieces[-1].end == r.end
            assert all(a.end == b.start for a, b in itertools.pairwise(pieces))
        # every worker gets as many of this partition's offsets as any other, give or take one
        per_worker = [
            sum(c.size for k, c in shares if k == w and c.partition == r.partition)
            for w in range(workers)
        ]
        assert max(per_worker) - min(per_worker) <= 1
