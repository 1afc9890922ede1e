"""The JSON Schema (draft 2020-12) of contract v1, derived from ``contracts.spec``.

The committed copy is ``contracts/generated/event-contract-v1.schema.json``; a test fails when
it drifts from the declarations. Rules that need the survey definitions or the clock are
not in the schema (see ``contracts.checks``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.spec import CONTRACT_REVISION, SCHEMA_VERSION, Field, contracts
from contracts.taxonomy import codes

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "generated" / "event-contract-v1.schema.json"
_JSON_TYPES = {
    "string": "string",
    "date": "string",
    "timestamp": "string",
    "integer": "integer",
    "number": "number",
    "object": "object",
    "array": "array",
}


def field_schema(f: Field) -> dict[str, Any]:
    s: dict[str, Any] = {"type": _JSON_TYPES[f.kind]}
    if f.doc:
        s["description"] = f.doc
    if f.kind == "date":
        s["format"] = "date"
    if f.kind == "timestamp":
        s["format"] = "date-time"
    if f.const is not None:
        s["const"] = f.const
    elif f.enum is not None:
        s["enum"] = list(codes(f.enum))
    if f.pattern is not None:
        s["pattern"] = f.pattern
    for key, value in (
        ("minLength", f.min_length),
        ("maxLength", f.max_length),
        ("minimum", f.minimum),
        ("exclusiveMinimum", f.exclusive_minimum),
        ("maximum", f.maximum),
        ("minItems", f.min_items),
        ("default", f.default),
    ):
        if value is not None:
            s[key] = value
    if f.kind == "object":
        s["properties"] = {c.name: field_schema(c) for c in f.fields}
        required = [c.name for c in f.fields if c.required]
        if required:
            s["required"] = required
    if f.kind == "array" and f.items is not None:
        s["items"] = field_schema(f.items)
    return s


def json_schema() -> dict[str, Any]:
    """One schema for any v1 event: ``oneOf`` the three event types."""
    defs = {}
    for c in contracts().values():
        s = field_schema(c.root)
        s["title"] = c.event_type
        s["description"] = f"{c.doc}; topic {c.topic}"
        defs[c.event_type] = s
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://finradar.dev/schemas/event-contract-v1.schema.json",
        "title": f"finradar event contract v{CONTRACT_REVISION} (schema_version {SCHEMA_VERSION})",
        "description": "Generated from contracts/spec.py (python -m contracts.export).",
        "oneOf": [{"$ref": f"#/$defs/{name}"} for name in defs],
        "$defs": defs,
    }


def render() -> str:
    return json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n"
