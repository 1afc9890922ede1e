"""Beam settings for short back-to-back passes (``follow``) that Beam has no option for.

Every bundle ends by joining its state-sampler thread (Beam's per-step msec counters),
which sleeps between samples for a period that ramps from 2 ms up to 200 ms
(``statesampler.DEFAULT_SAMPLING_PERIOD_MS``) within the bundle's first second. A
``follow`` pass runs two bundles of a second or so, so it waited on the order of a tenth
of a second per pass for the sampler to wake up, on every event's latency path.
"""

from __future__ import annotations

from apache_beam.runners.worker import statesampler

FOLLOW_SAMPLING_PERIOD_MS = 20


def shorten_state_sampling(period_ms: int = FOLLOW_SAMPLING_PERIOD_MS) -> bool:
    """Cap the state samplers of bundles started from now on in this process at
    ``period_ms``; returns whether it could (False if Beam's sampler changed shape)."""
    init = statesampler.StateSampler.__init__
    if init.__defaults__ != (statesampler.DEFAULT_SAMPLING_PERIOD_MS,) and (
        init.__defaults__ != (period_ms,)
    ):
        return False
    # the bundle processor builds its sampler with the default period: no option reaches it
    init.__defaults__ = (period_ms,)
    return True
