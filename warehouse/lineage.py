"""The models page: every relation the models read or define, its columns, its tests and a
lineage graph, as one static HTML file (inline SVG and CSS, no script, nothing fetched).

``python -m warehouse.lineage [PATH]`` writes it (default ``var/reports/models.html``). The
relations are the models (``warehouse/models``), the tables they read (``raw.*``,
``reference.*``, ``ops.*``, ``dq.*``) and ``dq.findings``, which the reconciliation checks
(``warehouse/checks``) fill. Columns and types come from a warehouse refreshed from scratch
in a temporary folder (the schema, not the data); meanings from the model headers (a column
a model passes through means what it meant in the nearest model upstream); grains from the
headers and the table definitions (``warehouse/schema.py``, ``warehouse/reference.py``).
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from html import escape
from pathlib import Path

from finradar.settings import load_settings
from warehouse.dictionary import columns_of_a_fresh_warehouse
from warehouse.model_files import Model, checks, models
from warehouse.reference import GRAINS as REFERENCE_GRAINS
from warehouse.schema import GRAINS as TABLE_GRAINS

FINDINGS = "dq.findings"
BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 240, 24, 60, 10, 10
LAYER_COLOURS = {
    "raw": "#e8eef7",
    "reference": "#eef5e6",
    "ops": "#f2f2f2",
    "staging": "#fff4dc",
    "marts": "#fde8e4",
    "dq": "#efe6f7",
}


@dataclass(frozen=True)
class Graph:
    """Relations (by name) and edges (source → reader), each relation in a layer: its
    longest distance from a relation that reads nothing."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    depth: dict[str, int]


def graph(all_models: tuple[Model, ...] | None = None) -> Graph:
    """The lineage of the models and of ``dq.findings`` (what the checks read)."""
    all_models = models() if all_models is None else all_models
    reads = {m.relation: m.depends_on for m in all_models}
    reads[FINDINGS] = tuple(sorted({d for c in checks() for d in c.depends_on} - {FINDINGS}))
    nodes = sorted({*reads, *(d for ds in reads.values() for d in ds)})
    edges = tuple(sorted((d, r) for r, ds in reads.items() for d in ds))
    depth: dict[str, int] = {}

    def level(relation: str) -> int:
        if relation not in depth:
            depth[relation] = 1 + max((level(d) for d in reads.get(relation, ())), default=-1)
        return depth[relation]

    for relation in nodes:
        level(relation)
    return Graph(tuple(nodes), edges, depth)


def svg(g: Graph) -> str:
    """A layered drawing: one column per depth, a box per relation linking to its section,
    a curve per edge."""
    columns: dict[int, list[str]] = {}
    for relation in g.nodes:
        columns.setdefault(g.depth[relation], []).append(relation)
    at: dict[str, tuple[int, int]] = {}
    for d, relations in columns.items():
        for i, relation in enumerate(sorted(relations, key=lambda r: (r.split(".")[0], r))):
            at[relation] = (PAD + d * (BOX_W + GAP_X), PAD + i * (BOX_H + GAP_Y))
    width = PAD * 2 + len(columns) * (BOX_W + GAP_X) - GAP_X
    height = PAD * 2 + max(len(rs) for rs in columns.values()) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="lineage graph">'
    ]
    for source, reader in g.edges:
        (x1, y1), (x2, y2) = at[source], at[reader]
        x1, y1, y2 = x1 + BOX_W, y1 + BOX_H // 2, y2 + BOX_H // 2
        mid = (x1 + x2) // 2
        parts.append(
            f'<path class="edge" data-edge="{escape(source)} {escape(reader)}" '
            f'd="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"/>'
        )
    for relation, (x, y) in at.items():
        colour = LAYER_COLOURS.get(relation.split(".")[0], "#fff")
        parts.append(
            f'<a href="#{escape(relation)}"><rect x="{x}" y="{y}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="4" fill="{colour}"/><text x="{x + 8}" y="{y + 16}">'
            f"{escape(relation)}</text></a>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def render(columns: dict[str, list[tuple[str, str]]]) -> str:
    """The page, given every relation's columns and types."""
    all_models = models()
    by_relation = {m.relation: m for m in all_models}
    g = graph(all_models)
    readers: dict[str, list[str]] = {}
    for source, reader in g.edges:
        readers.setdefault(source, []).append(reader)
    sections = [
        _section(
            r,
            by_relation.get(r),
            columns.get(r, []),
            _inherited(r, g, by_relation),
            readers.get(r, []),
            g,
        )
        for r in g.nodes
    ]
    index = "".join(f'<li><a href="#{escape(r)}">{escape(r)}</a></li>' for r in g.nodes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>finradar models and lineage</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: .4em 0 1em; }}
td, th {{ border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }}
code {{ background: #f5f5f5; padding: 0 3px; }}
svg text {{ font: 12px ui-monospace, monospace; }}
svg .edge {{ fill: none; stroke: #8a94a6; stroke-width: 1; }}
svg rect {{ stroke: #667; }}
.graph {{ overflow-x: auto; border: 1px solid #ddd; padding: 4px; }}
ul.index {{ columns: 4; }}
section {{ border-top: 1px solid #ccc; margin-top: 1.2em; }}
</style></head><body>
<h1>finradar models and lineage</h1>
<p>Generated by <code>python -m warehouse.lineage</code> from <code>warehouse/models</code>,
<code>warehouse/checks</code> and the table definitions. {len(all_models)} models,
{len(g.nodes)} relations, {len(g.edges)} edges. A refresh builds every model and runs its
tests (grain key unique, not-null columns, references to <code>reference.*</code>) in one
DuckLake transaction: a failing test fails the refresh and commits nothing.</p>
<h2>Lineage</h2><p>Left to right: what a relation reads is to its left.</p>
<div class="graph">{svg(g)}</div>
<h2>Relations</h2><ul class="index">{index}</ul>
{"".join(sections)}
</body></html>
"""


def _section(
    relation: str,
    model: Model | None,
    cols: list[tuple[str, str]],
    inherited: dict[str, str],
    readers: list[str],
    g: Graph,
) -> str:
    reads = [s for s, r in g.edges if r == relation]
    if model:
        header = model.header
        kind, about, grain, docs = (
            model.materialized,
            header.description,
            header.grain,
            header.columns,
        )
        tests = [f"unique ({', '.join(header.unique)})"] if header.unique else []
        tests += [f"not null: {', '.join(header.not_null)}"] if header.not_null else []
        tests += [f"references: {r}" for r in header.references]
        where = f"warehouse/models/{relation.replace('.', '/')}.sql"
    else:
        kind, about, docs, tests = "table", "", {}, []
        grain = TABLE_GRAINS.get(relation) or REFERENCE_GRAINS.get(relation, "")
        where = "warehouse/checks (reconciliation checks)" if relation == FINDINGS else ""
    keys = set(model.header.unique) if model else set()
    not_null = set(model.header.not_null) if model else set()
    refs = {c: str(r) for r in (model.header.references if model else ()) for c in r.columns}
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{escape(data_type)}</td>"
        f"<td>{escape(_marks(name, keys, not_null, refs))}</td>"
        f"<td>{escape(docs.get(name) or inherited.get(name, ''))}</td></tr>"
        for name, data_type in cols
    )

    def links(names: list[str]) -> str:
        return ", ".join(f'<a href="#{escape(n)}">{escape(n)}</a>' for n in names) or "—"

    return f"""<section id="{escape(relation)}"><h3>{escape(relation)} ({kind})</h3>
{f"<p>{escape(about)}</p>" if about else ""}<p><b>Grain:</b> {escape(grain)}</p>
{f"<p>Defined in <code>{escape(where)}</code>.</p>" if where else ""}
<p><b>Reads:</b> {links(reads)}. <b>Read by:</b> {links(readers)}.</p>
<p><b>Tests:</b> {escape("; ".join(tests)) if tests else "—"}</p>
<table><tr><th>column</th><th>type</th><th>tests</th><th>meaning</th></tr>{rows}</table>
</section>
"""


def _inherited(relation: str, g: Graph, by_relation: dict[str, Model]) -> dict[str, str]:
    """Meanings of the columns ``relation`` may pass through: from the headers of the models
    it reads, the nearest first (breadth-first up the lineage)."""
    meanings: dict[str, str] = {}
    seen, frontier = {relation}, [relation]
    while frontier:
        upstream = sorted({s for s, r in g.edges if r in frontier} - seen)
        for source in upstream:
            if source in by_relation:
                for name, meaning in by_relation[source].header.columns.items():
                    meanings.setdefault(name, meaning)
        seen |= set(upstream)
        frontier = upstream
    return meanings


def _marks(name: str, keys: set[str], not_null: set[str], refs: dict[str, str]) -> str:
    marks = ["key"] if name in keys else []
    marks += ["not null"] if name in not_null else []
    marks += [f"→ {refs[name].split('-> ', 1)[1]}"] if name in refs else []
    return ", ".join(marks)


def write(path: Path) -> Path:
    """Write the page to ``path`` (its folder created); returns ``path``."""
    with tempfile.TemporaryDirectory() as tmp:
        page = render(columns_of_a_fresh_warehouse(Path(tmp) / "var"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else load_settings().reports_dir / "models.html"
    print(f"wrote {write(target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
