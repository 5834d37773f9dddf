"""Server-rendered inline SVG charts: no JavaScript, no CDN, printable (and reused by PDFs)."""

from __future__ import annotations

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
