"""Flatten contract events into rows of the landed tables (see ``contracts.export.arrow``)."""

from __future__ import annotations

from typing import Any

from contracts.export.arrow import answer_columns, event_columns
from contracts.spec import EventContract


def flatten_event(event: dict[str, Any], contract: EventContract) -> dict[str, Any]:
    """The contract columns of one event, values as in the JSON (dates stay strings).

    Personal fields come out under their ``*_hash`` column still in clear; landing replaces
    them with a keyed hash before anything is written.
    """
    row: dict[str, Any] = {}
    for col in event_columns(contract):
        value: Any = event
        for key in col.path:
            value = value.get(key) if isinstance(value, dict) else None
        row[col.name] = value
    return row


def flatten_answers(event: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per answer of a ``survey_response`` event."""
    payload = event.get("payload") or {}
    subject = event.get("subject") or {}
    head = {
        "event_id": event.get("event_id"),
        "survey_id": payload.get("survey_id"),
        "wave": payload.get("wave"),
        "respondent_id": payload.get("respondent_id"),
        "entity_id": subject.get("entity_id"),
        "institution_type": subject.get("institution_type"),
        "occurred_at": event.get("occurred_at"),
    }
    names = [c.name for c in answer_columns() if c.path and c.path[0] == "answer"]
    rows = []
    for i, answer in enumerate(payload.get("answers") or []):
        row = dict(head, answer_index=i)
        for name in names:
            row[name] = answer.get(name) if isinstance(answer, dict) else None
        rows.append(row)
    return rows
