"""Readable names for the report: entities, taxonomy codes and panels, in place of ids.

The warehouse carries every name (``marts.dim_entity``, ``reference.taxonomy_terms``,
``reference.survey_*``); these helpers look them up once per page so the visible text never
shows an entity id or a raw code.
"""

from __future__ import annotations

import re
from functools import cache

import duckdb

from contracts.survey_catalog import SurveyCatalog

# an entity id as the registry and the synthetic stream spell them (cn.segment.banking,
# syn.bank.rural_042, us.market.robo_advice)
ENTITY_ID = re.compile(r"\b[a-z][a-z_]*\.[a-z][a-z_]*\.[a-z0-9_]+\b")


def entity_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """English name of every entity of ``marts.dim_entity`` by id (one entry per entity)."""
    return dict(
        con.execute(
            "select entity_id, name_en from marts.dim_entity where name_en is not null"
        ).fetchall()
    )


def labels(con: duckdb.DuckDBPyConnection, taxonomy: str) -> dict[str, str]:
    """English label of every code of one taxonomy of ``reference.taxonomy_terms``."""
    return dict(
        con.execute(
            "select code, label_en from reference.taxonomy_terms where taxonomy = ?", [taxonomy]
        ).fetchall()
    )


def with_names(text: str, names: dict[str, str]) -> str:
    """``text`` with every entity id it mentions replaced by the entity's name (an id the
    warehouse has no name for is left as it is)."""
    return ENTITY_ID.sub(lambda m: names.get(m.group(0), m.group(0)), text)


@cache
def _survey_titles() -> dict[str, str]:
    return {
        s.survey_id: str(s.definition.get("title_en") or s.survey_id) for s in SurveyCatalog.load()
    }


def panel_name(panel: str) -> str:
    """A stage-rating panel in words: a survey's title and wave, or the milestones panel."""
    if panel == "milestones":
        return "Deployment milestones (every source)"
    survey_id, _, wave = panel.partition("/")
    title = _survey_titles().get(survey_id, survey_id)
    return f"{title}, wave {wave}" if wave and wave not in title else title
