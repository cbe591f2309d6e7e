"""Charts drawn on the server as inline SVG (no JavaScript library): bars, stacked bars, horizontal bars."""

from __future__ import annotations

import math
from typing import Optional, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 900, 320
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 16, 46
AXIS, GRID, TEXT = "#5b6773", "#e3e7ec", "#15202b"


def _nice_max(value: float) -> int:
    """The smallest 4 x (1, 2 or 5 x 10^k) that holds ``value``: whole-number grid lines."""
    if value <= 4:
        return 4
    step = value / 4
    magnitude = 10 ** int(math.floor(math.log10(step)))
    for factor in (1, 2, 5, 10):
        if step <= factor * magnitude:
            return 4 * factor * magnitude
    return int(math.ceil(value))


def _axis_label(value: float) -> str:
    """A grid line's value in the width the axis has (a year's bars reach 100000: 100k)."""
    return f"{value / 1000:g}k" if value >= 10_000 else f"{value:g}"


def _frame(title: str, top: int, parts: list[str], height: int = HEIGHT, width: int = WIDTH) -> Markup:
    body = "".join(parts)
    return Markup(f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
                  f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>')


def _y_axis(top: int, width: int) -> list[str]:
    parts = []
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{width - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="14" fill="{AXIS}">'
                     f'{_axis_label(value)}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{width - RIGHT}" y2="{HEIGHT - BOTTOM}" '
                 f'stroke="{AXIS}"/>')
    return parts


def stacked_bars(title: str, labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]],
                 width: int = WIDTH, beside: Optional[tuple[str, str, Sequence[int]]] = None) -> Markup:
    """Vertical bars, one per label, stacked by series (name, colour, values); the number above each stack is
    its total. ``beside`` (name, colour, values) is drawn as a thin bar next to each stack, not in its total."""
    totals = [sum(values[i] for _, _, values in series) for i in range(len(labels))]
    top = _nice_max(max(totals + (list(beside[2]) if beside else []), default=0))
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    bar = max(min(slot * (0.55 if beside else 0.7), 60), 1)
    thin = bar * 0.35
    every = max(1, math.ceil(len(labels) / 16))
    parts = _y_axis(top, width)
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - bar - (thin + 2 if beside else 0)) / 2
        if beside and beside[2][i]:
            h = plot_h * beside[2][i] / top if top else 0
            parts.append(f'<rect class="beside" x="{x + bar + 2:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" width="{thin:.1f}" '
                         f'height="{h:.1f}" fill="{beside[1]}"><title>{escape(label)} · {escape(beside[0])}: '
                         f'{beside[2][i]}</title></rect>')
        y: float = HEIGHT - BOTTOM
        for name, colour, values in series:
            h = plot_h * values[i] / top if top else 0
            if h > 0:
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                             f'<title>{escape(label)} · {escape(name)}: {values[i]}</title></rect>')
        if totals[i] and len(labels) <= 31:
            parts.append(f'<text class="total" data-label="{escape(label)}" x="{x + bar / 2:.1f}" y="{y - 4:.1f}" '
                         f'text-anchor="middle" font-size="14" fill="{TEXT}">{totals[i]}</text>')
        if i % every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="14" '
                         f'fill="{AXIS}">{escape(label)}</text>')
    return _frame(title, top, parts, HEIGHT, width)


def bars(title: str, labels: Sequence[str], values: Sequence[int], colour: str = "#0b5cad",
         width: int = WIDTH) -> Markup:
    return stacked_bars(title, labels, [(title, colour, values)], width)


def horizontal_bars(title: str, labels: Sequence[str], values: Sequence[int], colour: str = "#b71c1c") -> Markup:
    """One horizontal bar per label, longest first as given; the label on the left, the value at the end."""
    row, label_w = 30, 260
    height = TOP + BOTTOM // 2 + row * max(len(labels), 1)
    top = _nice_max(max(values, default=0))
    plot_w = WIDTH - label_w - RIGHT - 50
    parts = []
    for i, (label, value) in enumerate(zip(labels, values)):
        y = TOP + row * i
        w = plot_w * value / top if top else 0
        parts.append(f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" font-size="14" fill="{TEXT}">'
                     f'{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" fill="{colour}">'
                     f'<title>{escape(label)}: {value}</title></rect>')
        parts.append(f'<text class="total" data-label="{escape(label)}" x="{label_w + w + 6:.1f}" y="{y + 19}" '
                     f'font-size="14" fill="{TEXT}">{value}</text>')
    if not labels:
        parts.append(f'<text x="{WIDTH / 2}" y="{TOP + 18}" text-anchor="middle" font-size="14" fill="{AXIS}">—</text>')
    return _frame(title, top, parts, height)
