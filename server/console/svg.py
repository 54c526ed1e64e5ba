"""Pictures the console draws on the server, as inline SVG: no script, no map tiles, nothing
fetched. A chart always stands beside a table of its numbers; the SVG carries a title for
screen readers and is otherwise decoration.

- ``geofence``: the site's centre and geofence, the widened fence the fix's accuracy allows,
  and the fix with its accuracy circle, to scale, north up, with a scale bar.
- ``stacked_columns``: a count a day, split by status.
- ``bars``: a count a label (quarantined protocols by the rule they broke).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape

__all__ = ["STATUS_COLOURS", "bars", "geofence", "stacked_columns"]

STATUS_COLOURS = {"registered": "#0b6b3a", "quarantined": "#b35c00", "annulled": "#a3151b",
                  "superseded": "#5b6675", "draft": "#9aa6b5"}
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0
_SIZE = 320
_NICE = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000)


def _open(width: int, height: int, title: str, label_id: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-labelledby="{label_id}" '
            f'class="chart" focusable="false"><title id="{label_id}">{escape(title)}</title>')


def _offset(lat: float, lon: float, lat0: float, lon0: float) -> tuple[float, float]:
    """Metres east and north of (lat0, lon0): flat enough across a geofence."""
    return ((lon - lon0) * _M_PER_DEG_LON * math.cos(math.radians(lat0)),
            (lat - lat0) * _M_PER_DEG_LAT)


def _scale_bar(metres_per_px: float) -> tuple[int, float]:
    """A round length for the scale bar, near a quarter of the picture, and its pixels."""
    wanted = metres_per_px * _SIZE / 4
    length = min(_NICE, key=lambda nice: abs(nice - wanted))
    return length, length / metres_per_px


def geofence(*, lat: str, lon: str, accuracy_m: str, site_lat: str, site_lon: str,
             radius_m: str, allowed_m: Decimal | None, inside: bool | None, title: str,
             labels: Mapping[str, str], label_id: str = "geofence-title") -> str:
    """The fix against the site, to scale. ``labels`` words ``site``, ``fix`` and ``north``."""
    lat0, lon0 = float(site_lat or lat), float(site_lon or lon)
    east, north = _offset(float(lat), float(lon), lat0, lon0)
    accuracy = float(accuracy_m or 0)
    radius = float(radius_m or 0)
    allowed = float(allowed_m) if allowed_m is not None else radius
    extent = max(radius, allowed, math.hypot(east, north) + accuracy, 10.0) * 1.2
    per_px = 2 * extent / _SIZE
    half = _SIZE / 2

    def point(x_m: float, y_m: float) -> tuple[float, float]:
        return half + x_m / per_px, half - y_m / per_px

    fx, fy = point(east, north)
    fix_colour = "#0b6b3a" if inside else "#a3151b" if inside is not None else "#0b4fa8"
    parts = [_open(_SIZE, _SIZE, title, label_id),
             f'<rect width="{_SIZE}" height="{_SIZE}" fill="#f3f5f8"/>']
    if site_lat:
        parts += [
            f'<circle cx="{half}" cy="{half}" r="{allowed / per_px:.1f}" fill="none" '
            'stroke="#0b6b3a" stroke-width="1.5" stroke-dasharray="6 4"/>',
            f'<circle cx="{half}" cy="{half}" r="{radius / per_px:.1f}" fill="#e6f4ec" '
            'stroke="#0b6b3a" stroke-width="2"/>',
            f'<path d="M{half - 7} {half}h14M{half} {half - 7}v14" stroke="#16202c" '
            'stroke-width="2"/>',
            f'<text x="{half}" y="{half + 22 if fy < half else half - 12}" font-size="13" '
            f'text-anchor="middle" fill="#16202c">{escape(labels["site"])}</text>',
            f'<line x1="{half}" y1="{half}" x2="{fx:.1f}" y2="{fy:.1f}" stroke="#4a5564" '
            'stroke-width="1.5"/>']
    parts += [
        f'<circle cx="{fx:.1f}" cy="{fy:.1f}" r="{max(accuracy / per_px, 3):.1f}" '
        f'fill="{fix_colour}" fill-opacity=".18" stroke="{fix_colour}" stroke-width="1.5"/>',
        f'<circle cx="{fx:.1f}" cy="{fy:.1f}" r="4.5" fill="{fix_colour}"/>',
        # The fix's label runs toward the middle, where the drawing has room for it, above or
        # below the fix; a white halo keeps it legible across the fence's line.
        f'<text x="{fx - 9 if fx > half else fx + 9:.1f}" '
        f'y="{fy - 10 if fy <= half else fy + 20:.1f}" font-size="13" '
        f'text-anchor="{"end" if fx > half else "start"}" fill="{fix_colour}" '
        f'stroke="#fff" stroke-width="4" stroke-linejoin="round" paint-order="stroke" '
        f'font-weight="700">{escape(labels["fix"])}</text>']
    length, bar_px = _scale_bar(per_px)
    parts += [
        f'<path d="M12 {_SIZE - 14}h{bar_px:.1f}M12 {_SIZE - 19}v10M{12 + bar_px:.1f} '
        f'{_SIZE - 19}v10" stroke="#16202c" stroke-width="2"/>',
        f'<text x="12" y="{_SIZE - 24}" font-size="12" fill="#16202c">{length} m</text>',
        f'<path d="M{_SIZE - 22} 34l8-20l8 20l-8-5z" fill="#16202c"/>',
        f'<text x="{_SIZE - 22}" y="50" font-size="12" text-anchor="middle" fill="#16202c">'
        f'{escape(labels["north"])}</text>', "</svg>"]
    return "".join(parts)


_TOPS = (2, 4, 6, 10, 20, 40, 60, 100, 200, 400, 600, 1000, 2000, 4000, 6000, 10_000, 20_000,
         40_000, 60_000, 100_000)


def _ceiling(value: int) -> int:
    """A round, even top for an axis at or above ``value`` (its half is a whole number)."""
    return next((top for top in _TOPS if top >= value), value + value % 2)


def stacked_columns(columns: Sequence[tuple[str, Mapping[str, int]]], order: Sequence[str],
                    title: str, label_id: str = "per-day-title") -> str:
    """A column a day (``(label, {status: count})``), stacked in ``order``."""
    width, height, left, bottom, top = 640, 240, 40, 28, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = _ceiling(max((sum(counts.values()) for _, counts in columns), default=0))
    step = plot_w / max(len(columns), 1)
    parts = [_open(width, height, title, label_id)]
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#c9d2de"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#4a5564">{round(peak * fraction)}</text>')
    for index, (label, counts) in enumerate(columns):
        x, base = left + index * step + step * 0.15, float(top + plot_h)
        for status in order:
            h = plot_h * counts.get(status, 0) / peak
            if h > 0:
                base -= h
                parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{step * 0.7:.1f}" '
                             f'height="{h:.1f}" fill="{STATUS_COLOURS.get(status, "#0b4fa8")}"/>')
        if len(columns) <= 16 or index % 2 == 0:
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{height - 10}" font-size="11" '
                         f'text-anchor="middle" fill="#4a5564">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _cut(text: str, most: int) -> str:
    """``text``, cut to ``most`` characters with an ellipsis when longer."""
    return text if len(text) <= most else text[:most - 1].rstrip() + "…"


def bars(items: Sequence[tuple[str, int]], title: str, label_id: str = "bars-title") -> str:
    """A horizontal bar an item, longest first as given."""
    row, left, width = 30, 230, 460  # room for a label of 28 characters at 13 px
    height = max(len(items), 1) * row + 10
    peak = max((count for _, count in items), default=0) or 1
    parts = [_open(width, height, title, label_id)]
    for index, (label, count) in enumerate(items):
        y = 5 + index * row
        length = (width - left - 60) * count / peak
        parts += [f'<text x="{left - 8}" y="{y + 19}" font-size="13" text-anchor="end" '
                  f'fill="#16202c">{escape(_cut(label, 28))}</text>',
                  f'<rect x="{left}" y="{y + 5}" width="{max(length, 2):.1f}" height="20" '
                  'fill="#b35c00"/>',
                  f'<text x="{left + length + 6:.1f}" y="{y + 20}" font-size="13" '
                  f'fill="#16202c">{count}</text>']
    parts.append("</svg>")
    return "".join(parts)
