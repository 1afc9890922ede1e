"""Small inline-SVG charts for the static report: no script, no fonts or files to fetch.

Every chart is a ``<figure class="chart" data-chart="…">`` holding one ``<svg>``; each drawn
mark (bar or segment) has class ``mark`` so a browser test can check that it rendered.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2f6db5", "#e08a2c", "#3c9a5f", "#b5473a", "#7a5bb5", "#8c8c8c", "#c9a227")
WIDTH = 760
ROW = 22


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    series: str = ""
    hatched: bool = False  # forecasts and estimates, told apart from actuals


def _fmt(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value):,}"
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _figure(chart_id: str, title: str, svg: str, note: str = "") -> str:
    caption = f"<figcaption>{escape(title)}"
    if note:
        caption += f'<span class="note">{escape(note)}</span>'
    caption += "</figcaption>"
    return f'<figure class="chart" data-chart="{escape(chart_id)}">{caption}{svg}</figure>'


def _empty(chart_id: str, title: str) -> str:
    return (
        f'<figure class="chart empty" data-chart="{escape(chart_id)}">'
        f"<figcaption>{escape(title)}</figcaption><p>No data yet.</p></figure>"
    )


def _defs() -> str:
    return (
        "<defs>"
        + "".join(
            f'<pattern id="hatch{i}" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{c}" '
            f'opacity="0.35"/><line x1="0" y1="0" x2="0" y2="6" stroke="{c}" '
            f'stroke-width="3"/></pattern>'
            for i, c in enumerate(PALETTE)
        )
        + "</defs>"
    )


def _legend(names: Sequence[str], y: float, hatched_note: bool) -> str:
    parts, x = [], 0.0
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{color}"/>'
            f'<text x="{x + 16}" y="{y + 10}">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    if hatched_note:
        parts.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="url(#hatch5)"/>'
            f'<text x="{x + 16}" y="{y + 10}">forecast / estimate (hatched)</text>'
        )
    return "".join(parts)


def grouped_columns(
    chart_id: str, title: str, bars: Sequence[Bar], unit: str = "", note: str = ""
) -> str:
    """Vertical bars by label (x axis), one colour per series; hatched bars are forecasts."""
    if not bars:
        return _empty(chart_id, title)
    labels = list(dict.fromkeys(b.label for b in bars))
    series = list(dict.fromkeys(b.series for b in bars))
    top = max(b.value for b in bars) or 1.0
    height, left, plot_h = 300, 56, 220
    group_w = (WIDTH - left - 10) / len(labels)
    bar_w = max(2.0, group_w * 0.8 / len(series))
    out = [_defs()]
    for tick in range(5):
        value = top * tick / 4
        y = 20 + plot_h - plot_h * tick / 4
        out.append(
            f'<line class="grid" x1="{left}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(value)}</text>"
        )
    for b in bars:
        gi, si = labels.index(b.label), series.index(b.series)
        x = left + gi * group_w + group_w * 0.1 + si * bar_w
        h = plot_h * b.value / top
        y = 20 + plot_h - h
        fill = f"url(#hatch{si % len(PALETTE)})" if b.hatched else PALETTE[si % len(PALETTE)]
        out.append(
            f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{max(h, 0.5):.1f}" fill="{fill}"><title>{escape(b.series)} '
            f"{escape(b.label)}: {_fmt(b.value)} {escape(unit)}</title></rect>"
        )
    for gi, label in enumerate(labels):
        x = left + gi * group_w + group_w / 2
        out.append(
            f'<text class="axis" x="{x:.1f}" y="{20 + plot_h + 16}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    out.append(_legend(series, height - 18, any(b.hatched for b in bars)))
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">{"".join(out)}</svg>'
    )
    return _figure(chart_id, title, svg, note)


def horizontal_bars(
    chart_id: str, title: str, bars: Sequence[Bar], as_percent: bool = False, note: str = ""
) -> str:
    """One horizontal bar per label, longest first as given."""
    if not bars:
        return _empty(chart_id, title)
    top = max(b.value for b in bars) or 1.0
    label_w, plot_w = 300, WIDTH - 300 - 70
    height = ROW * len(bars) + 10
    out = []
    for i, b in enumerate(bars):
        y = 5 + i * ROW
        w = plot_w * b.value / top
        color = PALETTE[zlib.crc32(b.series.encode()) % len(PALETTE)] if b.series else PALETTE[0]
        shown = f"{b.value:.1%}" if as_percent else _fmt(b.value)
        out.append(
            f'<text class="axis" x="{label_w - 6}" y="{y + 14}" text-anchor="end">'
            f"{escape(b.label[:48])}</text>"
            f'<rect class="mark" x="{label_w}" y="{y + 3}" width="{max(w, 0.5):.1f}" '
            f'height="{ROW - 6}" fill="{color}"><title>{escape(b.label)}: {shown}</title></rect>'
            f'<text x="{label_w + max(w, 0.5) + 4:.1f}" y="{y + 14}">{shown}</text>'
        )
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">{"".join(out)}</svg>'
    )
    return _figure(chart_id, title, svg, note)


def line_chart(
    chart_id: str,
    title: str,
    points: Sequence[Bar],
    as_percent: bool = False,
    note: str = "",
) -> str:
    """A trend: one line per series over the labels in the order given (oldest first), a
    dot (``mark``) per point; as many labels are written under the axis as fit side by
    side."""
    if not points:
        return _empty(chart_id, title)
    labels = list(dict.fromkeys(p.label for p in points))
    series = list(dict.fromkeys(p.series for p in points))
    top = max(p.value for p in points) or 1.0
    height, left, plot_h = 300, 56, 220
    step = (WIDTH - left - 20) / max(len(labels) - 1, 1)

    def shown(value: float) -> str:
        return f"{value:.1%}" if as_percent else _fmt(value)

    out = []
    for tick in range(5):
        value = top * tick / 4
        y = 20 + plot_h - plot_h * tick / 4
        out.append(
            f'<line class="grid" x1="{left}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{shown(value)}</text>"
        )
    for si, name in enumerate(series):
        color = PALETTE[si % len(PALETTE)]
        xy = [
            (left + 10 + labels.index(p.label) * step, 20 + plot_h - plot_h * p.value / top, p)
            for p in points
            if p.series == name
        ]
        out.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in xy)
            + '"/>'
        )
        out.extend(
            f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>'
            f"{escape(p.series + ' ' if p.series else '')}{escape(p.label)}: {shown(p.value)}"
            "</title></circle>"
            for x, y, p in xy
        )
    out.append(_x_labels(labels, left + 10, step, 20 + plot_h + 16))
    if any(series):
        out.append(_legend(series, height - 18, False))
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">{"".join(out)}</svg>'
    )
    return _figure(chart_id, title, svg, note)


def _x_labels(labels: Sequence[str], x0: float, step: float, y: float) -> str:
    """Labels under a trend's points (``x0`` the first, ``step`` apart): as many as fit side
    by side, evenly spaced back from the newest, which is always named."""
    # about 6.5 px a character at 11 px; centred labels need 1.5 widths between them
    widest = 6.5 * max(len(label) for label in labels)
    every = max(1, math.ceil(1.5 * widest / step))
    last = len(labels) - 1
    out = []
    for i, label in enumerate(labels):
        if (last - i) % every:
            continue
        # the first and last labels start and end at their point: centred they would be cut
        anchor = "start" if i == 0 else "end" if i == last else "middle"
        out.append(
            f'<text class="axis" x="{x0 + i * step:.1f}" y="{y}" text-anchor="{anchor}">'
            f"{escape(label)}</text>"
        )
    return "".join(out)


def small_multiples(
    chart_id: str,
    title: str,
    points: Sequence[Bar],
    palette: Sequence[str] = PALETTE,
    note: str = "",
) -> str:
    """Trends of counts that differ by orders of magnitude: one band per series (the n-th
    in ``palette``'s n-th colour), each on its own scale from 0 to its largest value and
    named with its newest value, over the labels in the order given (oldest first); a dot
    (``mark``) per point."""
    if not points:
        return _empty(chart_id, title)
    labels = list(dict.fromkeys(p.label for p in points))
    series = list(dict.fromkeys(p.series for p in points))
    left, band, gap = 150, 60, 22
    step = (WIDTH - left - 20) / max(len(labels) - 1, 1)
    height = 10 + len(series) * (band + gap) + 10
    out = []
    for si, name in enumerate(series):
        color = palette[si % len(palette)]
        top_y = 10 + si * (band + gap)
        values = [p for p in points if p.series == name]
        most = max(p.value for p in values)
        top = most or 1.0
        out.append(
            f'<line class="grid" x1="{left}" x2="{WIDTH}" y1="{top_y}" y2="{top_y}"/>'
            f'<line class="grid" x1="{left}" x2="{WIDTH}" y1="{top_y + band}" '
            f'y2="{top_y + band}"/>'
            f'<text x="{left - 8}" y="{top_y + band / 2 + 4:.1f}" text-anchor="end" '
            f'fill="{color}">{escape(name)}: {_fmt(values[-1].value)} (max {_fmt(most)})</text>'
        )
        xy = [
            (left + 10 + labels.index(p.label) * step, top_y + band - band * p.value / top, p)
            for p in values
        ]
        out.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in xy)
            + '"/>'
        )
        out.extend(
            f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>'
            f"{escape(p.series)} {escape(p.label)}: {_fmt(p.value)}</title></circle>"
            for x, y, p in xy
        )
    out.append(_x_labels(labels, left + 10, step, height - 6))
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">{"".join(out)}</svg>'
    )
    return _figure(chart_id, title, svg, note)
