"""The last step of a pass: every staged file of the run → one warehouse commit."""

from __future__ import annotations

import apache_beam as beam


class CommitStaged(beam.PTransform):
    """``StagedFile``s → one call of ``fn.process(None, staged)`` with all of them, once the
    staging is complete (a single output element: the commit's summary).

    The files reach the commit as a side input rather than through a global combine: the
    same one call, but a combine adds a dozen transforms to the graph, and a short
    ``follow`` pass pays for inspecting and translating each of them again."""

    def __init__(self, fn: beam.DoFn) -> None:
        super().__init__()
        self.fn = fn

    def expand(self, staged: beam.PCollection) -> beam.PCollection:
        return (
            staged.pipeline
            | "Once" >> beam.Create([None], reshuffle=False)
            | "Commit" >> beam.ParDo(self.fn, beam.pvalue.AsList(staged))
        )
