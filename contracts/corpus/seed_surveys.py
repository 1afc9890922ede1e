"""Respondent-level ``survey_response`` events behind report R002's survey figures.

Report R002 (iResearch, 2025) publishes aggregates of a practitioner survey (N = 122) and
capability-stage charts built from the same respondents' self-assessments. This module
rebuilds 122 respondents whose answers aggregate back to every published figure:

* ``fintech-practice-2025`` (seed facts §4): for every option with a printed share the
  number of respondents selecting it is the integer n whose n / base rounds to the printed
  figure (base = respondents who answered the question); importance scores are answered on
  a five-point scale (0, 0.25, 0.5, 0.75, 1) whose mean rounds to the printed percentage.
* ``capability-maturity-2025`` (seed facts §3.1): every respondent rates each capability of
  its institution's segment; the stage counts per capability come from
  ``seed_figures/r002_capability_stages.yaml``.

Assignment is constructive and deterministic: no random numbers. Who selects what follows
affine permutations of the respondents keyed by CRC-32 of the question id; in the maturity
survey an institution's stages follow a fixed latent "digital strength" order with a small
capability-specific jitter, so strong institutions are ahead on most capabilities.

Only the standard library and PyYAML are used, so the module runs anywhere the contracts do.
"""

from __future__ import annotations

import math
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from contracts.yaml_files import read_yaml

CONTRACTS_DIR = Path(__file__).resolve().parents[1]
SURVEYS_DIR = CONTRACTS_DIR / "surveys"
STAGE_FIGURES = Path(__file__).resolve().parent / "seed_figures" / "r002_capability_stages.yaml"
PANEL_FILE = CONTRACTS_DIR / "reference" / "entities" / "survey_panel_2025.yaml"

PRACTICE_SURVEY = "fintech-practice-2025"
MATURITY_SURVEY = "capability-maturity-2025"
SURVEY_SHORT = {PRACTICE_SURVEY: "practice", MATURITY_SURVEY: "maturity"}
SOURCE_LOCATOR = {PRACTICE_SURVEY: "§4", MATURITY_SURVEY: "§3.1"}
WAVE = "2025"
N_RESPONDENTS = 122
PRODUCER = "survey-tool"
SCORE_STEPS = 4  # five-point importance scale: 0, 1/4, 2/4, 3/4, 1

SEGMENT_ORDER = ("bank", "insurance", "securities")
SEGMENT_CODE = {"bank": "b", "insurance": "i", "securities": "s"}
SEGMENT_NAME_EN = {"bank": "bank", "insurance": "insurer", "securities": "securities firm"}
SEGMENT_NAME_ZH = {"bank": "银行", "insurance": "保险公司", "securities": "证券公司"}


# --------------------------------------------------------------------------- loading
def load_survey(survey_id: str) -> dict[str, Any]:
    """The survey definition ``contracts/surveys/<survey_id>.yaml``."""
    return read_yaml(SURVEYS_DIR / f"{survey_id}.yaml")


def load_stage_figures() -> dict[str, Any]:
    """Target stage counts per (segment, capability) for the maturity survey."""
    return read_yaml(STAGE_FIGURES)


# --------------------------------------------------------------------------- panel
def panel_entities() -> list[dict[str, Any]]:
    """The pseudonymous panel institutions, in respondent order (r001 first).

    One institution per respondent; the split by institution type is the ``panel`` block of
    the stage figures (the report gives none).
    """
    split = load_stage_figures()["panel"]
    entities = []
    for segment in SEGMENT_ORDER:
        code = SEGMENT_CODE[segment]
        for k in range(1, int(split[segment]) + 1):
            entities.append(
                {
                    "entity_id": f"cn.{segment}.panel2025_{code}{k:03d}",
                    "level": "institution",
                    "institution_type": segment,
                    "name_en": f"Survey panel {SEGMENT_NAME_EN[segment]} {k:03d}",
                    "name_zh": f"调研样本{SEGMENT_NAME_ZH[segment]}{k:03d}",
                }
            )
    if len(entities) != N_RESPONDENTS:
        raise ValueError(f"panel split sums to {len(entities)}, not {N_RESPONDENTS}")
    return entities


def respondent_id(index: int) -> str:
    return f"r{index + 1:03d}"


# --------------------------------------------------------------------------- arithmetic
def printed_share(x: Fraction, decimals: int) -> Fraction:
    """The share ``x`` as the report prints it with ``decimals`` percent decimals.

    The report computes percentages to two decimals (as its §4.3 and §4.9 charts print them)
    and rounds those again, half up, for charts with fewer decimals: 104/122 = 85.2459% ->
    85.25% -> 85.3% and 38/122 = 31.1475% -> 31.15% -> 31.2%. Every printed figure of §4
    follows this rule; for all but those two it agrees with plain rounding.
    """
    hundredths = math.floor(x * 10**4 + Fraction(1, 2))  # percent to two decimals
    if decimals >= 2:
        units = math.floor(x * 10 ** (decimals + 2) + Fraction(1, 2))
    else:
        units = math.floor(Fraction(hundredths, 10 ** (2 - decimals)) + Fraction(1, 2))
    return Fraction(units, 10 ** (decimals + 2))


def prints_as(x: Fraction, share: float, decimals: int) -> bool:
    return printed_share(x, decimals) == Fraction(str(share))


def implied_count(share: float, decimals: int, base: int) -> int:
    """The count n (0..base) with n / base printing as ``share``; the one nearest if several."""
    target = Fraction(str(share)) * base
    fits = [n for n in range(base + 1) if prints_as(Fraction(n, base), share, decimals)]
    if not fits:
        raise ValueError(f"no count out of {base} prints as {share} ({decimals} decimals)")
    return min(fits, key=lambda n: (abs(n - target), n))


def _largest_remainder(weights: list[float], total: int) -> list[int]:
    """Integers proportional to ``weights`` summing to ``total`` (ties to the earlier one)."""
    scale = sum(weights)
    raw = [w * total / scale for w in weights]
    counts = [math.floor(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _affine_order(n: int, key: str) -> list[int]:
    """A fixed permutation of range(n): i -> (a * i + b) mod n with gcd(a, n) = 1."""
    if n <= 1:
        return list(range(n))
    h = zlib.crc32(key.encode("utf-8"))
    a = 2 + h % max(n - 2, 1)
    while math.gcd(a, n) != 1:
        a += 1
    b = (h >> 8) % n
    return [(a * i + b) % n for i in range(n)]


def _jitter(key: str) -> float:
    """A fixed pseudo-uniform number in [0, 1) derived from ``key``."""
    return (zlib.crc32(key.encode("utf-8")) % 10007) / 10007


# --------------------------------------------------------------------------- practice survey
def option_counts(question: dict[str, Any], base: int) -> dict[str, int]:
    """Respondents selecting each option, out of ``base`` who answered the question."""
    decimals = int(question.get("published_decimals", 1))
    counts: dict[str, int | None] = {}
    approx: list[tuple[str, float]] = []
    for option in question["options"]:
        oid = option["option_id"]
        if "published_share" in option:
            counts[oid] = implied_count(option["published_share"], decimals, base)
        elif "published_share_of_all" in option:
            counts[oid] = implied_count(option["published_share_of_all"], decimals, N_RESPONDENTS)
        elif "published_share_approx" in option:
            approx.append((oid, float(option["published_share_approx"])))
            counts[oid] = None
        else:
            counts[oid] = None
    fixed = sum(c for c in counts.values() if c is not None)
    if approx:
        share_left = base - fixed if question["kind"] == "single" else None
        if share_left is None:
            for oid, p in approx:
                counts[oid] = round(p * base)
        else:
            for (oid, _), n in zip(
                approx, _largest_remainder([p for _, p in approx], share_left), strict=True
            ):
                counts[oid] = n
    open_options = [oid for oid, c in counts.items() if c is None]
    if question["kind"] == "single":
        if len(open_options) > 1:
            raise ValueError(f"{question['question_id']}: more than one option without a figure")
        if open_options:
            counts[open_options[0]] = base - sum(c for c in counts.values() if c is not None)
        if sum(counts.values()) != base:  # type: ignore[arg-type]
            raise ValueError(f"{question['question_id']}: single-choice counts do not sum to base")
    else:
        for oid in open_options:
            counts[oid] = 0
    return {oid: int(c) for oid, c in counts.items()}  # type: ignore[arg-type]


def score_levels(question: dict[str, Any], n: int) -> list[int]:
    """Counts of respondents at scale points 0..SCORE_STEPS, mean printing as published."""
    mean = float(question["published_mean"])
    decimals = int(question.get("published_decimals", 0))
    # Total scale points: the nearest to mean * steps * n whose mean prints as published.
    target = Fraction(str(mean)) * SCORE_STEPS * n
    points = min(
        (
            t
            for t in range(SCORE_STEPS * n + 1)
            if prints_as(Fraction(t, SCORE_STEPS * n), mean, decimals)
        ),
        key=lambda t: (abs(t - target), t),
    )
    # Shape: binomial(steps, mean) apportioned to n respondents, then nudged to the total.
    pmf = [
        math.comb(SCORE_STEPS, k) * mean**k * (1 - mean) ** (SCORE_STEPS - k)
        for k in range(SCORE_STEPS + 1)
    ]
    levels = _largest_remainder(pmf, n)
    current = sum(k * c for k, c in enumerate(levels))
    while current != points:
        step = 1 if current < points else -1
        movable = [
            k for k in range(SCORE_STEPS + 1) if levels[k] > 0 and 0 <= k + step <= SCORE_STEPS
        ]
        k = max(movable, key=lambda j: (levels[j], -j))
        levels[k] -= 1
        levels[k + step] += 1
        current += step
    return levels


def _practice_answers(survey: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Answers of the 122 respondents, in question order."""
    answers: list[list[dict[str, Any]]] = [[] for _ in range(N_RESPONDENTS)]
    chosen: dict[tuple[int, str], list[str]] = {}
    for question in survey["questions"]:
        qid, kind = question["question_id"], question["kind"]
        cond = question.get("asked_if")
        if cond:
            who = [
                r
                for r in range(N_RESPONDENTS)
                if cond["option_id"] in chosen.get((r, cond["question_id"]), [])
            ]
        else:
            who = list(range(N_RESPONDENTS))
        order = [who[i] for i in _affine_order(len(who), qid)]
        base = len(who)
        if kind == "score":
            position = 0
            for level, count in enumerate(score_levels(question, base)):
                for r in order[position : position + count]:
                    answers[r].append(
                        {"question_id": qid, "kind": kind, "score": level / SCORE_STEPS}
                    )
                position += count
            continue
        counts = option_counts(question, base)
        selected: dict[int, list[str]] = {r: [] for r in who}
        option_ids = [o["option_id"] for o in question["options"]]
        if kind == "single":
            position = 0
            for oid in option_ids:
                for r in order[position : position + counts[oid]]:
                    selected[r].append(oid)
                position += counts[oid]
        elif kind == "multi":
            for j, oid in enumerate(option_ids):
                offset = (j * base) // len(option_ids)
                for t in range(counts[oid]):
                    selected[order[(offset + t) % base]].append(oid)
        else:
            raise ValueError(f"{qid}: unsupported kind {kind!r} in the practice survey")
        for r in who:
            picked = [oid for oid in option_ids if oid in selected[r]]
            chosen[(r, qid)] = picked
            answers[r].append({"question_id": qid, "kind": kind, "options": picked})
    return answers


# --------------------------------------------------------------------------- maturity survey
def _maturity_answers(
    survey: dict[str, Any], panel: list[dict[str, Any]]
) -> list[list[dict[str, Any]]]:
    """Stage answers: every respondent rates each capability question of its segment."""
    figures = load_stage_figures()
    stage_order = figures["stage_order"]
    answers: list[list[dict[str, Any]]] = [[] for _ in range(N_RESPONDENTS)]
    stage_of: dict[tuple[str, str], dict[int, str]] = {}
    for segment, block in figures["segments"].items():
        members = [r for r, e in enumerate(panel) if e["institution_type"] == segment]
        n = len(members)
        # Latent digital strength: rank 0 is the weakest institution of the segment.
        rank = {members[i]: pos for pos, i in enumerate(_affine_order(n, f"strength:{segment}"))}
        spread = 0.5 * n
        for cap in block["capabilities"]:
            counts = [int(cap["counts"].get(s, 0)) for s in stage_order]
            if sum(counts) != n:
                raise ValueError(f"{segment}/{cap['capability']}: counts sum to {sum(counts)}")
            key = {
                r: rank[r] + spread * _jitter(f"{segment}:{cap['capability']}:{r}") for r in members
            }
            ranked = sorted(members, key=lambda r: (key[r], r))
            assigned: dict[int, str] = {}
            position = 0
            for stage, count in zip(stage_order, counts, strict=True):
                for r in ranked[position : position + count]:
                    assigned[r] = stage
                position += count
            stage_of[(segment, cap["capability"])] = assigned
    for question in survey["questions"]:
        if question["kind"] != "stage":
            raise ValueError(f"{question['question_id']}: maturity questions are stage questions")
        for segment in question.get("institution_types", SEGMENT_ORDER):
            assigned = stage_of[(segment, question["capability"])]
            for r, stage in assigned.items():
                answers[r].append(
                    {"question_id": question["question_id"], "kind": "stage", "stage": stage}
                )
    return answers


# --------------------------------------------------------------------------- events
def _event(
    survey: dict[str, Any],
    r: int,
    entity: dict[str, Any],
    department: str,
    answers: list[dict[str, Any]],
) -> dict[str, Any]:
    survey_id = survey["survey_id"]
    published_on = str(survey["published_on"])
    rid = respondent_id(r)
    return {
        "event_id": f"seed-002-survey-{SURVEY_SHORT[survey_id]}-{rid}",
        "event_type": "survey_response",
        "schema_version": 1,
        "occurred_at": f"{published_on}T00:00:00+08:00",
        "producer": PRODUCER,
        "source": {
            "publisher": survey["publisher"],
            "document": survey["document"],
            "locator": SOURCE_LOCATOR[survey_id],
            "published_on": published_on,
            # the report prints aggregates only: these answers are rebuilt to match them
            "provenance": "constructed",
        },
        "subject": {
            "entity_id": entity["entity_id"],
            "level": "institution",
            "institution_type": entity["institution_type"],
            "name_zh": entity["name_zh"],
            "name_en": entity["name_en"],
        },
        "payload": {
            "survey_id": survey_id,
            "wave": WAVE,
            "respondent_id": rid,
            "department": department,
            "answers": answers,
        },
    }


def survey_events() -> list[dict[str, Any]]:
    """All seed ``survey_response`` events: 122 practice responses, then 122 maturity ones."""
    practice = load_survey(PRACTICE_SURVEY)
    maturity = load_survey(MATURITY_SURVEY)
    panel = panel_entities()
    departments = practice["sample"]["departments"]
    department = [departments[r % len(departments)] for r in range(N_RESPONDENTS)]
    events = []
    for survey, answers in (
        (practice, _practice_answers(practice)),
        (maturity, _maturity_answers(maturity, panel)),
    ):
        for r in range(N_RESPONDENTS):
            events.append(_event(survey, r, panel[r], department[r], answers[r]))
    return events


def panel_yaml() -> str:
    """Text of ``reference/entities/survey_panel_2025.yaml`` (regenerate with ``--write-panel``)."""
    header = (
        "# Pseudonymous institutions of the R002 survey panel (N = 122, one institution per\n"
        "# respondent). Split by type is ours (the report gives none): see\n"
        "# contracts/corpus/seed_figures/r002_capability_stages.yaml. Generated by\n"
        "# `python -m contracts.corpus.seed_surveys --write-panel`; do not edit by hand.\n"
    )
    body = yaml.safe_dump(
        {"entities": panel_entities()}, allow_unicode=True, sort_keys=False, width=100
    )
    return header + body


if __name__ == "__main__":  # pragma: no cover - maintenance helper
    import sys

    if "--write-panel" in sys.argv:
        PANEL_FILE.parent.mkdir(parents=True, exist_ok=True)
        PANEL_FILE.write_text(panel_yaml(), encoding="utf-8")
        print(f"wrote {PANEL_FILE}")
    else:
        import json

        for ev in survey_events():
            print(json.dumps(ev, ensure_ascii=False))
