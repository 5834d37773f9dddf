"""Server-rendered inline SVG charts: no JavaScript, no CDN, printable (and reused by PDFs)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

from markupsafe import Markup


def _nice_max(value: int) -> int:
    if value <= 0:
        return 1
    magnitude = int(10 ** (len(str(value)) - 1))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def daily_bar_chart(
    points: Sequence[tuple[date, int]],
    *,
    title: str,
    width: int = 720,
    height: int = 200,
    overlay: Sequence[int] | None = None,
    overlay_label: str = "",
) -> Markup:
    """Return an accessible SVG bar chart of daily values, with an optional line overlay."""
    pad_left, pad_bottom, pad_top = 44, 22, 10
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    top = _nice_max(max([v for _, v in points] + list(overlay or []) + [0]))
    n = max(len(points), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for frac in (0, 0.5, 1):
        y = pad_top + plot_h * (1 - frac)
        parts.append(
            f'<line x1="{pad_left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{pad_left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{int(top * frac)}</text>"
        )
    for i, (day, value) in enumerate(points):
        h = plot_h * value / top
        x = pad_left + i * slot + (slot - bar_w) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{pad_top + plot_h - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" class="bar"><title>{day.isoformat()}: {value}</title></rect>'
        )
    if overlay:
        coords = " ".join(
            f"{pad_left + i * slot + slot / 2:.1f},{pad_top + plot_h - plot_h * v / top:.1f}"
            for i, v in enumerate(overlay)
        )
        parts.append(
            f'<polyline points="{coords}" class="line"><title>{escape(overlay_label)}'
            "</title></polyline>"
        )
    if points:
        last = len(points) - 1
        for i in sorted({0, len(points) // 2, last}):
            x = pad_left + i * slot + slot / 2
            # The end labels hug the plot's edges so they are never clipped.
            anchor = "start" if i == 0 and last else "end" if i == last and last else "middle"
            x = pad_left if anchor == "start" else width - 8 if anchor == "end" else x
            parts.append(
                f'<text x="{x:.1f}" y="{height - 6}" class="axis" text-anchor="{anchor}">'
                f"{points[i][0]:%b %d}</text>"
            )
    parts.append("</svg>")
    # Safe: every interpolated text above is escaped; the rest is numbers and fixed markup.
    return Markup("".join(parts))  # noqa: S704


def donut_chart(
    segments: Sequence[tuple[str, int]],
    *,
    title: str,
    size: int = 160,
    css_prefix: str = "seg-",
) -> Markup:
    """Return an accessible SVG donut of labelled counts; each segment gets ``css_prefix+label``.

    Segments are stroked arcs of one circle (``stroke-dasharray``), so no path maths is needed;
    an all-zero donut is drawn as an empty ring.
    """
    radius = size / 2 - 14
    circumference = 2 * math.pi * radius
    total = sum(v for _, v in segments)
    c = size / 2
    parts = [
        f'<svg class="chart donut" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<circle cx="{c}" cy="{c}" r="{radius:.1f}" class="donut-ring"/>',
    ]
    offset = 0.0
    for label, value in segments:
        if value <= 0 or total == 0:
            continue
        length = circumference * value / total
        # Start at 12 o'clock and run clockwise.
        parts.append(
            f'<circle cx="{c}" cy="{c}" r="{radius:.1f}" class="donut-seg '
            f'{escape(css_prefix + label)}" stroke-dasharray="{length:.2f} '
            f'{circumference - length:.2f}" stroke-dashoffset="{-offset:.2f}" '
            f'transform="rotate(-90 {c} {c})"><title>{escape(label)}: {value}</title></circle>'
        )
        offset += length
    parts.append(
        f'<text x="{c}" y="{c + 6}" class="donut-total" text-anchor="middle">{total}</text>'
        "</svg>"
    )
    # Safe: every interpolated text above is escaped; the rest is numbers and fixed markup.
    return Markup("".join(parts))  # noqa: S704


def line_chart(
    labels: Sequence[date],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    width: int = 720,
    height: int = 220,
    css_prefix: str = "seg-",
) -> Markup:
    """Return an accessible multi-series SVG line chart over dated points (one class per series)."""
    pad_left, pad_bottom, pad_top, pad_right = 44, 22, 10, 12
    plot_w, plot_h = width - pad_left - pad_right, height - pad_bottom - pad_top
    top = _nice_max(max([v for _, values in series for v in values] + [0]))
    n = max(len(labels), 1)
    step = plot_w / max(n - 1, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for frac in (0, 0.5, 1):
        y = pad_top + plot_h * (1 - frac)
        parts.append(
            f'<line x1="{pad_left}" x2="{width - pad_right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'class="grid"/><text x="{pad_left - 6}" y="{y + 4:.1f}" class="axis" '
            f'text-anchor="end">{int(top * frac)}</text>'
        )
    for name, values in series:
        points = [
            (pad_left + i * step, pad_top + plot_h - plot_h * v / top)
            for i, v in enumerate(values)
        ]
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        cls = escape(css_prefix + name)
        parts.append(
            f'<polyline points="{coords}" class="series {cls}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        for (x, y), day, v in zip(points, labels, values, strict=False):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="dot {cls}">'
                f"<title>{escape(name)}, week of {day.isoformat()}: {v}</title></circle>"
            )
    for i, day in enumerate(labels):
        x = pad_left + i * step
        anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" class="axis" text-anchor="{anchor}">'
            f"{day:%b %d}</text>"
        )
    parts.append("</svg>")
    # Safe: every interpolated text above is escaped; the rest is numbers and fixed markup.
    return Markup("".join(parts))  # noqa: S704
