"""The contract check: decode a Kafka value and check it against contract v1.

Every violation is a ``Reason`` with a code from ``REASON_CODES`` and a detail naming the
field. Structural checks walk the field declarations of ``contracts.spec``; the rules a schema
cannot express (topic, frontier technology, survey answers, personal data, future
timestamps) follow. ``event_id_conflict`` needs the landed history and is decided at ingest.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts.decoding import MAX_DEPTH, MAX_SAFE_INTEGER, Decoded, Reason, decode, printable
from contracts.personal_data import holds_email, shown, withheld_if_personal
from contracts.spec import (
    FISCAL_PERIOD_PATTERN,
    FUTURE_TOLERANCE_HOURS,
    MAX_MESSAGE_BYTES,
    SCHEMA_VERSION,
    TIMESTAMP_PATTERN,
    Field,
    anchored,
    contract_for_topic,
    contracts,
)
from contracts.survey_catalog import SurveyCatalog, survey_catalog
from contracts.taxonomy import codes

REASON_CODES: dict[str, str] = {
    "oversize": f"value larger than {MAX_MESSAGE_BYTES} bytes",
    "invalid_utf8": "value is not UTF-8",
    "invalid_json": "value is not one JSON document (NaN and Infinity are not JSON)",
    "nesting_too_deep": f"objects and arrays nested more than {MAX_DEPTH} levels deep",
    "duplicate_key": "an object names the same key twice",
    "number_out_of_range": f"a number beyond ±{MAX_SAFE_INTEGER} (integers) or a double",
    "invalid_unicode": "a string with a lone UTF-16 surrogate (\\uD800-\\uDFFF escape)",
    "not_an_object": "the JSON document is not an object",
    "missing_field": "a required field is absent or null",
    "wrong_type": "a field has the wrong JSON type",
    "unknown_enum": "a value outside the field's controlled vocabulary",
    "out_of_range": "a number, length or item count outside its bounds",
    "invalid_format": "a string that does not match its format (id, period, date, timestamp)",
    "unsupported_schema_version": f"schema_version other than {SCHEMA_VERSION}",
    "event_type_topic_mismatch": "event_type does not belong on the topic it arrived on",
    "technology_without_frontier": "spend technology given with spend_class other than frontier",
    "unknown_survey": "survey_id (or its wave) is not defined in contracts/surveys",
    "unknown_question": "question_id is not a question of the survey",
    "answer_kind_mismatch": "an answer's kind differs from its question's kind",
    "single_answer_option_count": "a single-choice answer without exactly one option",
    "duplicate_option": "a multiple-choice answer names an option twice",
    "unknown_option": "option_id is not an option of the question",
    "duplicate_question": "a response answers the same question twice",
    "personal_data_in_clear": "an e-mail address outside respondent_email",
    "future_timestamp": f"occurred_at more than {FUTURE_TOLERANCE_HOURS} h after ingestion",
    "event_id_conflict": "an event_id seen before with different content",
    "internal_error": "a stage failed on this message (the exception's class is in the detail)",
}

__all__ = [
    "REASON_CODES",
    "Decoded",
    "Reason",
    "check_event",
    "check_value",
    "decode",
    "internal_error",
]

# A reason's detail quotes a value through ``shown``: a value holding personal data
# (``contracts.personal_data``) is withheld, so no reason echoes it.
_PATTERNS: dict[str, re.Pattern[str]] = {}


def compiled_pattern(p: str) -> re.Pattern[str]:
    """A contract pattern compiled for Python's ``re`` (``anchored``), once."""
    compiled = _PATTERNS.get(p)
    if compiled is None:
        compiled = _PATTERNS[p] = re.compile(anchored(p))
    return compiled


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check(f: Field, value: Any, path: str, out: list[Reason]) -> None:
    kind = f.kind
    if kind == "object":
        if not isinstance(value, dict):
            out.append(Reason("wrong_type", f"{path}: expected object, got {_jtype(value)}"))
            return
        for child in f.fields:
            v = value.get(child.name)
            child_path = f"{path}.{child.name}" if path else child.name
            if v is None:
                if child.required:
                    out.append(Reason("missing_field", f"{child_path} is required"))
                continue
            _check(child, v, child_path, out)
        return
    if kind == "array":
        if not isinstance(value, list):
            out.append(Reason("wrong_type", f"{path}: expected array, got {_jtype(value)}"))
            return
        if f.min_items is not None and len(value) < f.min_items:
            out.append(Reason("out_of_range", f"{path}: {len(value)} items < {f.min_items}"))
        if f.items is not None:
            for i, item in enumerate(value):
                if item is None:
                    out.append(Reason("missing_field", f"{path}[{i}] is null"))
                else:
                    _check(f.items, item, f"{path}[{i}]", out)
        return
    if kind in ("string", "date", "timestamp"):
        if not isinstance(value, str):
            out.append(Reason("wrong_type", f"{path}: expected string, got {_jtype(value)}"))
            return
        if f.enum is not None:
            if value not in codes(f.enum):
                out.append(Reason("unknown_enum", f"{path}: {shown(value)} is not a {f.enum}"))
            return
        if f.min_length is not None and len(value) < f.min_length:
            out.append(Reason("out_of_range", f"{path}: shorter than {f.min_length}"))
        if f.max_length is not None and len(value) > f.max_length:
            out.append(Reason("out_of_range", f"{path}: longer than {f.max_length}"))
        if f.pattern is not None and not compiled_pattern(f.pattern).match(value):
            out.append(
                Reason("invalid_format", f"{path}: {shown(value, 80)} is not a valid {kind}")
            )
            return
        if kind == "date" and not _valid_date(value):
            out.append(Reason("invalid_format", f"{path}: {shown(value)} is not a calendar date"))
        elif kind == "timestamp" and parse_timestamp(value) is None:
            out.append(Reason("invalid_format", f"{path}: {shown(value)} is not an RFC 3339 time"))
        return
    # integer / number
    if not _is_number(value) or (kind == "integer" and not _is_integral(value)):
        out.append(Reason("wrong_type", f"{path}: expected {kind}, got {_jtype(value)}"))
        return
    if kind == "integer" and abs(value) > MAX_SAFE_INTEGER:
        out.append(Reason("number_out_of_range", f"{path}: {value} is beyond ±{MAX_SAFE_INTEGER}"))
        return
    if f.minimum is not None and value < f.minimum:
        out.append(Reason("out_of_range", f"{path}: {value} < {f.minimum}"))
    if f.exclusive_minimum is not None and value <= f.exclusive_minimum:
        out.append(Reason("out_of_range", f"{path}: {value} must be > {f.exclusive_minimum}"))
    if f.maximum is not None and value > f.maximum:
        out.append(Reason("out_of_range", f"{path}: {value} > {f.maximum}"))


def _is_integral(v: int | float) -> bool:
    return isinstance(v, int) or v.is_integer()


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(v), type(v).__name__)


def _valid_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def parse_timestamp(value: str) -> datetime | None:
    """An RFC 3339 timestamp with offset (in the contract's one form) that is an instant
    between the years 1 and 9999 in UTC, as UTC; or None."""
    if not compiled_pattern(TIMESTAMP_PATTERN).match(value):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError):  # 24:00, 02-30; year 0 or 10000 once in UTC
        return None


def check_event(
    event: dict[str, Any],
    topic: str | None = None,
    now: datetime | None = None,
    catalog: SurveyCatalog | None = None,
) -> list[Reason]:
    """Every contract violation of one decoded event (empty when it is valid)."""
    out: list[Reason] = []
    event_type = event.get("event_type")
    by_topic = contract_for_topic(topic) if topic else None
    contract = contracts().get(event_type) if isinstance(event_type, str) else None
    if event_type is None:
        out.append(Reason("missing_field", "event_type is required"))
    elif contract is None:
        out.append(Reason("unknown_enum", f"event_type: {shown(event_type)} is not an event_type"))
    if by_topic is not None and contract is not None and contract is not by_topic:
        out.append(
            Reason(
                "event_type_topic_mismatch",
                f"{event_type} on {topic} (expects {by_topic.event_type})",
            )
        )
    contract = contract or by_topic
    version = event.get("schema_version")
    if _is_number(version) and version != SCHEMA_VERSION:
        out.append(Reason("unsupported_schema_version", f"schema_version {version}"))
        return out
    if contract is None:
        return out
    for f in contract.root.fields:
        v = event.get(f.name)
        if v is None:
            if f.required and f.name != "event_type":
                out.append(Reason("missing_field", f"{f.name} is required"))
        elif f.name != "event_type":
            _check(f, v, f.name, out)
    payload = event.get("payload")
    if isinstance(payload, dict):
        if contract.event_type == "spend_disclosure":
            _spend_rules(payload, out)
        elif contract.event_type == "observation":
            observation_rules(payload, out)
        elif contract.event_type == "survey_response":
            survey_rules(payload, event.get("subject"), out, catalog or survey_catalog())
    occurred = event.get("occurred_at")
    if isinstance(occurred, str):
        ts = parse_timestamp(occurred)
        limit = (now or datetime.now(UTC)) + timedelta(hours=FUTURE_TOLERANCE_HOURS)
        if ts is not None and ts > limit:
            out.append(
                Reason(
                    "future_timestamp",
                    f"occurred_at {occurred} is more than {FUTURE_TOLERANCE_HOURS} h after "
                    "ingestion",
                )
            )
    return out


def _spend_rules(payload: dict[str, Any], out: list[Reason]) -> None:
    if payload.get("technology") is not None and payload.get("spend_class") != "frontier":
        out.append(
            Reason(
                "technology_without_frontier",
                f"payload.technology {shown(payload['technology'])} with spend_class "
                f"{shown(payload.get('spend_class'))}",
            )
        )


def _period_key(period: str) -> tuple[int, int]:
    """A fiscal period's end as (year, month): 2019 → (2019, 12), 2020H1 → (2020, 6)."""
    year, part = int(period[:4]), period[4:]
    month = {"": 12, "H1": 6, "H2": 12, "Q1": 3, "Q2": 6, "Q3": 9, "Q4": 12}.get(part, 12)
    return year, month


def observation_rules(payload: dict[str, Any], out: list[Reason]) -> None:
    """An observation's range runs upwards, and a span ends after it starts."""
    value, high = payload.get("value"), payload.get("value_high")
    if _is_number(value) and _is_number(high) and high < value:
        out.append(
            Reason(
                "out_of_range",
                f"payload.value_high {shown(high)} is below payload.value {shown(value)}",
            )
        )
    start, end = payload.get("span_from"), payload.get("fiscal_period")
    if isinstance(start, str) and isinstance(end, str):
        pattern = compiled_pattern(FISCAL_PERIOD_PATTERN)
        if pattern.match(start) and pattern.match(end) and _period_key(start) >= _period_key(end):
            out.append(
                Reason(
                    "out_of_range",
                    f"payload.span_from {shown(start)} is not before payload.fiscal_period "
                    f"{shown(end)}",
                )
            )


def survey_rules(
    payload: dict[str, Any], subject: Any, out: list[Reason], catalog: SurveyCatalog
) -> None:
    """The survey response rules a schema cannot express (the catalog's surveys, waves,
    questions and options; personal data) appended to ``out``."""
    for name in ("respondent_id", "department"):
        v = payload.get(name)
        if isinstance(v, str) and holds_email(v):
            out.append(Reason("personal_data_in_clear", f"payload.{name} holds an e-mail address"))
    survey_id, wave = payload.get("survey_id"), payload.get("wave")
    answers = payload.get("answers")
    if not isinstance(survey_id, str) or not isinstance(answers, list):
        return
    survey = catalog.get(survey_id)
    if survey is None:
        out.append(Reason("unknown_survey", f"payload.survey_id {shown(survey_id)} is not defined"))
        return
    if isinstance(wave, str) and wave not in survey.waves:
        out.append(
            Reason(
                "unknown_survey",
                f"payload.wave {shown(wave)} of {survey_id} is not defined",
            )
        )
    seen: set[str] = set()
    for i, answer in enumerate(answers):
        if not isinstance(answer, dict):
            continue
        qid, kind = answer.get("question_id"), answer.get("kind")
        if not isinstance(qid, str):
            continue
        if qid in seen:
            out.append(
                Reason(
                    "duplicate_question", f"{_answer(i)}: {shown(qid, quoted=False)} answered twice"
                )
            )
        seen.add(qid)
        question = survey.questions.get(qid)
        if question is None:
            out.append(
                Reason("unknown_question", f"{_answer(i)}: {shown(qid)} is not in {survey_id}")
            )
            continue
        if kind != question.kind:
            out.append(
                Reason(
                    "answer_kind_mismatch",
                    f"{_answer(i)}: {qid} is {question.kind}, answered {shown(kind, quoted=False)}",
                )
            )
            continue
        options = answer.get("options")
        options = options if isinstance(options, list) else []
        if kind == "single" and len(options) != 1:
            out.append(
                Reason(
                    "single_answer_option_count", f"{_answer(i)}: {qid} has {len(options)} options"
                )
            )
        if kind in ("single", "multi"):
            if len(set(map(str, options))) != len(options):
                out.append(Reason("duplicate_option", f"{_answer(i)}: {qid} repeats an option"))
            for opt in options:
                if isinstance(opt, str) and opt not in question.options:
                    out.append(
                        Reason(
                            "unknown_option",
                            f"{_answer(i)}: {shown(opt)} is not an option of {qid}",
                        )
                    )
        elif kind == "score" and answer.get("score") is None:
            out.append(
                Reason("missing_field", f"{_answer(i)}.score is required for a score answer")
            )
        elif kind == "stage" and answer.get("stage") is None:
            out.append(
                Reason("missing_field", f"{_answer(i)}.stage is required for a stage answer")
            )


def _answer(i: int) -> str:
    """Where an answer is in a survey response (written only for a reason to give)."""
    return f"payload.answers[{i}]"


def internal_error(stage: str, exc: BaseException) -> Reason:
    """The reason of a message on which a stage failed: it waits in quarantine (and can be
    replayed once the defect is fixed) instead of stopping the pass."""
    message = printable(withheld_if_personal(" ".join(str(exc).split())))[:200]
    return Reason("internal_error", f"{stage}: {type(exc).__name__}: {message}")


def check_value(
    value: bytes | None, topic: str | None = None, now: datetime | None = None
) -> tuple[dict[str, Any] | None, list[Reason]]:
    """Decode and check one Kafka value: the event (if decodable) and its violations."""
    try:
        decoded = decode(value)
        if decoded.reason is not None:
            return None, [decoded.reason]
        assert decoded.event is not None
        return decoded.event, check_event(decoded.event, topic=topic, now=now)
    except Exception as exc:  # whatever one message does, it must not stop the pass
        return None, [internal_error("contract check", exc)]
