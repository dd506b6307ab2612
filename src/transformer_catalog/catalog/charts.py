"""The catalog's trends as SVG charts (issue 19, item 4): training compute over time, parameters
against training tokens with the Chinchilla-optimal line, context length over time, and open vs
closed weights per year.

Each chart is drawn from the entries that record its field and says how many of all entries that
is: the fields are optional and still being filled, so an entry without one is left out, never
placed at a guessed value, and a chart no entry feeds says so instead of drawing empty axes.
Points are one <g class="mark"> per entry (hover title, link to its page); labels are placed only
where they overlap nothing.
"""

from __future__ import annotations

import math
from html import escape

from .chartkit import fact, legend, link, month_index, place_label, svg_doc
from .pictures import family_tree_svg, sizes_svg, timeline_svg
from .query import human

CHINCHILLA_TOKENS_PER_PARAM = 20  # Hoffmann et al. 2022: compute-optimal D ≈ 20 N
WIDTH, LEFT, TOP, PLOT_W, PLOT_H = 960, 80, 44, 850, 420
OPEN_LICENSES = {"open", "open-restricted", "non-commercial"}  # weights downloadable, whatever the terms
CLOSED_LICENSES = {"api", "closed", "code-only"}
STATUS_COLORS = {"open": "#59a14f", "closed": "#e15759", "unknown": "#bab0ac"}


def weights_status(e) -> str:
    """open | closed | unknown: open_weights.open where the entry records it, else its licence."""
    flag = fact(e, "open_weights", "open")
    if flag is not None:
        return "open" if flag else "closed"
    category = fact(e, "license", "category")
    return "open" if category in OPEN_LICENSES else "closed" if category in CLOSED_LICENSES else "unknown"


# -- axes --------------------------------------------------------------------------------------------------
class TimeAxis:
    """Whole years around the dates; a year's label sits in the middle of its span."""

    def __init__(self, dates: list[str]):
        self.lo = month_index(min(dates)) // 12 * 12
        self.hi = (month_index(max(dates)) // 12 + 1) * 12
        step = 1 if self.hi - self.lo <= 14 * 12 else 2
        self.ticks = [(f"{y}-01", str(y)) for y in range(self.lo // 12, self.hi // 12, step)]
        self.label_shift = 6 / (self.hi - self.lo)

    def frac(self, date: str) -> float:
        return (month_index(date) - self.lo) / (self.hi - self.lo)


class LogAxis:
    """Whole powers of `base` from below the smallest value to above the largest."""

    label_shift = 0.0

    def __init__(self, values: list[float], base: int = 10, fmt=human):
        self.base = base
        self.lo = math.floor(math.log(min(values), base) + 1e-9)
        self.hi = max(self.lo + 1, math.ceil(math.log(max(values), base) - 1e-9))
        step = max(1, math.ceil((self.hi - self.lo) / 12))
        self.ticks = [(base**k, fmt(base**k)) for k in range(self.lo, self.hi + 1, step)]

    def frac(self, value: float) -> float:
        return (math.log(value, self.base) - self.lo) / (self.hi - self.lo)


def _flop(v: float) -> str:
    return f"1e{round(math.log10(v))}"


def _tokens(v: float) -> str:
    return human(int(v)).replace("K", "k")


def _frame(title: str, note: str, x_axis, y_axis, x_label: str, y_label: str):
    """Caption, plot box, grid and tick labels; returns the body so far and the data -> pixel map.
    A time axis places a date's mark in the middle of its month."""
    half_month = 0.5 / (x_axis.hi - x_axis.lo) if isinstance(x_axis, TimeAxis) else 0.0

    def xy(xv, yv):
        return LEFT + (x_axis.frac(xv) + half_month) * PLOT_W, TOP + PLOT_H - y_axis.frac(yv) * PLOT_H

    body = [
        f'<text x="{LEFT}" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<text x="{LEFT}" y="32" fill="#555">{escape(note)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#333"/>',
    ]
    for value, label in y_axis.ticks:
        y = TOP + PLOT_H - y_axis.frac(value) * PLOT_H
        body.append(
            f'<line x1="{LEFT}" y1="{y:.0f}" x2="{LEFT + PLOT_W}" y2="{y:.0f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.0f}" text-anchor="end">{escape(label)}</text>'
        )
    for value, label in x_axis.ticks:
        x = LEFT + x_axis.frac(value) * PLOT_W
        body.append(
            f'<line x1="{x:.0f}" y1="{TOP}" x2="{x:.0f}" y2="{TOP + PLOT_H}" stroke="#eee"/>'
            f'<text x="{x + x_axis.label_shift * PLOT_W:.0f}" y="{TOP + PLOT_H + 16}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    mid = TOP + PLOT_H / 2
    body.append(
        f'<text x="{LEFT + PLOT_W / 2}" y="{TOP + PLOT_H + 34}" text-anchor="middle">{escape(x_label)}</text>'
        f'<text x="16" y="{mid}" transform="rotate(-90 16 {mid})" text-anchor="middle">{escape(y_label)}</text>'
    )
    return body, xy


def _empty(title: str, message: str) -> str:
    body = [
        f'<text x="{LEFT}" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<text class="empty" x="{LEFT}" y="44" fill="#555">{escape(message)}</text>',
    ]
    return svg_doc(WIDTH, 64, body, title)


def _scatter(title, note, points, x_axis, y_axis, x_label, y_label, series, link_prefix, extra=()) -> str:
    """points: [(entry, x value, y value, series key, hover text)]; series: {key: (label, colour)}."""
    body, xy = _frame(title, note, x_axis, y_axis, x_label, y_label)
    body += list(extra_lines(extra, xy))
    boxes, marks, labels = [], [], []
    placed = []
    for e, xv, yv, key, text in points:
        x, y = xy(xv, yv)
        boxes.append((x - 4, y - 4, x + 4, y + 4))
        placed.append((e, x, y))
        mark = (
            f'<g class="mark" data-series="{escape(key)}"><title>{escape(text)}</title>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{series[key][1]}" fill-opacity="0.85" stroke="#fff" '
            'stroke-width="0.5"/></g>'
        )
        marks.append(link(e, link_prefix, mark))
    bounds = (LEFT, TOP, LEFT + PLOT_W, TOP + PLOT_H)
    for e, x, y in sorted(placed, key=lambda p: p[2]):  # the highest points claim label space first
        text = place_label(x, y, e.name, boxes, bounds)
        if text:
            labels.append(text)
    used = [k for k in series if any(p[3] == k for p in points)]
    items = [(f"{series[k][0]} ({sum(p[3] == k for p in points)})", series[k][1]) for k in used]
    items += [(label, col) for _, label, col in extra]
    key, key_h = legend(items, LEFT, TOP + PLOT_H + 48, PLOT_W, swatch="circle")
    body += marks + labels + [key]
    return svg_doc(WIDTH, TOP + PLOT_H + 48 + key_h + 8, body, title)


def extra_lines(extra, xy):
    """Reference lines [(points in data units, label, colour)] as dashed polylines, clipped to the plot."""
    for pts, label, col in extra:
        coords = [xy(a, b) for a, b in pts]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        yield (
            f'<g class="reference"><title>{escape(label)}</title><polyline points="{path}" fill="none" '
            f'stroke="{col}" stroke-width="1.5" stroke-dasharray="6 4"/></g>'
        )


def _note(n: int, total: int, what: str) -> str:
    return f"{n} of {total} entries record {what}; the others are left out, never guessed"


# -- the charts --------------------------------------------------------------------------------------------
def compute_svg(entries, link_prefix: str | None = None) -> str:
    title = "Training compute over time (FLOP, log scale)"
    methods = {
        "reported": ("reported", "#4e79a7"),
        "estimated-6ND": ("estimated as 6·N·D", "#f28e2b"),
        "other": ("method not recorded", "#bab0ac"),  # never counted as reported
    }
    points = []
    for e in entries:
        flop = fact(e, "training_compute", "flop")
        if flop and flop > 0:
            c = e.training_compute
            method = fact(c, "method") if fact(c, "method") in methods else "other"
            variant = f", {c.variant}" if fact(c, "variant") else ""
            hover = f"{e.name} ({e.date}): {flop:.3g} FLOP{variant}, {method}, confidence {fact(c, 'confidence')}"
            points.append((e, e.date, float(flop), method, hover))
    if not points:
        return _empty(title, "No entry records its training compute yet.")
    note = _note(len(points), len(entries), "their training compute")
    x, y = TimeAxis([p[1] for p in points]), LogAxis([p[2] for p in points], fmt=_flop)
    return _scatter(title, note, points, x, y, "first publication", "training compute (FLOP)", methods, link_prefix)


def tokens_size(e) -> tuple[str | None, int | None]:
    """(variant, parameters) of the size the training tokens were counted for: training_tokens.variant
    where given (tokens are often published for one size only), else the largest size."""
    variant = fact(e, "training_tokens", "variant")
    if variant:
        size = next((s for s in e.sizes if s.variant == variant), None)
        return variant, fact(size, "params")
    return None, e.max_params


def tokens_svg(entries, link_prefix: str | None = None) -> str:
    """N (the size the tokens were counted for, else the largest; total parameters for a mixture of
    experts) against D, with the Chinchilla-optimal line D = 20 N: points right of it saw more
    tokens per parameter."""
    title = "Parameters against training tokens (log–log), with the Chinchilla-optimal line"
    arch = {"decoder": ("decoder", "#4e79a7"), "encoder": ("encoder", "#f28e2b")}
    arch["encoder-decoder"] = ("encoder-decoder", "#76b7b2")
    points = []
    for e in entries:
        (variant, n), d = tokens_size(e), fact(e, "training_tokens", "tokens")
        if d and n and d > 0:
            ratio = d / n
            of = f" ({variant})" if variant else ""
            hover = (
                f"{e.name} ({e.date}): {human(n)} parameters{of}, {human(int(d))} tokens ({ratio:.3g} per parameter)"
            )
            points.append((e, float(d), float(n), e.architecture if e.architecture in arch else "decoder", hover))
    if not points:
        return _empty(title, "No entry records its training tokens (and a size) yet.")
    x = LogAxis([p[1] for p in points] + [p[2] * CHINCHILLA_TOKENS_PER_PARAM for p in points], fmt=_tokens)
    y = LogAxis([p[2] for p in points] + [p[1] / CHINCHILLA_TOKENS_PER_PARAM for p in points])
    # the line inside the plot box: from where it enters to where it leaves
    k = CHINCHILLA_TOKENS_PER_PARAM
    lo, hi = max(x.base**x.lo, k * y.base**y.lo), min(x.base**x.hi, k * y.base**y.hi)
    line = [(d, d / k) for d in (lo, hi)]
    note = _note(len(points), len(entries), "training tokens and a size")
    extra = [(line, f"Chinchilla-optimal: D = {CHINCHILLA_TOKENS_PER_PARAM} N", "#333")]
    return _scatter(title, note, points, x, y, "training tokens D", "parameters N", arch, link_prefix, extra)


def _context(n: float) -> str:
    return f"{int(n) // 1024}K" if n >= 1024 and n < 1 << 20 else f"{int(n) >> 20}M" if n >= 1 << 20 else str(int(n))


def context_svg(entries, link_prefix: str | None = None) -> str:
    title = "Context length over time (tokens, log scale)"
    points = []
    for e in entries:
        n = fact(e, "context_length", "tokens")
        if n and n > 0:
            status = weights_status(e)
            hover = f"{e.name} ({e.date}): {n:,} tokens of context · weights {status}"
            points.append((e, e.date, float(n), status, hover))
    if not points:
        return _empty(title, "No entry records its context length yet.")
    series = {k: (f"{k} weights", c) for k, c in STATUS_COLORS.items()}
    note = _note(len(points), len(entries), "their context length")
    x, y = TimeAxis([p[1] for p in points]), LogAxis([p[2] for p in points], base=2, fmt=_context)
    return _scatter(title, note, points, x, y, "first publication", "context length (tokens)", series, link_prefix)


def open_weights_svg(entries, link_prefix: str | None = None) -> str:
    """Entries per year, stacked by weights status (open_weights.open, else the licence category)."""
    title = "Open vs closed weights per year"
    by_year: dict[int, dict[str, list[str]]] = {}
    for e in sorted(entries, key=lambda e: (e.date, e.name)):
        by_year.setdefault(int(e.date[:4]), {k: [] for k in STATUS_COLORS})[weights_status(e)].append(e.name)
    if not by_year:
        return _empty(title, "The catalog has no entries.")
    years = list(range(min(by_year), max(by_year) + 1))
    top_count = max(sum(len(v) for v in by_year[y].values()) for y in by_year)
    step = max(1, math.ceil(top_count / 8))
    y_max = math.ceil(top_count / step) * step
    bar_w = PLOT_W / len(years)
    body = [
        f'<text x="{LEFT}" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<text x="{LEFT}" y="32" fill="#555">open_weights.open where recorded, else the licence; '
        f"{len(entries)} entries by year of first publication</text>",
        f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#333"/>',
    ]
    for k in range(0, y_max + 1, step):
        y = TOP + PLOT_H - k / y_max * PLOT_H
        body.append(
            f'<line x1="{LEFT}" y1="{y:.0f}" x2="{LEFT + PLOT_W}" y2="{y:.0f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.0f}" text-anchor="end">{k}</text>'
        )
    label_every = max(1, math.ceil(len(years) * 34 / PLOT_W))
    for i, year in enumerate(years):
        x, base = LEFT + i * bar_w, 0
        if (year - years[0]) % label_every == 0:
            body.append(f'<text x="{x + bar_w / 2:.0f}" y="{TOP + PLOT_H + 16}" text-anchor="middle">{year}</text>')
        for status, names in by_year.get(year, {}).items():
            if not names:
                continue
            h = len(names) / y_max * PLOT_H
            y = TOP + PLOT_H - base / y_max * PLOT_H - h
            hover = f"{year}: {len(names)} {status} — {', '.join(names)}"
            body.append(
                f'<g class="bar" data-year="{year}" data-status="{status}" data-count="{len(names)}">'
                f'<title>{escape(hover)}</title><rect x="{x + bar_w * 0.12:.1f}" y="{y:.1f}" '
                f'width="{bar_w * 0.76:.1f}" height="{h:.1f}" fill="{STATUS_COLORS[status]}"/></g>'
            )
            base += len(names)
    mid = TOP + PLOT_H / 2
    body.append(
        f'<text x="{LEFT + PLOT_W / 2}" y="{TOP + PLOT_H + 34}" text-anchor="middle">year of first publication</text>'
        f'<text x="16" y="{mid}" transform="rotate(-90 16 {mid})" text-anchor="middle">entries</text>'
    )
    key, key_h = legend([(f"{k} weights", c) for k, c in STATUS_COLORS.items()], LEFT, TOP + PLOT_H + 48, PLOT_W)
    body.append(key)
    return svg_doc(WIDTH, TOP + PLOT_H + 48 + key_h + 8, body, title)


# -- every picture -----------------------------------------------------------------------------------------
TRENDS = (
    ("compute", "Training compute over time", compute_svg),
    ("tokens", "Parameters against training tokens", tokens_svg),
    ("context", "Context length over time", context_svg),
    ("open-weights", "Open vs closed weights", open_weights_svg),
)


def catalog_pictures(catalog, link_prefix: str | None = None, root_prefix: str | None = None) -> dict:
    """{file stem: (title, SVG)} of every picture: what `tcat pictures` writes and the site shows."""
    out = {
        "tree": ("Family tree", family_tree_svg(catalog, link_prefix, root_prefix)),
        "timeline": ("Timeline", timeline_svg(catalog.entries, link_prefix)),
        "sizes": ("Parameters over time", sizes_svg(catalog.entries, link_prefix)),
    }
    for name, title, draw in TRENDS:
        out[name] = (title, draw(catalog.entries, link_prefix))
    return out


__all__ = ["TRENDS", "catalog_pictures", "compute_svg", "context_svg", "open_weights_svg", "tokens_svg"]
