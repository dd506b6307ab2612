"""What the site's model and lineage pages show, as plain data for the templates (which escape it).

The newer catalog fields (context length, training tokens and compute, hardware, open weights,
modalities, base model, hybrid layers, per-fact sources) are optional: every one is read with
`fact`, so an entry without it (or a catalog loaded before the schema had it) shows nothing there.
Lineage roots gather the experiments whose registry entry names them (`Experiment.lineage`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .chartkit import fact
from .charts import weights_status
from .load import slug
from .query import human, size_range


@dataclass
class Fact:
    label: str
    text: str
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url): rendered by the site's link()


def _sourced(label: str, text: str, node, extra: str | None = None) -> Fact:
    note = fact(node, "note")
    if text == "undisclosed" and note and "undisclosed" in note.lower():
        text, note = note, None  # the note already says so, with its reason
    parts = [text] + [p for p in (extra, note) if p]
    source = fact(node, "source")
    return Fact(label, " — ".join(parts), [("source", source)] if source else [])


def _amount(value, unit: str, fmt) -> str:
    return f"{fmt(value)} {unit}" if value is not None else "undisclosed"


def model_facts(e) -> list[Fact]:
    """The entry's newer facts in reading order; absent fields are left out."""
    out = []
    sizes = [s for s in e.sizes if fact(s, "active_params")]
    if sizes:
        text = ", ".join(f"{s.variant}: {human(s.active_params)} of {human(s.params)}" for s in sizes)
        out.append(Fact("Active parameters", text))
    if fact(e, "date_kind"):
        kind = _DATE_KINDS.get(e.date_kind, e.date_kind)
        out.append(Fact("Date is that of", f"the {kind}"))
    c = fact(e, "context_length")
    if c is not None:
        out.append(_sourced("Context length", _amount(fact(c, "tokens"), "tokens", "{:,}".format), c))
    t = fact(e, "training_tokens")
    if t is not None:
        text = _amount(fact(t, "tokens"), "tokens", lambda v: human(int(v)))
        if fact(t, "tokens") is not None and fact(t, "variant"):  # the size they were counted for
            text += f" for {t.variant}"
        out.append(_sourced("Training tokens", text, t))
    k = fact(e, "training_compute")
    if k is not None:
        flop = fact(k, "flop")
        how = [fact(k, "method"), fact(k, "confidence") and f"confidence {k.confidence}", fact(k, "variant")]
        text = _amount(flop, "FLOP", "{:.3g}".format) + (f" ({', '.join(h for h in how if h)})" if flop else "")
        out.append(_sourced("Training compute", text, k))
    h = fact(e, "hardware")
    if h is not None:
        count = fact(h, "count")
        out.append(_sourced("Hardware", f"{count:,} × {h.kind}" if count else str(fact(h, "kind")), h))
    w = fact(e, "open_weights")
    if w is not None:
        text = ("yes" if fact(w, "open") else "no") + (f" ({w.format})" if fact(w, "format") else "")
        item = _sourced("Open weights", text, w)
        for change in fact(w, "license_changes") or []:
            item.text += f"; {fact(change, 'date') or '?'}: {fact(change, 'license')}"
            if fact(change, "source"):
                item.links.append((f"licence {fact(change, 'date') or ''}".strip(), change.source))
        out.append(item)
    m = fact(e, "modalities")
    if m is not None:
        out.append(Fact("Modalities", f"{', '.join(fact(m, 'input') or [])} → {', '.join(fact(m, 'output') or [])}"))
    if fact(e, "base_model"):
        out.append(Fact("Base model (weights)", ", ".join(e.base_model)))
    hy = fact(e, "hybrid")
    if hy is not None:
        out.append(_sourced("Hybrid layers", str(fact(hy, "layers")), hy))
    src = fact(e, "sources")
    if src is not None:
        links = [(what, fact(src, key)) for key, what in _SOURCES if fact(src, key)]
        out.append(Fact("Sources", fact(src, "note") or "", links))
    return out


_DATE_KINDS = {"arxiv": "first arXiv version", "paper": "paper", "release": "release", "announcement": "announcement"}
_SOURCES = (("date", "date"), ("derived_from", "parents"), ("architecture", "architecture"))


# -- lineage roots -------------------------------------------------------------------------------------------
@dataclass
class Run:
    results: dict
    figures: list[str]
    folder: str  # claims/<folder>/<figure> on the site


@dataclass
class Row:
    root: object  # the lineage.yaml record
    slug: str
    grew_from: list[str]
    leads_to: list[tuple[str, str | None]]  # (name, its page relative to the site's root, or None)
    runs: list[Run]


def runs_by_root(claims, lineage_of=None) -> dict[str, list[Run]]:
    """The shipped experiments grouped by the lineage root they demonstrate. `lineage_of` is the
    registry's {experiment name: root}; a result not in it may name its root itself ("lineage")."""
    out: dict[str, list[Run]] = {}
    for results, figures in claims:
        name = results.get("name")
        root = (lineage_of or {}).get(name) if name in (lineage_of or {}) else results.get("lineage")
        if isinstance(root, str) and root:
            out.setdefault(root, []).append(Run(results, sorted(figures), slug(str(name))))
    return out


def lineage_rows(catalog, runs: dict[str, list[Run]]) -> list[Row]:
    """One row per lineage root, oldest first, with its links into the tree of pages."""
    roots = {r.name for r in catalog.lineage}
    rows = []
    for r in sorted(catalog.lineage, key=lambda r: (r.year, r.name)):
        leads = []
        for n in r.leads_to:
            entry = catalog.find(n)
            path = f"lineage/{slug(n)}.html" if n in roots else f"models/{slug(entry.name)}.html" if entry else None
            leads.append((n, path))
        grew = sorted(p.name for p in catalog.lineage if r.name in p.leads_to)
        rows.append(Row(r, slug(r.name), grew, leads, runs.get(r.name, [])))
    return rows


# -- the family side by side ---------------------------------------------------------------------------------
FAMILY_COLUMNS = (
    "Model",
    "Date",
    "Parameters",
    "Active",
    "Context",
    "Training tokens",
    "Compute (FLOP)",
    "Open weights",
)


def family_cells(m) -> list[str]:
    """The facts people compare first, in FAMILY_COLUMNS order after the name ("—" where absent)."""
    active = [s.active_params for s in m.sizes if fact(s, "active_params")]
    context, tokens = fact(m, "context_length", "tokens"), fact(m, "training_tokens", "tokens")
    flop = fact(m, "training_compute", "flop")
    return [
        m.date,
        size_range(m),
        human(max(active)) if active else "—",
        f"{context:,}" if context else "—",
        human(int(tokens)) if tokens else "—",
        f"{flop:.2g}" if flop else "—",
        weights_status(m),
    ]


def family_rows(members, e, cells: dict) -> list[tuple[str, str | None, list[str]]]:
    """`e` among `members` (its family, oldest first) side by side, as (name, page or None for
    `e` itself, cells); `cells` caches family_cells by name across the family's pages."""
    rows = []
    for m in members:
        if m.name not in cells:
            cells[m.name] = family_cells(m)
        rows.append((m.name, None if m.name == e.name else f"{slug(m.name)}.html", cells[m.name]))
    return rows
