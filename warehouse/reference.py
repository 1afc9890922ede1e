"""``reference.*``: the contract's reference data as warehouse tables, derived from ``contracts/``.

The models join events to these: stage ordinals and labels, the entity registry (with the
synthetic stream's institutions and their generated names) and group members, survey
questions (kind, the capability a stage question rates) and options with the figures the
reports published. They are rebuilt by ``finradar refresh`` whenever ``contracts/`` changes,
so the YAML stays the one source of truth.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pyarrow as pa

from contracts.registry import entities
from contracts.survey_catalog import SurveyCatalog
from contracts.synthetic_entities import synthetic_entities
from contracts.taxonomy import taxonomies


def taxonomy_terms() -> pa.Table:
    """One row per taxonomy × code: labels, and the stage ordinal or unit scale if any."""
    rows = [
        {
            "taxonomy": name,
            "code": t.code,
            "position": i,
            "label_zh": t.zh,
            "label_en": t.en,
            "ordinal": t.extra.get("ordinal"),
            "scale": t.extra.get("scale"),
        }
        for name, tax in taxonomies().items()
        for i, t in enumerate(tax.terms, start=1)
    ]
    return pa.Table.from_pylist(
        rows,
        pa.schema(
            [
                ("taxonomy", pa.string()),
                ("code", pa.string()),
                ("position", pa.int32()),
                ("label_zh", pa.string()),
                ("label_en", pa.string()),
                ("ordinal", pa.int32()),
                ("scale", pa.float64()),
            ]
        ),
    )


def registry_entities() -> pa.Table:
    """One row per registered entity (``contracts/reference/entities``), then one per
    institution of the synthetic stream with its generated names (``is_synthetic``)."""
    fields = ("entity_id", "level", "institution_type", "tier", "name_zh", "name_en")
    rows = [{**{f: e.get(f) for f in fields}, "is_synthetic": False} for e in entities().values()]
    rows += [{**e, "is_synthetic": True} for e in synthetic_entities()]
    return pa.Table.from_pylist(
        rows, pa.schema([*((f, pa.string()) for f in fields), ("is_synthetic", pa.bool_())])
    )


def group_members() -> pa.Table:
    """One row per group × member the registry declares."""
    rows = [
        {"group_id": e["entity_id"], "member_id": m}
        for e in entities().values()
        for m in e.get("members") or []
    ]
    return pa.Table.from_pylist(
        rows, pa.schema([("group_id", pa.string()), ("member_id", pa.string())])
    )


def survey_questions() -> pa.Table:
    """One row per survey × question: kind, rated capability, and what the report printed."""
    rows = []
    for survey in SurveyCatalog.load():
        for position, q in enumerate(survey.questions.values(), start=1):
            d = q.definition
            rows.append(
                {
                    "survey_id": survey.survey_id,
                    "question_id": q.question_id,
                    "position": position,
                    "kind": q.kind,
                    "capability": q.capability,
                    "institution_types": d.get("institution_types"),
                    "text_zh": d.get("text_zh"),
                    "text_en": d.get("text_en"),
                    "published_mean": d.get("published_mean"),
                    "published_decimals": d.get("published_decimals"),
                    "published_cluster": d.get("published_cluster"),
                    # the printed sample size, for a question put to the whole sample
                    "published_base": None
                    if d.get("asked_if")
                    else (survey.definition.get("sample") or {}).get("respondents"),
                }
            )
    return pa.Table.from_pylist(
        rows,
        pa.schema(
            [
                ("survey_id", pa.string()),
                ("question_id", pa.string()),
                ("position", pa.int32()),
                ("kind", pa.string()),
                ("capability", pa.string()),
                ("institution_types", pa.list_(pa.string())),
                ("text_zh", pa.string()),
                ("text_en", pa.string()),
                ("published_mean", pa.float64()),
                ("published_decimals", pa.int32()),
                ("published_cluster", pa.string()),
                ("published_base", pa.int64()),
            ]
        ),
    )


def survey_options() -> pa.Table:
    """One row per survey × question × option, with the share the report printed."""
    rows = []
    for survey in SurveyCatalog.load():
        for q in survey.questions.values():
            for position, o in enumerate(q.definition.get("options") or [], start=1):
                rows.append(
                    {
                        "survey_id": survey.survey_id,
                        "question_id": q.question_id,
                        "option_id": str(o["option_id"]),
                        "position": position,
                        "label_zh": o.get("label_zh"),
                        "label_en": o.get("label_en"),
                        "published_share": o.get("published_share"),
                        "published_share_of_all": o.get("published_share_of_all"),
                        "published_share_approx": o.get("published_share_approx"),
                    }
                )
    return pa.Table.from_pylist(
        rows,
        pa.schema(
            [
                ("survey_id", pa.string()),
                ("question_id", pa.string()),
                ("option_id", pa.string()),
                ("position", pa.int32()),
                ("label_zh", pa.string()),
                ("label_en", pa.string()),
                ("published_share", pa.float64()),
                ("published_share_of_all", pa.float64()),
                ("published_share_approx", pa.float64()),
            ]
        ),
    )


REFERENCE_TABLES: dict[str, Callable[[], pa.Table]] = {
    "reference.taxonomy_terms": taxonomy_terms,
    "reference.entities": registry_entities,
    "reference.group_members": group_members,
    "reference.survey_questions": survey_questions,
    "reference.survey_options": survey_options,
}

GRAINS = {
    "reference.taxonomy_terms": "one row per taxonomy × code of contracts/taxonomies.yaml",
    "reference.entities": "one row per entity of the registry (contracts/reference/entities), "
    "and per institution of the synthetic stream (contracts/synthetic_entities.py)",
    "reference.group_members": "one row per group × member declared in the registry",
    "reference.survey_questions": "one row per survey × question (contracts/surveys)",
    "reference.survey_options": "one row per survey × question × option (contracts/surveys)",
}


def fingerprint(table: pa.Table) -> str:
    """SHA-256 of a reference table's schema and rows."""
    digest = hashlib.sha256(str(table.schema).encode())
    digest.update(json.dumps(table.to_pylist(), sort_keys=True, default=str).encode())
    return digest.hexdigest()
