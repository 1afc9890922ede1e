"""A deterministic synthetic event stream for volume tests, with bad records by class.

A population of institutions by type and tier (counts and spend levels calibrated on the
seed figures: the six large state-owned banks spend 50-180 亿 each in 2019, the banking
segment 2,658.5 亿 in 2023, insurers 517.6 亿, securities firms 421.6 亿) emits spend,
deployment, survey and observation (institution KPI) events. A fraction ``bad_rate`` of
messages is replaced by a bad record of one of ``BAD_CLASSES``; each message says which class
it is and what the platform is expected to do with it, so a test can account for every one.

The stream is cut into chunks of ``CHUNK`` messages, each generated from its own seed, so any
chunk can be produced by any process and the whole stream is the same for one seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from contracts.spec import MAX_MESSAGE_BYTES, topics_by_event_type
from contracts.survey_catalog import SurveyCatalog, survey_catalog
from contracts.taxonomy import codes

CHUNK = 10_000
EVENT_MIX = (
    ("spend_disclosure", 0.55),
    ("deployment_milestone", 0.3),
    ("survey_response", 0.1),
    ("observation", 0.05),
)
# institution KPIs an observation reports: (measure, metric, unit, low, high, decimals)
KPIS: tuple[tuple[str, str, str, float, float, int], ...] = (
    ("智能化网点数", "level", "个", 50, 20000, 0),
    ("手机银行月活跃用户", "level", "万户", 10, 20000, 1),
    ("科技人员占比", "rate", "%", 0.5, 9.0, 2),
    ("业务线上化率", "rate", "%", 40, 99.9, 1),
    ("智能客服替代率", "rate", "%", 20, 95, 1),
)

# (institution_type, tier, count, mean 2019 spend in 亿)
POPULATION: tuple[tuple[str, str, int, float], ...] = (
    ("bank", "large_state_owned", 6, 120.0),
    ("bank", "joint_stock", 12, 60.0),
    ("bank", "city_commercial", 125, 3.0),
    ("bank", "rural", 200, 0.5),
    ("bank", "private_internet", 19, 2.0),
    ("insurance", "head", 10, 30.0),
    ("insurance", "middle", 40, 5.0),
    ("insurance", "tail", 100, 1.0),
    ("securities", "head", 10, 20.0),
    ("securities", "middle", 40, 4.0),
    ("securities", "tail", 90, 0.8),
)
GROWTH = 0.10  # yearly growth of spend levels, near the seeds' segment growth
YEARS = tuple(range(2019, 2027))
LAST_ACTUAL_YEAR = 2024
PUBLISHED_BY = 2025  # figures for later years are forecasts published in the first half of 2025

# bad class -> (what the platform must do, the quarantine reason if quarantined)
BAD_CLASSES: dict[str, tuple[str, str | None]] = {
    "malformed_json": ("quarantine", "invalid_json"),
    "wrong_type": ("quarantine", "wrong_type"),
    "missing_field": ("quarantine", "missing_field"),
    "unknown_enum": ("quarantine", "unknown_enum"),
    "out_of_range": ("quarantine", "out_of_range"),
    "future_timestamp": ("quarantine", "future_timestamp"),
    "duplicate_id": ("duplicate", None),
    "conflicting_id": ("quarantine", "event_id_conflict"),
    "unit_scale_error": ("land", None),  # valid on the wire; the scale_outlier check flags it
    "oversize": ("quarantine", "oversize"),
    "invalid_utf8": ("quarantine", "invalid_utf8"),
    "personal_data": ("quarantine", "personal_data_in_clear"),
}


@dataclass(frozen=True)
class Institution:
    entity_id: str
    institution_type: str
    tier: str
    level_2019: float


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes
    value: bytes
    event_id: str | None
    bad_class: str | None  # None for a good event

    @property
    def expected(self) -> str:
        return "land" if self.bad_class is None else BAD_CLASSES[self.bad_class][0]

    @property
    def expected_reason(self) -> str | None:
        return None if self.bad_class is None else BAD_CLASSES[self.bad_class][1]


def population(seed: int = 0) -> list[Institution]:
    rng = random.Random(f"population-{seed}")
    out = []
    for itype, tier, count, mean in POPULATION:
        for k in range(1, count + 1):
            level = mean * rng.lognormvariate(0, 0.35)
            out.append(Institution(f"syn.{itype}.{tier}_{k:03d}", itype, tier, round(level, 2)))
    return out


class SyntheticStream:
    """``n`` messages for one ``seed`` with ``bad_rate`` bad records."""

    def __init__(
        self, n: int, bad_rate: float = 0.0, seed: int = 0, catalog: SurveyCatalog | None = None
    ) -> None:
        if not 0 <= bad_rate <= 1:
            raise ValueError(f"bad rate {bad_rate} is not in [0, 1]")
        self.n, self.bad_rate, self.seed = n, bad_rate, seed
        self.institutions = population(seed)
        self.topics = topics_by_event_type()
        survey = (catalog or survey_catalog()).get("fintech-practice-2025")
        assert survey is not None
        self.survey = survey
        self.bad_names = tuple(BAD_CLASSES)

    def chunks(self) -> range:
        return range((self.n + CHUNK - 1) // CHUNK)

    def __iter__(self) -> Iterator[Message]:
        for chunk in self.chunks():
            yield from self.chunk(chunk)

    def chunk(self, index: int) -> Iterator[Message]:
        """Messages ``index * CHUNK`` up to the next chunk, the same in any process."""
        rng = random.Random(f"stream-{self.seed}-{index}")
        start = index * CHUNK
        recent: list[tuple[dict[str, Any], bytes]] = []
        for i in range(start, min(self.n, start + CHUNK)):
            event = self._event(rng, f"syn-{self.seed}-{i:09d}")
            if rng.random() < self.bad_rate:
                bad = self.bad_names[_below(rng, len(self.bad_names))]
                if bad in ("duplicate_id", "conflicting_id") and not recent:
                    bad = "wrong_type"
                yield self._bad(rng, bad, event, recent)
                continue
            value = _dumps(event)
            if len(recent) < 64:
                recent.append((event, value))
            else:
                recent[_below(rng, 64)] = (event, value)
            yield Message(
                self.topics[event["event_type"]], _key(event), value, event["event_id"], None
            )

    # ------------------------------------------------------------------ good events
    def _event(self, rng: random.Random, event_id: str) -> dict[str, Any]:
        inst = self.institutions[_below(rng, len(self.institutions))]
        roll, event_type = rng.random(), EVENT_MIX[-1][0]
        acc = 0.0
        for name, share in EVENT_MIX:
            acc += share
            if roll < acc:
                event_type = name
                break
        year = YEARS[_below(rng, len(YEARS))]
        event: dict[str, Any] = {
            "event_id": event_id,
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": f"{min(year + 1, PUBLISHED_BY)}-{1 + _below(rng, 6):02d}-"
            f"{1 + _below(rng, 28):02d}T09:00:00+08:00",
            "producer": "synthetic",
            "source": {
                "publisher": "finradar synthetic",
                "document": f"synthetic annual report {year}",
                "locator": f"p.{1 + _below(rng, 300)}",
                "provenance": "synthetic",
            },
            "subject": {
                "entity_id": inst.entity_id,
                "level": "institution",
                "institution_type": inst.institution_type,
                "tier": inst.tier,
            },
        }
        if event_type == "spend_disclosure":
            event["payload"] = self._spend(rng, inst, year, event["occurred_at"][:10])
        elif event_type == "deployment_milestone":
            event["payload"] = self._milestone(rng, year)
        elif event_type == "observation":
            event["payload"] = self._observation(rng, year, event["occurred_at"][:10])
        else:
            event["payload"] = self._survey(rng, event_id)
        return event

    def _spend(
        self, rng: random.Random, inst: Institution, year: int, vintage: str
    ) -> dict[str, Any]:
        total = inst.level_2019 * (1 + GROWTH) ** (year - 2019) * rng.uniform(0.9, 1.1)
        payload: dict[str, Any] = {
            "fiscal_period": str(year),
            "status": "actual" if year <= LAST_ACTUAL_YEAR else "forecast",
            "vintage": vintage,
            "scope": ("tech", "it", "fintech")[_below(rng, 3)],
            "spend_class": "total",
            "amount": round(total, 2),
            "currency": "CNY",
            "unit": "yi",
        }
        if rng.random() < 0.3:
            techs = codes("spend_technology")
            payload.update(
                spend_class="frontier",
                technology=techs[_below(rng, len(techs))],
                amount=round(total * rng.uniform(0.05, 0.3), 3),
            )
        else:
            payload["revenue_share"] = round(rng.uniform(0.01, 0.04), 4)
        return payload

    def _milestone(self, rng: random.Random, year: int) -> dict[str, Any]:
        pick = _picker(rng)
        payload = {
            "technology": pick(codes("deployment_technology")),
            "capability": pick(codes("capability")),
            "stage": pick(codes("stage")[:5]),
            "effective_date": f"{year}-{1 + _below(rng, 12):02d}-01",
            "date_precision": "month",
        }
        if rng.random() < 0.5:
            payload["sourcing"] = pick(codes("sourcing"))
        return payload

    def _observation(self, rng: random.Random, year: int, vintage: str) -> dict[str, Any]:
        measure, metric, unit, low, high, decimals = KPIS[_below(rng, len(KPIS))]
        value = round(rng.uniform(low, high), decimals)
        return {
            "measure": measure,
            "metric": metric,
            "fiscal_period": str(year),
            "status": "actual" if year <= LAST_ACTUAL_YEAR else "forecast",
            "vintage": vintage,
            "value": int(value) if decimals == 0 else value,
            "unit": unit,
            "presentation": "text",
        }

    def _survey(self, rng: random.Random, event_id: str) -> dict[str, Any]:
        questions = list(self.survey.questions.values())
        answers = []
        for q in rng.sample(questions, k=min(6, len(questions))):
            answer: dict[str, Any] = {"question_id": q.question_id, "kind": q.kind}
            options = sorted(q.options)
            if q.kind == "single":
                answer["options"] = [options[_below(rng, len(options))]]
            elif q.kind == "multi":
                answer["options"] = rng.sample(options, k=rng.randint(0, min(3, len(options))))
            elif q.kind == "score":
                answer["score"] = rng.randint(0, 4) / 4
            else:
                answer["stage"] = codes("stage")[_below(rng, 5)]
            answers.append(answer)
        return {
            "survey_id": self.survey.survey_id,
            "wave": self.survey.waves[0],
            "respondent_id": f"r-{event_id}",
            "answers": answers,
        }

    # ------------------------------------------------------------------ bad records
    def _bad(
        self,
        rng: random.Random,
        bad: str,
        event: dict[str, Any],
        recent: list[tuple[dict[str, Any], bytes]],
    ) -> Message:
        topic, key, event_id = self.topics[event["event_type"]], _key(event), event["event_id"]
        if bad == "malformed_json":
            value = _dumps(event)[: rng.randint(10, 60)]
            return Message(topic, key, value, event_id, bad)
        if bad == "invalid_utf8":
            value = _dumps(event).replace(b'"producer"', b'"producer\xff\xfe"', 1)
            return Message(topic, key, value, event_id, bad)
        if bad == "oversize":
            event["source"]["locator"] = "x" * (MAX_MESSAGE_BYTES + 1)
        elif bad == "wrong_type":
            event["schema_version"] = "1"
        elif bad == "missing_field":
            del event["producer"]
        elif bad == "unknown_enum":
            event["subject"]["level"] = "conglomerate"
        elif bad == "out_of_range":
            event["subject"]["entity_id"] = ""
        elif bad == "future_timestamp":
            event["occurred_at"] = "2099-01-01T00:00:00+08:00"
        elif bad == "duplicate_id":
            original, value = recent[_below(rng, len(recent))]
            return Message(
                self.topics[original["event_type"]],
                _key(original),
                value,
                original["event_id"],
                bad,
            )
        elif bad == "conflicting_id":
            original, _ = recent[_below(rng, len(recent))]
            event = json.loads(_dumps(original))
            event["source"]["locator"] = "restated without a new id"
            topic, key = self.topics[event["event_type"]], _key(event)
        elif bad == "unit_scale_error":
            inst = self.institutions[_below(rng, len(self.institutions))]
            year = YEARS[_below(rng, len(YEARS))]
            event["event_type"] = "spend_disclosure"
            event["subject"].update(
                entity_id=inst.entity_id, institution_type=inst.institution_type, tier=inst.tier
            )
            event["payload"] = self._spend(rng, inst, year, event["occurred_at"][:10])
            event["payload"]["amount"] = round(event["payload"]["amount"] * 10_000, 2)  # 万 as 亿
            topic, key = self.topics["spend_disclosure"], _key(event)
        elif bad == "personal_data":
            event["event_type"] = "survey_response"
            event["payload"] = self._survey(rng, event["event_id"])
            event["payload"]["respondent_id"] = f"{event['event_id'][-6:]}@bank.example.cn"
            topic = self.topics["survey_response"]
        return Message(topic, key, _dumps(event), event["event_id"], bad)


def _below(rng: random.Random, n: int) -> int:
    """A uniform integer in [0, n): ``randrange`` without its argument checks (hot path)."""
    return int(rng.random() * n)


def _picker(rng: random.Random):  # type: ignore[no-untyped-def]
    return lambda seq: seq[int(rng.random() * len(seq))]


def _dumps(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _key(event: dict[str, Any]) -> bytes:
    return str(event["subject"]["entity_id"]).encode("utf-8")
