"""The seed reference corpus: the seed reports' published figures as contract events."""

from __future__ import annotations

from typing import Any

from contracts.corpus.seed_events import spend_and_deployment_events
from contracts.corpus.seed_surveys import survey_events


def seed_corpus() -> list[dict[str, Any]]:
    """Every seed event: spend and deployment figures of the five reports, then the surveys."""
    return spend_and_deployment_events() + survey_events()
