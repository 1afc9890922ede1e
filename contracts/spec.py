"""Event contract v1 (``shared/spec/event-contract-v1.md``), defined once.

Every field of the envelope, ``source``, ``subject`` and the three payloads is declared here,
with its type, whether it is required, its enum (a taxonomy of ``taxonomies.yaml``), pattern
and bounds. The JSON Schema, the Arrow schemas and DuckDB DDL of ``raw.*``, the Great
Expectations suites and the structural checker are all derived from these declarations;
nothing else restates a field list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from contracts.topics import load_topics

SCHEMA_VERSION = 1
# A minor revision only adds optional fields: its events stay schema_version 1 on the wire and
# a v1 consumer ignores what it does not know. 1.1: payload.measure of a spend disclosure,
# source.provenance of every event, payload.stated_cagr and stated_cagr_from of a spend figure.
# 1.2: the observation event type (its own topic): market sizes and KPIs as the source prints
# them; the level ``market``, the institution type ``other``.
CONTRACT_REVISION = "1.2"
MAX_MESSAGE_BYTES = 1024 * 1024  # larger values are quarantined as ``oversize``
FUTURE_TOLERANCE_HOURS = 24  # occurred_at more than this after ingestion is ``future_timestamp``

Kind = Literal["string", "integer", "number", "date", "timestamp", "object", "array"]

EVENT_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
FISCAL_PERIOD_PATTERN = r"^[0-9]{4}(H[12]|Q[1-4])?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# RFC 3339 in one form: an upper-case T between date and time, Z or a numeric offset
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)


def anchored(pattern: str) -> str:
    """A contract pattern (``^…$``, JSON Schema's ECMA dialect, where ``$`` is the end of the
    text) for Python's ``re``, where ``$`` also matches before a final newline: ``\\Z``."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern


@dataclass(frozen=True)
class Field:
    """One field of the contract. ``enum`` names a taxonomy of ``taxonomies.yaml``."""

    name: str
    kind: Kind
    required: bool = False
    doc: str = ""
    enum: str | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    const: Any = None
    fields: tuple[Field, ...] = ()
    items: Field | None = None
    min_items: int | None = None
    default: Any = None
    personal: bool = False

    def child(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")


def _s(name: str, required: bool = False, doc: str = "", **kw: Any) -> Field:
    return Field(name, "string", required, doc, **kw)


SOURCE = Field(
    "source",
    "object",
    True,
    "provenance of the fact",
    fields=(
        _s("publisher", True, "who published the figure"),
        _s("document", True, "the report or filing"),
        _s("locator", doc="page, chart or line in the document"),
        Field("published_on", "date", doc="publication date", pattern=DATE_PATTERN),
        _s(
            "provenance",
            doc="v1.1: reported (as the source published it; also when absent), constructed "
            "(rebuilt so that it aggregates to what the source published, e.g. respondent-level "
            "answers behind printed shares) or synthetic (generated, never a source's)",
            enum="provenance",
        ),
    ),
)

SUBJECT = Field(
    "subject",
    "object",
    True,
    "the institution, group, segment or industry the event is about",
    fields=(
        _s("entity_id", True, "stable id, e.g. cn.bank.icbc", min_length=1),
        _s("level", True, enum="level"),
        _s("institution_type", True, enum="institution_type"),
        _s("tier", enum="tier"),
        _s("name_zh", doc="display name in Chinese"),
        _s("name_en", doc="display name in English"),
        Field(
            "members", "array", doc="member entity ids of a group", items=_s("member", min_length=1)
        ),
    ),
)

SPEND_PAYLOAD = Field(
    "payload",
    "object",
    True,
    "one figure of technology spend, as disclosed or estimated",
    fields=(
        _s("fiscal_period", True, "YYYY, YYYYH1/H2 or YYYYQ1-Q4", pattern=FISCAL_PERIOD_PATTERN),
        _s("status", True, "forecasts never mix with actuals in a total", enum="status"),
        Field("vintage", "date", True, "as-of date of the figure", pattern=DATE_PATTERN),
        _s("scope", True, "the source's spend label", enum="scope"),
        _s("spend_class", True, enum="spend_class"),
        _s("technology", doc="only with spend_class = frontier", enum="spend_technology"),
        _s(
            "measure",
            doc="v1.1: the source's own name for what it measures (its definition, e.g. "
            "金融机构人工智能类产品资金投入); figures of different measures are different series "
            "and never restate each other. Absent: not stated",
            min_length=1,
            max_length=200,
        ),
        Field("amount", "number", True, exclusive_minimum=0),
        _s("currency", True, enum="currency"),
        _s("unit", True, enum="unit"),
        _s("bound", enum="bound", default="exact"),
        Field("revenue_share", "number", doc="share of operating revenue", minimum=0, maximum=1),
        Field("reported_yoy", "number", doc="growth as the source states it"),
        Field(
            "stated_cagr",
            "number",
            doc="v1.1: a compound annual growth rate the source states for this series, from "
            "stated_cagr_from to this figure's period",
        ),
        _s(
            "stated_cagr_from",
            doc="v1.1: the first period of stated_cagr's span, as the source gives it",
            pattern=FISCAL_PERIOD_PATTERN,
        ),
        Field("tech_headcount", "integer", doc="technology staff", minimum=0),
        Field("tech_headcount_share", "number", doc="share of all staff", minimum=0, maximum=1),
    ),
)

KPI = Field(
    "kpi",
    "object",
    fields=(
        _s("name", True),
        Field("value", "number"),
        _s("unit"),
        Field("baseline", "number"),
    ),
)

DEPLOYMENT_PAYLOAD = Field(
    "payload",
    "object",
    True,
    "an institution (or a segment, for counted cases) reaching a stage with a technology",
    fields=(
        _s("technology", True, enum="deployment_technology"),
        _s("capability", True, enum="capability"),
        _s("stage", True, enum="stage"),
        Field("effective_date", "date", True, pattern=DATE_PATTERN),
        _s("date_precision", True, enum="date_precision"),
        _s("sourcing", enum="sourcing"),
        Field("case_count", "integer", doc="counted landing cases", minimum=1, default=1),
        _s("product"),
        _s("vendor"),
        _s("xinchuang_layer", enum="xinchuang_layer"),
        Field("kpis", "array", items=KPI),
    ),
)

ANSWER = Field(
    "answer",
    "object",
    fields=(
        _s("question_id", True, min_length=1),
        _s("kind", True, enum="answer_kind"),
        Field(
            "options",
            "array",
            doc="single: exactly one; multi: zero or more",
            items=_s("option", min_length=1),
        ),
        Field("score", "number", doc="score answers", minimum=0, maximum=1),
        _s("stage", doc="stage answers", enum="stage"),
    ),
)

SURVEY_PAYLOAD = Field(
    "payload",
    "object",
    True,
    "one respondent's answers to one survey",
    fields=(
        _s("survey_id", True, min_length=1),
        _s("wave", True, min_length=1),
        _s("respondent_id", True, "pseudonymous id", min_length=1),
        _s("respondent_email", doc="personal data: hashed before landing", personal=True),
        _s("department"),
        Field("answers", "array", True, items=ANSWER, min_items=1),
    ),
)


OBSERVATION_PAYLOAD = Field(
    "payload",
    "object",
    True,
    "one printed figure that is not an institution's technology spend (contract v1.2): a market "
    "size, a KPI, a rate, a share of a stated base, a growth rate or a stated CAGR, in the "
    "source's own unit and at its printed precision",
    fields=(
        _s(
            "measure",
            True,
            "the source's own name for what it measures (e.g. 中国金融云市场规模); figures of "
            "different measures never compare",
            min_length=1,
            max_length=200,
        ),
        _s("metric", True, "what kind of number value is", enum="observation_metric"),
        _s(
            "fiscal_period",
            doc="YYYY, YYYYH1/H2 or YYYYQ1-Q4; absent: the source states no period",
            pattern=FISCAL_PERIOD_PATTERN,
        ),
        _s(
            "span_from",
            doc="the first period of a cagr's (or a multi-period growth's) span, as stated",
            pattern=FISCAL_PERIOD_PATTERN,
        ),
        _s("status", True, enum="status"),
        Field("vintage", "date", True, "as-of date of the figure", pattern=DATE_PATTERN),
        Field("value", "number", True, "as printed; the lower end of a printed range"),
        Field("value_high", "number", doc="the upper end of a printed range (73%～80%)"),
        _s("bound", enum="bound", default="exact"),
        _s(
            "unit",
            True,
            "the source's own unit as printed: 亿元, 亿美元, 万亿元, %, 人, 个, 台, 倍, PB …",
            min_length=1,
            max_length=20,
        ),
        _s("currency", doc="the currency of a money unit", enum="currency"),
        _s("presentation", doc="where the document prints it", enum="presentation"),
        _s(
            "cited_source",
            doc="the data source the document cites for this figure (IDC, Gartner, 信通院 …)",
            max_length=200,
        ),
        _s(
            "part_of",
            doc="the measure of the whole this figure is a part of (same entity, period, unit): "
            "a level adds up to the whole's level, a rate is the rate of a sub-group of it",
            max_length=200,
        ),
        _s(
            "base_measure",
            doc="share or rate: what it is a share of (the denominator's measure)",
            max_length=200,
        ),
        Field(
            "base_count",
            "integer",
            doc="share: the stated size of its base (respondents, events)",
            minimum=1,
        ),
        _s(
            "numerator_measure",
            doc="share: the measure of its numerator, when the source names one",
            max_length=200,
        ),
    ),
)


def envelope(event_type: str, payload: Field) -> Field:
    """The whole event of one type: envelope fields, source, subject and payload."""
    return Field(
        event_type,
        "object",
        True,
        fields=(
            _s("event_id", True, "one logical event", pattern=EVENT_ID_PATTERN),
            _s("event_type", True, enum="event_type", const=event_type),
            Field("schema_version", "integer", True, const=SCHEMA_VERSION),
            Field(
                "occurred_at", "timestamp", True, "RFC 3339 with offset", pattern=TIMESTAMP_PATTERN
            ),
            _s("producer", True, "the emitting system", min_length=1),
            SOURCE,
            SUBJECT,
            payload,
        ),
    )


@dataclass(frozen=True)
class EventContract:
    """One event type: its topic, its full field tree and its landed table."""

    event_type: str
    topic: str
    table: str
    root: Field
    doc: str = ""
    child_tables: dict[str, str] = field(default_factory=dict)

    @property
    def payload(self) -> Field:
        return self.root.child("payload")


_PAYLOADS = {
    "spend_disclosure": (SPEND_PAYLOAD, "spend_disclosures", {}),
    "deployment_milestone": (DEPLOYMENT_PAYLOAD, "deployment_milestones", {}),
    "survey_response": (SURVEY_PAYLOAD, "survey_responses", {"answers": "survey_answers"}),
    "observation": (OBSERVATION_PAYLOAD, "observations", {}),
}


@cache
def contracts() -> dict[str, EventContract]:
    """The contracts by event type, with their topics from ``contracts/topics.yaml``."""
    topics = {t.event_type: t.name for t in load_topics()}
    if set(topics) != set(_PAYLOADS):
        raise ValueError(f"contracts/topics.yaml event types {sorted(topics)} != contract types")
    return {
        event_type: EventContract(
            event_type=event_type,
            topic=topics[event_type],
            table=table,
            root=envelope(event_type, payload),
            doc=payload.doc,
            child_tables=children,
        )
        for event_type, (payload, table, children) in _PAYLOADS.items()
    }


def topics_by_event_type() -> dict[str, str]:
    """The contract topic of each event type."""
    return {c.event_type: c.topic for c in contracts().values()}


def contract_for_topic(topic: str) -> EventContract | None:
    """The contract whose topic is ``topic``, if any (asked once per message)."""
    return _contracts_by_topic().get(topic)


@cache
def _contracts_by_topic() -> dict[str, EventContract]:
    return {c.topic: c for c in contracts().values()}


def topics_of(names: Sequence[str]) -> list[str]:
    """Topic names from topic names or event types (all contract topics if empty)."""
    by_type = {c.event_type: c.topic for c in contracts().values()}
    known = set(by_type.values())
    topics = []
    for name in names:
        topic = by_type.get(name, name)
        if topic not in known:
            raise ValueError(
                f"{name!r} is neither a contract topic nor an event type "
                f"({', '.join(sorted(known | set(by_type)))})"
            )
        topics.append(topic)
    return topics or sorted(known)
