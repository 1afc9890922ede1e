"""The contract document (Markdown), derived from ``contracts.spec`` and ``taxonomies.yaml``.

The committed copy is ``contracts/generated/event-contract.md``: per event type its topic, its
landed table and every field with type, whether it is required, its enum, pattern, bounds and
meaning; then every taxonomy with its codes and labels. A test fails when it drifts.
"""

from __future__ import annotations

from pathlib import Path

from contracts.spec import CONTRACT_REVISION, SCHEMA_VERSION, Field, contracts
from contracts.taxonomy import taxonomies

DOCUMENT_FILE = Path(__file__).resolve().parents[1] / "generated" / "event-contract.md"


def _constraints(f: Field) -> str:
    parts = []
    if f.enum:
        parts.append(f"enum `{f.enum}`")
    if f.const is not None:
        parts.append(f"= `{f.const}`")
    if f.pattern:
        parts.append(f"pattern `{f.pattern}`")
    for name, bound in (
        ("min length", f.min_length),
        ("max length", f.max_length),
        ("≥", f.minimum),
        (">", f.exclusive_minimum),
        ("≤", f.maximum),
        ("min items", f.min_items),
    ):
        if bound is not None:
            parts.append(f"{name} {bound}")
    if f.default is not None:
        parts.append(f"default `{f.default}`")
    if f.personal:
        parts.append("personal data: hashed before landing")
    return "; ".join(parts)


def _rows(f: Field, prefix: str) -> list[str]:
    path = f"{prefix}{f.name}"
    kind = f.kind if f.items is None else f"array of {f.items.kind}"
    doc = f.doc.replace("|", "\\|")
    constraints = _constraints(f).replace("|", "\\|")
    rows = [f"| `{path}` | {kind} | {'yes' if f.required else ''} | {constraints} | {doc} |"]
    children = f.fields or (f.items.fields if f.items is not None else ())
    for child in children:
        rows += _rows(child, f"{path}{'[]' if f.items is not None else ''}.")
    return rows


def render() -> str:
    """The whole document."""
    lines = [
        f"# Event contract v{SCHEMA_VERSION}, revision {CONTRACT_REVISION}",
        "",
        "Generated from `contracts/spec.py` and `contracts/taxonomies.yaml` by "
        "`python -m contracts.export`; do not edit. A minor revision only adds optional fields "
        "or event types: every event stays `schema_version` "
        f"{SCHEMA_VERSION} on the wire.",
        "",
    ]
    for c in contracts().values():
        lines += [
            f"## `{c.event_type}`",
            "",
            f"{c.doc[0].upper()}{c.doc[1:].rstrip('.')}. "
            f"Topic `{c.topic}`, landed in `raw.{c.table}`"
            + "".join(f" (`{k}` also in `raw.{t}`)" for k, t in c.child_tables.items())
            + ".",
            "",
            "| field | type | required | constraints | meaning |",
            "|---|---|---|---|---|",
        ]
        for f in c.root.fields:
            lines += _rows(f, "")
        lines.append("")
    lines += ["## Taxonomies", ""]
    for t in taxonomies().values():
        terms = ", ".join(f"`{term.code}` ({term.zh} / {term.en})" for term in t.terms)
        lines += [f"- **{t.name}**: {terms}"]
    return "\n".join(lines) + "\n"
