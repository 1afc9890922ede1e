"""Events waiting for their GX validation: the suites' frames of several batches, validated
together.

A GX validation costs about 0.15–0.2 s whatever its size (GX plans the metrics of every
expectation again each time), more than validating the rows of a whole 3 MiB batch. So a
worker holds the frames of the batches it reads (not their events), in the compact form of
``pipelines.gx_frames``, and validates them once ``ingest.gx_rows`` frame rows wait, or
once they hold ``ingest.gx_bytes`` bytes (a frame holds its events' text: long texts make
few rows large), and at the end of its bundle: each validation covers many batches, and
what waits stays bounded (``python -m tests.bench.profile_ingest_steps 100000`` prints both
costs, and the bytes a waiting frame row takes: 131 on 2026-12-02).
"""

from __future__ import annotations

import pandas as pd

from contracts.export.gx_suites import ROW_ID
from handoff.records import Coordinates
from pipelines.gx_frames import concat_held


class PendingValidations:
    """The frames waiting per event type, with the coordinates of their events (an event's
    ``ROW_ID`` in every frame is its position in ``coordinates(event_type)``)."""

    def __init__(self) -> None:
        self._frames: dict[str, dict[str, list[pd.DataFrame]]] = {}
        self._coordinates: dict[str, list[Coordinates]] = {}
        self._message_bytes: dict[str, int] = {}
        self.rows = 0  # frame rows waiting, of every type
        self.message_bytes = 0  # bytes of the messages whose frames wait, of every type
        self._measured_at = 0  # ``message_bytes`` when the frames' bytes were last measured

    def add(
        self,
        event_type: str,
        frames: dict[str, pd.DataFrame],
        coordinates: list[Coordinates],
        message_bytes: int = 0,
    ) -> None:
        """A batch's frames of one type (``ROW_ID``: the event's position in
        ``coordinates``), renumbered after those already waiting; taken over, not copied.
        ``message_bytes``: the bytes of the messages of those events."""
        self._message_bytes[event_type] = self._message_bytes.get(event_type, 0) + message_bytes
        self.message_bytes += message_bytes
        waiting = self._coordinates.setdefault(event_type, [])
        parts = self._frames.setdefault(event_type, {})
        for name, frame in frames.items():
            if waiting:
                frame[ROW_ID] += len(waiting)
            parts.setdefault(name, []).append(frame)
            self.rows += len(frame)
        waiting.extend(coordinates)

    def holds(self, limit: int) -> bool:
        """Whether the waiting frames hold ``limit`` bytes or more. Measured (pandas' deep
        memory usage: 0.38 µs a row, ``python -m tests.bench.profile_ingest_steps 40000``
        on 2026-12-05) only once the messages behind them have grown by
        ``limit`` bytes since the last measure: a frame holds at most its events' text
        besides a few fixed-size columns (bounded by ``gx_rows``), and text comes in
        messages; a message's bytes in fields no suite reads stay out of the frames."""
        if self.message_bytes - self._measured_at < limit:
            return False
        self._measured_at = self.message_bytes
        return self.frame_bytes() >= limit

    def frame_bytes(self) -> int:
        """The bytes the waiting frames hold."""
        return sum(
            int(frame.memory_usage(deep=True).sum())
            for parts in self._frames.values()
            for frames in parts.values()
            for frame in frames
        )

    def event_types(self) -> list[str]:
        return sorted(self._coordinates)

    def take(self, event_type: str) -> tuple[dict[str, pd.DataFrame], list[Coordinates]]:
        """The type's waiting frames, one per suite, and its events' coordinates; no longer
        waiting."""
        parts = self._frames.pop(event_type)
        coordinates = self._coordinates.pop(event_type)
        self.message_bytes -= self._message_bytes.pop(event_type)
        self._measured_at = min(self._measured_at, self.message_bytes)
        frames = {name: concat_held(frames) for name, frames in parts.items()}
        self.rows -= sum(len(f) for f in frames.values())
        return frames, coordinates


def rows_between(frames: dict[str, pd.DataFrame], start: int, stop: int) -> dict[str, pd.DataFrame]:
    """The frames' rows of the events ``start`` to ``stop`` (by ``ROW_ID``), numbered from
    0 again: a part of a validation to run on its own."""
    part = {}
    for name, frame in frames.items():
        rows = frame[(frame[ROW_ID] >= start) & (frame[ROW_ID] < stop)].copy()
        rows[ROW_ID] -= start
        part[name] = rows.reset_index(drop=True)
    return part
