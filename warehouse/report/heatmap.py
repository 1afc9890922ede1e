"""An inline-SVG heatmap for the report: rows × columns of coloured cells, grouped in blocks.

Used for capability maturity: one row per capability, one column per institution type, one
block per panel, each cell coloured by the mean lifecycle stage (1–5) with a legend. Every
cell is a ``mark`` and carries its column's key in ``data-column`` (and every column heading
too), so the page's filters can show one column only (``warehouse/report/filters.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from warehouse.report.charts import WIDTH, _empty, _figure

# light to dark: planning … iteration
RAMP = ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d")
CELL_H = 20
LABEL_W = 220


@dataclass(frozen=True)
class Cell:
    """One coloured cell: ``group`` (block), ``row`` and ``column`` are display names;
    ``column_key`` is what filters match; ``value`` is on the legend's scale."""

    group: str
    row: str
    column: str
    column_key: str
    value: float
    detail: str = ""  # the cell's tooltip, after its names and value


def colour(value: float, low: float, high: float) -> str:
    """The colour of ``value`` on ``[low, high]`` (clamped), interpolated along the ramp."""
    position = 0.0 if high <= low else (value - low) / (high - low)
    scaled = min(max(position, 0.0), 1.0) * (len(RAMP) - 1)
    index = min(int(scaled), len(RAMP) - 2)
    start, end = RAMP[index], RAMP[index + 1]
    mix = scaled - index
    channels = (
        round(int(start[i : i + 2], 16) * (1 - mix) + int(end[i : i + 2], 16) * mix)
        for i in (1, 3, 5)
    )
    return "#" + "".join(f"{c:02x}" for c in channels)


def heatmap(
    chart_id: str,
    title: str,
    cells: Sequence[Cell],
    legend: Sequence[tuple[float, str]],
    note: str = "",
) -> str:
    """The heatmap of ``cells``: blocks in the order their groups first appear, rows and
    columns likewise; ``legend`` gives the scale's (value, name) steps, lowest first."""
    if not cells:
        return _empty(chart_id, title)
    low, high = legend[0][0], legend[-1][0]
    columns = dict.fromkeys((c.column_key, c.column) for c in cells)
    keys = [k for k, _ in columns]
    cell_w = max(48.0, min(110.0, (WIDTH - LABEL_W - 10) / len(columns)))
    out, y = [], 0.0
    for group in dict.fromkeys(c.group for c in cells):
        in_group = [c for c in cells if c.group == group]
        out.append(
            f'<text class="group" x="0" y="{y + 14:.0f}" font-weight="600">{escape(group)}</text>'
        )
        y += 22
        for key, name in columns:
            x = LABEL_W + keys.index(key) * cell_w + cell_w / 2
            out.append(
                f'<text class="axis" data-column="{escape(key)}" x="{x:.1f}" y="{y + 10:.0f}" '
                f'text-anchor="middle">{escape(name[:16])}</text>'
            )
        y += 16
        rows = list(dict.fromkeys(c.row for c in in_group))
        for c in in_group:
            ri = rows.index(c.row)
            x = LABEL_W + keys.index(c.column_key) * cell_w
            cy = y + ri * CELL_H
            ink = ' fill="#fff"' if c.value > low + (high - low) * 0.6 else ""
            out.append(
                f'<g data-column="{escape(c.column_key)}"><rect class="mark" x="{x + 1:.1f}" '
                f'y="{cy + 1:.0f}" width="{cell_w - 2:.1f}" height="{CELL_H - 2}" '
                f'fill="{colour(c.value, low, high)}"><title>{escape(c.row)} · '
                f"{escape(c.column)}: {c.value:.2f}{escape(c.detail)}</title></rect>"
                f'<text x="{x + cell_w / 2:.1f}" y="{cy + 14:.0f}" text-anchor="middle"'
                f"{ink}>{c.value:.1f}</text></g>"
            )
        for ri, row in enumerate(rows):
            out.append(
                f'<text class="axis" x="{LABEL_W - 6}" y="{y + ri * CELL_H + 14:.0f}" '
                f'text-anchor="end">{escape(row[:36])}</text>'
            )
        y += len(rows) * CELL_H + 12
    out.append(_legend(legend, y + 4, low, high))
    height = y + 44
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" '
        f'role="img" aria-label="{escape(title)}">{"".join(out)}</svg>'
    )
    return _figure(chart_id, title, svg, note)


def _legend(steps: Sequence[tuple[float, str]], y: float, low: float, high: float) -> str:
    """One swatch per step of the scale, named, in a row."""
    parts, x = ['<g class="legend">'], 0.0
    for value, name in steps:
        text = f"{value:g} {name}"
        parts.append(
            f'<rect x="{x:.0f}" y="{y:.0f}" width="14" height="14" '
            f'fill="{colour(value, low, high)}" stroke="#99a"/>'
            f'<text x="{x + 18:.0f}" y="{y + 11:.0f}">{escape(text)}</text>'
        )
        x += 30 + 6.2 * len(text)
    parts.append("</g>")
    return "".join(parts)
