"""Great Expectations suites of contract v1, derived from ``contracts.spec``.

One suite per event type over its flattened rows (see ``contracts.flatten``), plus two over
survey answers (one row per answer, one row per selected option) for the rules that look
inside ``answers``. Every expectation carries ``meta.reason_code``, the quarantine reason of
the rows it rejects. Suites are plain data here (``ExpectationSpec``); ``pipelines.gx_runner``
turns them into GX objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.export.arrow import answer_columns, event_columns
from contracts.spec import SCHEMA_VERSION, anchored, contracts
from contracts.taxonomy import codes

ROW_ID = "row_id"
FUTURE_PARAMETER = "max_occurred_at_utc"
ANSWER_SUITE = "survey_answer"
OPTION_SUITE = "survey_answer_option"


# A calendar date of the proleptic Gregorian calendar, years 0001-9999: the dates
# ``datetime.strptime(value, "%Y-%m-%d")`` takes in ISO form (the shape pattern asks that
# form). A regular expression, not GX's strftime expectation: that one calls strptime once
# a row (about 5 µs), where a pattern runs as one Arrow (RE2) kernel over the column. RE2
# has no look-around, hence the spelt-out alternatives; ``tests/unit/test_gx_suites.py``
# compares it with strptime over every month and day of the years around each leap rule.
_YEAR = "(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
CALENDAR_DATE = (
    f"^(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    f"|{_LEAP_YEAR}-02-29)$"
)


@dataclass(frozen=True)
class ExpectationSpec:
    expectation: str  # GX class name, e.g. ExpectColumnValuesToBeInSet
    kwargs: dict[str, Any]  # row_condition, if any, is (column, "==" | "!=", value)
    reason_code: str
    field: str
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str:
        return str(self.kwargs.get("column") or ",".join(self.kwargs.get("column_list", [])))


def _column_expectations(columns: list[Any]) -> list[ExpectationSpec]:
    out: list[ExpectationSpec] = []
    for col in columns:
        field_ = col.spec
        name = col.name
        if col.required:
            out.append(
                ExpectationSpec(
                    "ExpectColumnValuesToNotBeNull", {"column": name}, "missing_field", name
                )
            )
        if field_ is None:
            continue
        if field_.name == "event_type":
            continue  # checked against the topic below
        if field_.name == "schema_version":
            out.append(
                ExpectationSpec(
                    "ExpectColumnValuesToBeInSet",
                    {"column": name, "value_set": [SCHEMA_VERSION]},
                    "unsupported_schema_version",
                    name,
                )
            )
            continue
        if field_.enum is not None and field_.kind == "string":
            out.append(
                ExpectationSpec(
                    "ExpectColumnValuesToBeInSet",
                    {"column": name, "value_set": list(codes(field_.enum))},
                    "unknown_enum",
                    name,
                )
            )
        elif field_.pattern is not None and field_.kind in ("string", "date", "timestamp"):
            out.append(
                ExpectationSpec(
                    "ExpectColumnValuesToMatchRegex",
                    # non-capturing groups: GX matches with str.contains, which warns on groups
                    {"column": name, "regex": anchored(field_.pattern).replace("(", "(?:")},
                    "invalid_format",
                    name,
                )
            )
            if field_.kind == "date":
                out.append(
                    ExpectationSpec(
                        "ExpectColumnValuesToMatchRegex",
                        {"column": name, "regex": CALENDAR_DATE},
                        "invalid_format",
                        name,
                        "a calendar date, not only the shape of one",
                    )
                )
        bounds: dict[str, Any] = {}
        if field_.minimum is not None:
            bounds["min_value"] = field_.minimum
        if field_.exclusive_minimum is not None:
            bounds.update(min_value=field_.exclusive_minimum, strict_min=True)
        if field_.maximum is not None:
            bounds["max_value"] = field_.maximum
        if bounds and field_.kind in ("integer", "number"):
            out.append(
                ExpectationSpec(
                    "ExpectColumnValuesToBeBetween",
                    {"column": name, **bounds},
                    "out_of_range",
                    name,
                )
            )
    return out


def count_column(array_field: str) -> str:
    """The event-frame column holding the item count of a payload array."""
    return f"{array_field}_count"


def event_suite(event_type: str) -> list[ExpectationSpec]:
    """The expectations of one event type's flattened rows.

    Repeated event ids are not judged here: which copy came first, and whether it was landed
    in an earlier run, is decided when the batch lands (duplicate or ``event_id_conflict``).
    """
    contract = contracts()[event_type]
    columns = event_columns(contract)
    out = [
        ExpectationSpec(
            "ExpectColumnValuesToBeInSet",
            {"column": "event_type", "value_set": [event_type]},
            "event_type_topic_mismatch",
            "event_type",
        ),
        *_column_expectations(columns),
        ExpectationSpec(
            "ExpectColumnValuesToBeBetween",
            {"column": "occurred_at_utc", "max_value": {"$PARAMETER": FUTURE_PARAMETER}},
            "future_timestamp",
            "occurred_at",
        ),
    ]
    for f in contract.payload.fields:
        if f.kind == "array" and f.min_items is not None:
            out.append(
                ExpectationSpec(
                    "ExpectColumnValuesToBeBetween",
                    {"column": count_column(f.name), "min_value": f.min_items},
                    "out_of_range",
                    f.name,
                    "item count of an array the landed row keeps in a child table",
                )
            )
    if event_type == "spend_disclosure":
        out.append(
            ExpectationSpec(
                "ExpectColumnValuesToBeNull",
                {
                    "column": "technology",
                    "row_condition": ("spend_class", "!=", "frontier"),
                },
                "technology_without_frontier",
                "technology",
            )
        )
    if event_type == "survey_response":
        out.append(
            ExpectationSpec(
                "ExpectColumnValuesToBeInSet",
                {"column": "survey_wave_key", "value_set": []},
                "unknown_survey",
                "survey_id",
                extra={"value_set": "survey_waves"},
            )
        )
        out.append(
            ExpectationSpec(
                "ExpectColumnValuesToBeNull",
                {"column": "respondent_email_in"},
                "personal_data_in_clear",
                "respondent_id",
                "e-mail address found in respondent_id or department",
            )
        )
    return out


def answer_suite() -> list[ExpectationSpec]:
    """Expectations over survey answers, one row per answer."""
    columns = [c for c in answer_columns() if c.spec is not None]
    return [
        ExpectationSpec(
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": [ROW_ID, "question_id"]},
            "duplicate_question",
            "question_id",
        ),
        *_column_expectations(columns),
        ExpectationSpec(
            "ExpectColumnValuesToBeInSet",
            {"column": "question_key", "value_set": []},
            "unknown_question",
            "question_id",
            extra={"value_set": "questions"},
        ),
        ExpectationSpec(
            "ExpectColumnValuesToBeInSet",
            {
                "column": "question_kind_key",
                "value_set": [],
                "row_condition": ("question_known", "==", True),
            },
            "answer_kind_mismatch",
            "kind",
            extra={"value_set": "question_kinds"},
        ),
        ExpectationSpec(
            "ExpectColumnValuesToBeBetween",
            {
                "column": "option_count",
                "min_value": 1,
                "max_value": 1,
                "row_condition": ("kind", "==", "single"),
            },
            "single_answer_option_count",
            "options",
        ),
        ExpectationSpec(
            "ExpectColumnValuesToNotBeNull",
            {"column": "score", "row_condition": ("kind", "==", "score")},
            "missing_field",
            "score",
        ),
        ExpectationSpec(
            "ExpectColumnValuesToNotBeNull",
            {"column": "stage", "row_condition": ("kind", "==", "stage")},
            "missing_field",
            "stage",
        ),
    ]


def option_suite() -> list[ExpectationSpec]:
    """Expectations over selected options, one row per (answer, option)."""
    return [
        ExpectationSpec(
            "ExpectColumnValuesToBeInSet",
            {"column": "option_key", "value_set": []},
            "unknown_option",
            "options",
            extra={"value_set": "options"},
        ),
        ExpectationSpec(
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": [ROW_ID, "answer_index", "option_id"]},
            "duplicate_option",
            "options",
        ),
    ]


def suites_of(event_type: str) -> list[str]:
    """The suites a batch of ``event_type`` is validated with, in the order they run: its
    own, then the two answer suites if its events carry answers (a child table)."""
    if "answers" in contracts()[event_type].child_tables:
        return [event_type, ANSWER_SUITE, OPTION_SUITE]
    return [event_type]


def columns_read(specs: list[ExpectationSpec]) -> list[str]:
    """The frame columns a suite's expectations read (their columns and the columns of
    their row conditions), ``ROW_ID`` first: what the frame it validates needs to hold."""
    read = {ROW_ID: None}
    for spec in specs:
        kwargs = spec.kwargs
        for column in [kwargs.get("column"), *kwargs.get("column_list", [])]:
            if column is not None:
                read[column] = None
        if "row_condition" in kwargs:
            read[kwargs["row_condition"][0]] = None
    return list(read)


def suites() -> dict[str, list[ExpectationSpec]]:
    """Every suite by name: one per event type, then the two survey-answer suites."""
    result = {event_type: event_suite(event_type) for event_type in contracts()}
    result[ANSWER_SUITE] = answer_suite()
    result[OPTION_SUITE] = option_suite()
    return result
