"""Spend, deployment and observation events of the seed reports, from ``seed_figures/r00*_*.yaml``.

Each figure file holds one report's printed figures (see the row format in
``r000_iresearch_ai_finance_2022.yaml``): spend series become one ``spend_disclosure`` per
point, milestones one ``deployment_milestone`` each, case tables one milestone per non-zero
cell with its ``case_count``, and observation series one ``observation`` per point (contract
v1.2). Figures are kept exactly as printed, errors included.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from contracts.corpus.printed import load_printed
from contracts.registry import subject
from contracts.spec import contracts

FIGURES_DIR = Path(__file__).with_name("seed_figures")
PRODUCER = "seed-replay"
SPEND_POINT_FIELDS = (
    "fiscal_period",
    "status",
    "amount",
    "bound",
    "revenue_share",
    "reported_yoy",
    "tech_headcount",
    "tech_headcount_share",
    "stated_cagr",
    "stated_cagr_from",
)
MILESTONE_FIELDS = (
    "technology",
    "capability",
    "stage",
    "effective_date",
    "date_precision",
    "sourcing",
    "case_count",
    "product",
    "vendor",
    "xinchuang_layer",
    "kpis",
)


def report_files() -> list[Path]:
    """The figure files of the seed reports (the stage-count file is survey material)."""
    return sorted(p for p in FIGURES_DIR.glob("r00*_*.yaml") if "capability_stages" not in p.name)


def _envelope(
    report: dict[str, Any], event_id: str, event_type: str, entity_id: str, locator: str
) -> dict[str, Any]:
    published_on = str(report["published_on"])
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": f"{published_on}T00:00:00+08:00",
        "producer": PRODUCER,
        "source": {
            "publisher": report["publisher"],
            "document": report["document"],
            "locator": locator,
            "published_on": published_on,
        },
        "subject": subject(entity_id),
    }


def _spend_events(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    report = doc["report"]
    defaults = doc.get("defaults", {})
    for series in doc.get("spend") or []:
        for point in series["points"]:
            payload: dict[str, Any] = {
                "fiscal_period": str(point["fiscal_period"]),
                "status": point["status"],
                "vintage": str(report["published_on"]),
                "scope": series["scope"],
                "spend_class": series["spend_class"],
            }
            if series.get("technology"):
                payload["technology"] = series["technology"]
            if series.get("measure"):
                payload["measure"] = series["measure"]
            payload["amount"] = point["amount"]
            payload["currency"] = point.get(
                "currency", series.get("currency", defaults["currency"])
            )
            payload["unit"] = point.get("unit", series.get("unit", defaults["unit"]))
            for name in SPEND_POINT_FIELDS[3:]:
                if name in point:
                    payload[name] = point[name]
            event_id = f"seed-{report['id']}-{series['slug']}-{payload['fiscal_period']}"
            event = _envelope(
                report,
                event_id,
                "spend_disclosure",
                series["entity_id"],
                point.get("locator", series["locator"]),
            )
            event["payload"] = payload
            yield event


# every payload field of an observation but its vintage (the report's publication date)
OBSERVATION_FIELDS = tuple(
    f.name for f in contracts()["observation"].payload.fields if f.name != "vintage"
)


def observation_event_id(report_id: str, series: dict[str, Any], point: dict[str, Any]) -> str:
    """``seed-<report>-<slug>-<period or undated>-<metric>[-<tag>]``: a point's ``tag`` tells
    apart two points of one series, period and metric (a chart's and the text's)."""
    merged = {**series, **point}
    parts = [
        "seed",
        report_id,
        series["slug"],
        str(merged.get("fiscal_period") or "undated"),
        merged["metric"],
    ]
    if point.get("tag"):
        parts.append(str(point["tag"]))
    return "-".join(parts)


def _observation_events(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    report = doc["report"]
    for series in doc.get("observations") or []:
        for point in series["points"]:
            merged = {**series, **point}
            payload: dict[str, Any] = {"vintage": str(report["published_on"])}
            for name in OBSERVATION_FIELDS:
                value = merged.get(name)
                if value is None:
                    continue
                payload[name] = str(value) if name in ("fiscal_period", "span_from") else value
            event = _envelope(
                report,
                observation_event_id(str(report["id"]), series, point),
                "observation",
                merged["entity_id"],
                merged["locator"],
            )
            provenance = merged.get("provenance")
            if provenance:
                event["source"]["provenance"] = provenance
            event["payload"] = payload
            yield event


def _milestone(
    report: dict[str, Any], event_id: str, row: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    event = _envelope(report, event_id, "deployment_milestone", row["entity_id"], row["locator"])
    merged = {**row, **extra}
    event["payload"] = {
        name: (str(merged[name]) if name == "effective_date" else merged[name])
        for name in MILESTONE_FIELDS
        if merged.get(name) is not None
    }
    return event


def _milestone_events(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    report = doc["report"]
    for table in doc.get("case_tables") or []:
        for row in table["rows"]:
            for sourcing, count in zip(table["sourcing_columns"], row["counts"], strict=True):
                if count:
                    event_id = f"seed-{report['id']}-{table['slug']}-{row['capability']}-{sourcing}"
                    yield _milestone(
                        report,
                        event_id,
                        table,
                        {
                            "capability": row["capability"],
                            "sourcing": sourcing,
                            "case_count": count,
                        },
                    )
    for row in doc.get("milestones") or []:
        yield _milestone(report, f"seed-{report['id']}-{row['slug']}", row, {})


def spend_and_deployment_events() -> list[dict[str, Any]]:
    """Every seed ``spend_disclosure``, ``deployment_milestone`` and ``observation`` event,
    report by report."""
    events: list[dict[str, Any]] = []
    for path in report_files():
        # numbers keep their printed digits (0.080 is not 0.08): checks read precision from them
        doc = load_printed(path.read_text(encoding="utf-8"))
        events.extend(_spend_events(doc))
        events.extend(_milestone_events(doc))
        events.extend(_observation_events(doc))
    return events
