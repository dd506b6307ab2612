"""What the catalog's SVG pictures share: the document (a viewBox, so a page can scale it to its
container), family colours, legends that wrap into columns and list every item, hover titles,
links, collision-free label placement and reading a field an entry may not carry.

Every string placed in SVG goes through `escape` here or in the caller; links point only to the
site's own pages (a prefix + the entry's slug).
"""

from __future__ import annotations

import colorsys
import math
from collections import defaultdict
from html import escape

from .load import slug
from .query import size_range

PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1f77b4",
    "#aec7e8",
    "#ff7f0e",
    "#2ca02c",
    "#98df8a",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
]
CHAR_W = 6.6  # average glyph width of 11px sans-serif, for label boxes
ROW = 16  # legend row height


def color(i: int) -> str:
    """The i-th distinct colour: the palette, then hues a golden angle apart (never a repeat, so a
    legend entry names exactly one family however many families there are)."""
    if i < len(PALETTE):
        return PALETTE[i]
    k = i - len(PALETTE)
    r, g, b = colorsys.hls_to_rgb((k * 0.618034) % 1.0, (0.38, 0.55, 0.70)[k % 3], 0.55)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def family_colors(entries) -> dict[str, str]:
    counts = defaultdict(int)
    for e in entries:
        counts[e.family] += 1
    ordered = sorted(counts, key=lambda f: (-counts[f], f))
    return {f: color(i) for i, f in enumerate(ordered)}


def svg_doc(width: float, height: float, body: list[str], title: str, kind: str = "plot") -> str:
    """A standalone SVG document. width/height give its natural size; with the viewBox a page's CSS
    (max-width: 100%; height: auto) shrinks it to its container, legend included."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" font-family="sans-serif" font-size="11" role="img" class="{escape(kind)}" '
        f'aria-label="{escape(title)}">\n<title>{escape(title)}</title>\n' + "\n".join(body) + "\n</svg>\n"
    )


def link(e, prefix: str | None, inner: str) -> str:
    if prefix is None:
        return inner
    return f'<a href="{escape(prefix + slug(e.name))}.html">{inner}</a>'


def hover(e) -> str:
    return escape(f"{e.name} ({e.date}) · {e.family} · {e.architecture} · {size_range(e)}")


def legend(items: list[tuple[str, str]], x: float, y: float, width: float, swatch: str = "rect") -> tuple[str, float]:
    """Every (label, colour) in columns that fit `width`, filled top to bottom; returns the group
    and its height. Nothing is cut: more items make more rows."""
    if not items:
        return "", 0.0
    col_w = 24 + CHAR_W * max(len(label) for label, _ in items)
    cols = max(1, min(len(items), int(width // col_w)))
    rows = math.ceil(len(items) / cols)
    out = []
    for i, (label, col) in enumerate(items):
        xx, yy = x + (i // rows) * col_w, y + (i % rows) * ROW + 10
        mark = (
            f'<circle cx="{xx + 5}" cy="{yy - 4}" r="4" fill="{col}"/>'
            if swatch == "circle"
            else f'<rect x="{xx}" y="{yy - 9}" width="10" height="10" fill="{col}"/>'
        )
        out.append(f'<g class="legend-item">{mark}<text x="{xx + 15:.0f}" y="{yy}">{escape(label)}</text></g>')
    return '<g class="legend">' + "".join(out) + "</g>", rows * ROW + 4


def month_index(date: str) -> int:
    return int(date[:4]) * 12 + int(date[5:]) - 1


Box = tuple[float, float, float, float]


def overlaps(box: Box, boxes: list[Box]) -> bool:
    return any(b[0] < box[2] and box[0] < b[2] and b[1] < box[3] and box[1] < b[3] for b in boxes)


OFFSETS = ((6, 4), (-6, 4), (6, -8), (-6, -8), (6, 16), (-6, 16), (0, -10), (0, 20), (6, -20), (-6, -20))


def place_label(x: float, y: float, text: str, boxes: list[Box], bounds: Box) -> str | None:
    """A <text> for `text` near (x, y) at the first spot that stays inside `bounds` and overlaps no
    box in `boxes` (which then holds it too); None where no spot is free (the hover title remains)."""
    w, h = CHAR_W * len(text), 11
    for dx, dy in OFFSETS:
        left = x + dx if dx > 0 else (x - w / 2 if dx == 0 else x + dx - w)
        box = (left, y + dy - h + 2, left + w, y + dy + 2)
        inside = bounds[0] <= box[0] and box[2] <= bounds[2] and bounds[1] <= box[1] and box[3] <= bounds[3]
        if inside and not overlaps(box, boxes):
            boxes.append(box)
            return f'<text class="label" x="{left:.1f}" y="{y + dy:.1f}">{escape(text)}</text>'
    return None


def fact(e, *path):
    """A possibly absent field of an entry (e.g. fact(e, "training_compute", "flop")): None when
    the entry, or the schema it was loaded with, does not carry it."""
    value = e
    for name in path:
        value = getattr(value, name, None)
        if value is None:
            return None
    return value
