"""Pictures of the catalog as self-contained SVG: the family tree (a layered DAG), the timeline
coloured by family, and parameters over time on a log scale (charts.py has the trends: compute,
tokens, context length, open weights).

Every mark carries a <title>, so browsers show the model on hover; every string is escaped.
Labels are placed so that none overlaps another: where no free spot exists the label is left
out and the hover title remains (the catalog paper's size chart hid labels under each other).
Each picture has a viewBox and its legend (every family) below the plot, so a page that scales it
to its container keeps the legend in view.
"""

from __future__ import annotations

import math
from collections import defaultdict
from html import escape

from .chartkit import CHAR_W, PALETTE, family_colors, legend, month_index, place_label, svg_doc
from .chartkit import hover as _hover
from .chartkit import link as _link
from .load import slug
from .query import human

__all__ = ["PALETTE", "family_colors", "family_tree_svg", "sizes_svg", "timeline_svg"]


def _family_legend(colors: dict, x: float, y: float, width: float) -> tuple[str, float]:
    return legend(list(colors.items()), x, y, width)


# -- family tree -------------------------------------------------------------------------------------------
def _canonical(catalog, name: str) -> str:
    entry = catalog.find(name)
    return entry.name if entry is not None else name


def _tree_layout(catalog):
    """Layered DAG: each node sits one layer right of its deepest parent; within a layer, nodes
    are ordered by the mean position of their parents (barycentre heuristic) to limit crossings."""
    entries = {e.name: e for e in catalog.entries}
    # a parent may be named by an alias ("Command R+"): the edge goes to the entry's own box
    parents = {e.name: [_canonical(catalog, p) for p in e.derived_from] for e in catalog.entries}
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
    years = {r.name: str(r.year) for r in catalog.lineage}

    def date(n):
        return entries[n].date if n in entries else years[n]

    pos: dict[str, float] = {}
    for d in sorted(layers):
        for n in layers[d]:
            ps = [pos[p] for p in parents.get(n, []) if p in pos]
            pos[n] = sum(ps) / len(ps) if ps else 0.0
        layers[d].sort(key=lambda n: (pos[n], date(n)))
        for i, n in enumerate(layers[d]):
            pos[n] = float(i)
    return entries, parents, depth, pos, layers, date


def family_tree_svg(catalog, link_prefix: str | None = None, root_prefix: str | None = None) -> str:
    """The tree, drawn in three layers: boxes, then the edges over them (so an edge that spans
    several columns stays visible where it crosses a box), then the labels over the edges. Nodes
    and edges carry data-node / data-from / data-to ids, so the site's script can light up a node's
    path to its roots on hover. Entries link to `link_prefix`, lineage roots to `root_prefix`."""
    entries, parents, depth, pos, layers, date = _tree_layout(catalog)
    colors = family_colors(catalog.entries)
    col_w, row_h, node_w, node_h, left, top = 200, 24, 160, 18, 20, 20
    plot_w = left + col_w * max(layers) + node_w + 20
    rows_h = top + row_h * max(len(v) for v in layers.values())
    ids = {n: i for i, n in enumerate(sorted(depth, key=lambda n: (depth[n], pos[n])))}
    xy = {n: (left + depth[n] * col_w, top + pos[n] * row_h) for n in depth}
    boxes, edges, labels = [], [], []
    for n, ps in parents.items():
        for p in ps:
            if p in xy and n in xy:
                (x1, y1), (x2, y2) = xy[p], xy[n]
                x1 += node_w
                y1, y2 = y1 + node_h / 2, y2 + node_h / 2
                mid = x1 + min(col_w - node_w, x2 - x1) / 2  # bend in the gap next to the parent
                edges.append(
                    f'<path class="edge" data-from="{ids[p]}" data-to="{ids[n]}" d="M{x1:.0f},{y1:.0f} '
                    f'C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2 - 8:.0f},{y2:.0f} L{x2:.0f},{y2:.0f}" '
                    'fill="none" stroke="#555" stroke-opacity="0.6" stroke-width="1.2" pointer-events="none">'
                    f"<title>{escape(p)} → {escape(n)}</title></path>"
                )
    for n, (x, y) in xy.items():
        e = entries.get(n)
        fill = colors[e.family] if e else "#ddd"
        label = n if len(n) <= 23 else n[:22] + "…"
        hover = _hover(e) if e else escape(f"{n} ({date(n)}) · pre-Transformer architecture")
        node = (
            f'<g class="node" data-node="{ids[n]}"><title>{hover}</title><rect x="{x}" y="{y}" width="{node_w}" '
            f'height="{node_h}" rx="4" fill="{fill}" fill-opacity="0.55" stroke="{fill}"/></g>'
        )
        if e:
            boxes.append(_link(e, link_prefix, node))
        elif root_prefix is not None:
            boxes.append(f'<a href="{escape(root_prefix + slug(n))}.html">{node}</a>')
        else:
            boxes.append(node)
        labels.append(f'<text x="{x + 6}" y="{y + 13}" fill="#111" pointer-events="none">{escape(label)}</text>')
    key, key_h = _family_legend(colors, left, rows_h + 16, plot_w - left)
    roots = (
        f'<rect x="{left}" y="{rows_h + 20 + key_h - 9}" width="10" height="10" fill="#ddd"/>'
        f'<text x="{left + 15}" y="{rows_h + 20 + key_h}">pre-Transformer architecture (lineage root)</text>'
    )
    height = rows_h + 16 + key_h + 20
    body = boxes + ['<g class="edges">'] + edges + ["</g>"] + labels + [key, roots]
    return svg_doc(plot_w, height, body, "Family tree of the Transformer catalog", kind="tree")


# -- timeline ----------------------------------------------------------------------------------------------------
def timeline_svg(entries, link_prefix: str | None = None) -> str:
    """Models on a time axis, coloured by family; labels packed into lanes so none overlap."""
    entries = sorted(entries, key=lambda e: (e.date, e.name))
    colors = family_colors(entries)
    first, last = month_index(entries[0].date), month_index(entries[-1].date)
    left, top, px = 30, 20, 10.0
    lanes: list[float] = []  # right edge of the last label in each lane
    placed = []
    for e in entries:
        x = left + (month_index(e.date) - first) * px
        w = 10 + CHAR_W * len(e.name)
        lane = next((i for i, right in enumerate(lanes) if right + 4 < x), None)
        if lane is None:
            lanes.append(0.0)
            lane = len(lanes) - 1
        lanes[lane] = x + w
        placed.append((e, x, lane))
    axis_end = left + (last - first + 1) * px
    width = max(axis_end, max(lanes)) + 20
    axis_y = top + 18 * len(lanes) + 10
    body = [f'<line x1="{left}" y1="{axis_y}" x2="{axis_end}" y2="{axis_y}" stroke="#333"/>']
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
            f'<g class="mark"><title>{_hover(e)}</title><circle cx="{x:.1f}" cy="{y:.0f}" r="4" '
            f'fill="{colors[e.family]}"/><text x="{x + 7:.1f}" y="{y + 4:.0f}">{escape(e.name)}</text></g>'
        )
        body.append(_link(e, link_prefix, mark))
    key, key_h = _family_legend(colors, left, axis_y + 30, width - left)
    body.append(key)
    return svg_doc(width, axis_y + 30 + key_h + 10, body, "Timeline of the Transformer catalog, coloured by family")


# -- sizes over time ---------------------------------------------------------------------------------------------------
def sizes_svg(entries, link_prefix: str | None = None) -> str:
    """Parameters (log scale) against date. A model with several sizes is a vertical bar from its
    smallest to its largest; the largest is labelled where a label fits without overlap."""
    sized = sorted((e for e in entries if e.max_params), key=lambda e: (e.date, -(e.max_params or 0)))
    colors = family_colors(sized)
    first, last = month_index(sized[0].date), month_index(sized[-1].date)
    lo = math.floor(math.log10(min(e.min_params for e in sized)))
    hi = max(lo + 1, math.ceil(math.log10(max(e.max_params for e in sized))))
    left, top, plot_w, plot_h = 70, 20, 1100, 620
    width = left + plot_w + 20

    def X(date):
        return left + (month_index(date) - first + 0.5) / (last - first + 1) * plot_w

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
        f'<text x="{left + plot_w / 2}" y="{top + plot_h + 34}" text-anchor="middle">first publication</text>'
        f'<text x="16" y="{top + plot_h / 2}" transform="rotate(-90 16 {top + plot_h / 2})" text-anchor="middle">'
        "parameters (log scale)</text>"
    )
    boxes = []
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
        marks.append(_link(e, link_prefix, f'<g class="mark"><title>{_hover(e)}</title>{bar}{dots}</g>'))
    bounds = (left, top, left + plot_w, top + plot_h)
    for e in sorted(sized, key=lambda e: -(e.max_params or 0)):  # big models claim label space first
        text = place_label(X(e.date), Y(e.max_params), e.name, boxes, bounds)
        if text:
            labels.append(text)
    key, key_h = _family_legend(colors, left, top + plot_h + 48, plot_w)
    body += marks + labels + [key]
    height = top + plot_h + 48 + key_h + 10
    return svg_doc(width, height, body, "Parameters of Transformer models over time (log scale)")
