"""Beam settings for follow's short passes."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
import pytest
from apache_beam.runners.worker import statesampler
from apache_beam.utils.counters import CounterFactory

from pipelines.beam_tuning import FOLLOW_SAMPLING_PERIOD_MS, shorten_state_sampling


@pytest.fixture
def as_beam_ships_it() -> Iterator[None]:
    init = statesampler.StateSampler.__init__
    saved = init.__defaults__
    init.__defaults__ = (statesampler.DEFAULT_SAMPLING_PERIOD_MS,)
    yield
    init.__defaults__ = saved


def test_samplers_built_after_shortening_use_the_short_period(as_beam_ships_it):
    """A second call keeps the short period (``follow`` may start twice in a process)."""
    assert statesampler.StateSampler("a", CounterFactory()).sampling_period_ms == 200
    assert shorten_state_sampling() and shorten_state_sampling()
    sampler = statesampler.StateSampler("b", CounterFactory())
    assert sampler.sampling_period_ms == FOLLOW_SAMPLING_PERIOD_MS


_periods: list[int] = []  # module level: the in-process runner's steps append to this list


def _note_period(_: object) -> None:
    _periods.append(statesampler.get_current_tracker().sampling_period_ms)


def test_the_runners_bundles_sample_at_the_short_period(as_beam_ships_it):
    """The period reaches the sampler of a bundle the in-process runner executes."""

    def run() -> list[int]:
        _periods.clear()
        with beam.Pipeline(runner="FnApiRunner") as p:
            _ = p | beam.Create([0]) | beam.Map(_note_period)
        return list(_periods)

    assert run() == [statesampler.DEFAULT_SAMPLING_PERIOD_MS]
    shorten_state_sampling()
    assert run() == [FOLLOW_SAMPLING_PERIOD_MS]
