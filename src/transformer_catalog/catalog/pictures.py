"""Pictures of the catalog as self-contained SVG: the family tree (a layered DAG), the timeline
coloured by family, and parameters over time on a log scale.

Every mark carries a <title>, so browsers show the model on hover; every string is escaped.
Labels are placed so that none overlaps another: where no free spot exists the label is left
out and the hover title remains (the catalog paper's size chart hid labels under each other).
"""

from __future__ import annotations

import math
from collections import defaultdict
from html import escape

from .load import slug
from .query import human, size_range

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


def family_colors(entries) -> dict[str, str]:
    counts = defaultdict(int)
    for e in entries:
        counts[e.family] += 1
    ordered = sorted(counts, key=lambda f: (-counts[f], f))
    return {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(ordered)}


def _svg(width: float, height: float, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" font-family="sans-serif" font-size="11" role="img" aria-label="{escape(title)}">\n'
        f"<title>{escape(title)}</title>\n" + "\n".join(body) + "\n</svg>\n"
    )


def _link(e, prefix: str | None, inner: str) -> str:
    if prefix is None:
        return inner
    return f'<a href="{escape(prefix + slug(e.name))}.html">{inner}</a>'


def _hover(e) -> str:
    return escape(f"{e.name} ({e.date}) · {e.family} · {e.architecture} · {size_range(e)}")


def _legend(colors: dict, x: float, y: float, max_items: int = 14) -> tuple[list[str], float]:
    out = []
    for i, (fam, col) in enumerate(list(colors.items())[:max_items]):
        yy = y + i * 16
        out.append(
            f'<rect x="{x}" y="{yy - 9}" width="10" height="10" fill="{col}"/>'
            f'<text x="{x + 15}" y="{yy}">{escape(fam)}</text>'
        )
    return out, y + min(len(colors), max_items) * 16


# -- family tree -------------------------------------------------------------------------------------------
def family_tree_svg(catalog, link_prefix: str | None = None) -> str:
    """Layered DAG: each node sits one layer right of its deepest parent; within a layer, nodes
    are ordered by the mean position of their parents (barycentre heuristic) to limit crossings."""
    entries = {e.name: e for e in catalog.entries}
    parents: dict[str, list[str]] = {e.name: [p for p in e.derived_from] for e in catalog.entries}
    for r in catalog.lineage:
        parents.setdefault(r.name, [])
        for nxt in r.leads_to:
            parents.setdefault(nxt, []).append(r.name)
    depth: dict[str, int] = {}

    def layer(n, stack=()):
        if n not in depth:
            ps = [p for p in parents.get(n, []) if p in parents and p not in stack]
            depth[n] = 1 + max((layer(p, stack + (n,)) for p in ps), default=-1)
        return depth[n]

    for n in parents:
        layer(n)
    layers: dict[int, list[str]] = defaultdict(list)
    for n, d in depth.items():
        layers[d].append(n)

    def date(n):
        return entries[n].date if n in entries else str(next(r.year for r in catalog.lineage if r.name == n))

    pos: dict[str, float] = {}
    for d in sorted(layers):
        for n in layers[d]:
            ps = [pos[p] for p in parents.get(n, []) if p in pos]
            pos[n] = sum(ps) / len(ps) if ps else 0.0
        layers[d].sort(key=lambda n: (pos[n], date(n)))
        for i, n in enumerate(layers[d]):
            pos[n] = float(i)

    colors = family_colors(catalog.entries)
    col_w, row_h, node_w, node_h, left, top = 190, 24, 170, 18, 20, 40
    width = left + col_w * (max(layers) + 1) + 200
    height = top + row_h * max(len(v) for v in layers.values()) + 20
    xy = {n: (left + depth[n] * col_w, top + pos[n] * row_h) for n in depth}
    body = []
    for n, ps in parents.items():
        for p in ps:
            if p in xy and n in xy:
                (x1, y1), (x2, y2) = xy[p], xy[n]
                x1 += node_w
                mid = (x1 + x2) / 2
                body.append(
                    f'<path d="M{x1:.0f},{y1 + node_h / 2:.0f} C{mid:.0f},{y1 + node_h / 2:.0f} {mid:.0f},'
                    f'{y2 + node_h / 2:.0f} {x2:.0f},{y2 + node_h / 2:.0f}" '
                    'fill="none" stroke="#999" stroke-width="1"/>'
                )
    for n, (x, y) in xy.items():
        e = entries.get(n)
        fill = colors[e.family] if e else "#ddd"
        label = n if len(n) <= 24 else n[:23] + "…"
        hover = _hover(e) if e else escape(f"{n} ({date(n)}) · pre-Transformer architecture")
        node = (
            f'<g><title>{hover}</title><rect x="{x}" y="{y}" width="{node_w}" height="{node_h}" rx="4" fill="{fill}" '
            f'fill-opacity="0.85"/><text x="{x + 6}" y="{y + 13}" fill="#111">{escape(label)}</text></g>'
        )
        body.append(_link(e, link_prefix, node) if e else node)
    legend, _ = _legend(colors, width - 180, top)
    body += legend
    return _svg(width, height, body, "Family tree of the Transformer catalog")


# -- timeline ----------------------------------------------------------------------------------------------------
def _month_index(date: str) -> int:
    return int(date[:4]) * 12 + int(date[5:]) - 1


def timeline_svg(entries, link_prefix: str | None = None) -> str:
    """Models on a time axis, coloured by family; labels packed into lanes so none overlap."""
    entries = sorted(entries, key=lambda e: (e.date, e.name))
    colors = family_colors(entries)
    first, last = _month_index(entries[0].date), _month_index(entries[-1].date)
    left, top, px = 30, 50, 11.0
    lanes: list[float] = []  # right edge of the last label in each lane
    placed = []
    for e in entries:
        x = left + (_month_index(e.date) - first) * px
        w = 10 + CHAR_W * len(e.name)
        lane = next((i for i, right in enumerate(lanes) if right + 4 < x), None)
        if lane is None:
            lanes.append(0.0)
            lane = len(lanes) - 1
        lanes[lane] = x + w
        placed.append((e, x, lane))
    width = left + (last - first + 1) * px + 260
    height = top + 18 * len(lanes) + 40
    axis_y = height - 30
    body = [f'<line x1="{left}" y1="{axis_y}" x2="{left + (last - first + 1) * px}" y2="{axis_y}" stroke="#333"/>']
    for year in range(first // 12, last // 12 + 1):
        x = left + (year * 12 - first) * px
        if x >= left - 1:
            body.append(
                f'<line x1="{x:.0f}" y1="{top - 10}" x2="{x:.0f}" y2="{axis_y + 4}" stroke="#ddd"/>'
                f'<text x="{x + 2:.0f}" y="{axis_y + 16}">{year}</text>'
            )
    for e, x, lane in placed:
        y = top + lane * 18
        mark = (
            f'<g><title>{_hover(e)}</title><circle cx="{x:.1f}" cy="{y:.0f}" r="4" fill="{colors[e.family]}"/>'
            f'<text x="{x + 7:.1f}" y="{y + 4:.0f}">{escape(e.name)}</text></g>'
        )
        body.append(_link(e, link_prefix, mark))
    legend, _ = _legend(colors, width - 230, top)
    body += legend
    return _svg(width, height, body, "Timeline of the Transformer catalog, coloured by family")


# -- sizes over time ---------------------------------------------------------------------------------------------------
def sizes_svg(entries, link_prefix: str | None = None) -> str:
    """Parameters (log scale) against date. A model with several sizes is a vertical bar from its
    smallest to its largest; the largest is labelled where a label fits without overlap."""
    sized = sorted((e for e in entries if e.max_params), key=lambda e: (e.date, -(e.max_params or 0)))
    colors = family_colors(sized)
    first, last = _month_index(sized[0].date), _month_index(sized[-1].date)
    lo = math.floor(math.log10(min(e.min_params for e in sized)))
    hi = math.ceil(math.log10(max(e.max_params for e in sized)))
    left, top, plot_w, plot_h = 70, 30, 1700, 800
    width, height = left + plot_w + 250, top + plot_h + 50

    def X(date):
        return left + (_month_index(date) - first + 0.5) / (last - first + 1) * plot_w

    def Y(n):
        return top + plot_h - (math.log10(n) - lo) / (hi - lo) * plot_h

    body = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>']
    for k in range(lo, hi + 1):
        y = Y(10**k)
        body.append(
            f'<line x1="{left}" y1="{y:.0f}" x2="{left + plot_w}" y2="{y:.0f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y + 4:.0f}" text-anchor="end">{human(10**k)}</text>'
        )
    for year in range(first // 12, last // 12 + 1):
        x = X(f"{year}-01")
        if left <= x <= left + plot_w:
            body.append(
                f'<line x1="{x:.0f}" y1="{top}" x2="{x:.0f}" y2="{top + plot_h}" stroke="#eee"/>'
                f'<text x="{x:.0f}" y="{top + plot_h + 16}" text-anchor="middle">{year}</text>'
            )
    body.append(
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">first publication</text>'
        f'<text x="16" y="{top + plot_h / 2}" transform="rotate(-90 16 {top + plot_h / 2})" text-anchor="middle">'
        "parameters (log scale)</text>"
    )
    boxes: list[tuple[float, float, float, float]] = []
    marks, labels = [], []
    for e in sized:
        x, y_hi, y_lo = X(e.date), Y(e.max_params), Y(e.min_params)
        # Dots block labels; the thin range bars may be crossed by another model's label.
        boxes += [(x - 4, Y(s.params) - 4, x + 4, Y(s.params) + 4) for s in e.sizes if s.params]
        col = colors[e.family]
        bar = (
            f'<line x1="{x:.1f}" y1="{y_lo:.1f}" x2="{x:.1f}" y2="{y_hi:.1f}" stroke="{col}" stroke-width="3"/>'
            if y_lo - y_hi > 1
            else ""
        )
        dots = "".join(f'<circle cx="{x:.1f}" cy="{Y(s.params):.1f}" r="3" fill="{col}"/>' for s in e.sizes if s.params)
        marks.append(_link(e, link_prefix, f"<g><title>{_hover(e)}</title>{bar}{dots}</g>"))
    for e in sorted(sized, key=lambda e: -(e.max_params or 0)):  # big models claim label space first
        x, y = X(e.date), Y(e.max_params)
        w, h = CHAR_W * len(e.name), 11
        for dx, dy in (
            (6, 4),
            (-6 - w, 4),
            (6, -8),
            (-6 - w, -8),
            (6, 16),
            (-6 - w, 16),
            (-w / 2, -10),
            (-w / 2, 20),
            (6, -20),
            (-6 - w, -20),
            (6, 28),
            (-6 - w, 28),
        ):
            box = (x + dx, y + dy - h + 2, x + dx + w, y + dy + 2)
            inside = left <= box[0] and box[2] <= left + plot_w and top <= box[1] and box[3] <= top + plot_h
            if inside and not any(b[0] < box[2] and box[0] < b[2] and b[1] < box[3] and box[1] < b[3] for b in boxes):
                boxes.append(box)
                labels.append(f'<text x="{x + dx:.1f}" y="{y + dy:.1f}">{escape(e.name)}</text>')
                break
    legend, _ = _legend(colors, left + plot_w + 20, top + 10, max_items=24)
    body += marks + labels + legend
    return _svg(width, height, body, "Parameters of Transformer models over time (log scale)")
