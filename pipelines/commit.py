"""The last step of a pass: every staged file of the run → one warehouse commit."""

from __future__ import annotations

import apache_beam as beam


class CommitStaged(beam.PTransform):
    """``StagedFile``s → one call of ``fn.process(element, staged)`` with all of them, once
    the staging is complete (a single output element: the commit's summary).

    ``element`` is the one element of ``trigger`` (the pass's plan), or ``b""`` without one.
    The files reach the commit as a side input rather than through a global combine: the
    same one call, but a combine adds a dozen transforms to the graph, and a short
    ``follow`` pass pays for inspecting and translating each of them again."""

    def __init__(self, fn: beam.DoFn, trigger: beam.PCollection | None = None) -> None:
        super().__init__()
        self.fn = fn
        self.trigger = trigger

    def expand(self, staged: beam.PCollection) -> beam.PCollection:
        trigger = self.trigger
        if trigger is None:
            trigger = staged.pipeline | "Once" >> beam.Impulse()
        return trigger | "Commit" >> beam.ParDo(self.fn, beam.pvalue.AsList(staged))
