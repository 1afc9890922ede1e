"""No message can stop ingestion: generated messages, valid and broken in every way the
strategies know (``tests/poison/strategies.py``), go through the pipeline's own stages onto
a real DuckLake; each ends landed, a duplicate, or quarantined with a reason and its bytes,
and the pass succeeds with its accounting. ``make fuzz`` runs the same with many more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from contracts.checks import REASON_CODES
from finradar.settings import load_settings
from tests.poison.harness import InProcessIngest
from tests.poison.strategies import Message, messages

# deterministic: the same examples every run (make fuzz draws new ones)
PROFILE = settings(
    derandomize=True,
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessIngest]:
    harness = InProcessIngest(load_settings(var_dir=Path(tmp_path_factory.mktemp("var"))))
    yield harness
    harness.close()


@PROFILE
@given(batch=messages(max_size=30))
def test_every_message_lands_or_is_quarantined_with_a_reason(
    ingest: InProcessIngest, batch: list[Message]
) -> None:
    result = ingest.run(batch)  # a pass that raises fails the property
    found = ingest.outcome(result)
    assert len(found) == len(batch), "a message is not accounted for"
    assert result.summary.consumed == len(batch)
    for message, record in zip(batch, result.records, strict=True):
        verdict, codes = found[(record.topic, record.offset)]
        if verdict == "quarantined":
            assert codes and set(codes) <= set(REASON_CODES), codes
        landed_before = message.mutation in ("valid", "duplicate") and ingest.landed_before(
            result, _event_id(message)
        )
        if message.mutation == "valid" and not landed_before:
            assert verdict == "landed", (codes, message.value)
        if message.mutation == "duplicate" and not landed_before:
            assert verdict == "duplicate"
        if message.mutation == "duplicate" and landed_before:
            # ids count from 0 in every example: an earlier example may have landed this id
            # with other content, and then this copy, like its original, is a conflict
            assert verdict == "duplicate" or (verdict, codes) == (
                "quarantined",
                ["event_id_conflict"],
            )
        if message.mutation == "conflict":
            assert (verdict, codes) == ("quarantined", ["event_id_conflict"])
    assert ingest.quarantined_bytes_hold(result)


def _event_id(message: Message) -> str:
    assert message.value is not None
    return str(json.loads(message.value)["event_id"])


def test_control_characters_in_list_and_text_fields_land(ingest: InProcessIngest) -> None:
    """A NUL (valid JSON, ``\\u0000``) inside a list of strings once made the landing commit
    fail while DuckLake flushed its inlined rows ("unterminated quoted string"), so the pass
    could never land (found by the property above). Every type's list and text fields hold
    one now, in a pass of its own on the shared warehouse."""
    from contracts.corpus import seed_corpus

    nasty = "\u0096\u00cf\u0013\u0000k'\"]},\\"
    batch = []
    for event_type in ("spend_disclosure", "deployment_milestone", "observation"):
        event = json.loads(
            json.dumps(next(e for e in seed_corpus() if e["event_type"] == event_type))
        )
        event["event_id"] = f"nul-{event_type}"
        event["subject"]["members"] = [nasty, "x"]
        event["source"]["locator"] = nasty
        batch.append(Message("valid", event_type, json.dumps(event).encode()))
    result = ingest.run(batch)
    assert result.summary.landed == len(batch) and result.summary.quarantined == 0
    members = ingest.con.execute(
        "select members from raw.observations where event_id = 'nul-observation'"
    ).fetchone()[0]
    assert members == [nasty, "x"]
