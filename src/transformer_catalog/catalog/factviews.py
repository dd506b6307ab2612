"""Terminal views of issue 19's facts: the rows `tcat show` adds, `tcat compare` (side by side), the
coverage report and a lineage root's page. Strings go through views.t() (control sequences
removed, markup escaped); every fact is optional (query.fact), so older data shows nothing.
"""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from .factcheck import six_nd
from .query import context_text, fact, flop_text, human, size_range
from .text import clean
from .views import t

FACT_LABELS = (
    "context length",
    "training tokens",
    "training compute",
    "hardware",
    "open weights",
    "licence history",
    "modalities",
    "base model (weights)",
    "hybrid layers",
)


def size_text(s) -> str:
    text = human(s.params) if s.params else "undisclosed"
    active = fact(s, "active_params")
    return f"{text} ({human(active)} active)" if active else text


def date_text(e) -> str:
    kind = fact(e, "date_kind")
    return f"{e.date} ({kind})" if kind else e.date


def new_facts(e, notes: bool = True) -> list[tuple[str, str]]:
    """(label, text) of each issue-19 fact the entry records, in FACT_LABELS order; with `notes`,
    each fact's note follows it."""
    out = []

    def _noted(text: str, node) -> str:
        note = fact(node, "note") if notes else None
        same = note and note.strip(" .").lower() == text.lower()  # "undisclosed — undisclosed" says it once
        return f"{text} — {note}" if note and not same else text

    ctx = fact(e, "context_length")
    if ctx is not None:
        n = fact(ctx, "tokens")
        out.append(("context length", _noted(context_text(n) + (f" tokens ({n})" if n else ""), ctx)))
    tok = fact(e, "training_tokens")
    if tok is not None:
        n = fact(tok, "tokens")
        of = f" for {tok.variant}" if fact(tok, "variant") else ""  # tokens often belong to one size
        out.append(("training tokens", _noted((human(n) if n else "undisclosed") + of, tok)))
    comp = fact(e, "training_compute")
    if comp is not None:
        flop = fact(comp, "flop")
        text = flop_text(flop) + (" FLOP" if flop else "")
        how = ", ".join(
            x for x in (fact(comp, "method"), fact(comp, "confidence") and f"{comp.confidence} confidence") if x
        )
        text += f" ({how})" if how else ""
        text += f" for {comp.variant}" if fact(comp, "variant") else ""
        est = six_nd(e.to_dict()) if hasattr(e, "to_dict") else None
        if est and fact(comp, "method") != "estimated-6ND":  # a published number beside the rule of thumb
            text += f"; 6·N·D = {est[0]:.2g}"
        out.append(("training compute", _noted(text, comp)))
    hw = fact(e, "hardware")
    if hw is not None:
        count = fact(hw, "count")
        out.append(("hardware", _noted(f"{count} × {hw.kind}" if count else hw.kind, hw)))
    w = fact(e, "open_weights")
    if w is not None:
        fmt = fact(w, "format")
        out.append(("open weights", _noted(("yes" if w.open else "no") + (f" ({fmt})" if fmt else ""), w)))
        changes = fact(w, "license_changes") or []
        if changes:
            out.append(("licence history", "; ".join(f"{c.date} {c.license}" for c in changes)))
    mod = fact(e, "modalities")
    if mod is not None:
        out.append(("modalities", f"{', '.join(mod.input)} → {', '.join(mod.output) or 'representations'}"))
    if fact(e, "base_model"):
        out.append(("base model (weights)", ", ".join(e.base_model)))
    hyb = fact(e, "hybrid")
    if hyb is not None:
        out.append(("hybrid layers", hyb.layers))
    return out


def new_sources(e) -> list[tuple[str, str]]:
    """(label, url) of the per-fact sources: date, parents, architecture and each new fact."""
    out = []
    src = fact(e, "sources")
    for key, label in (("date", "date"), ("derived_from", "parents"), ("architecture", "architecture")):
        if fact(src, key):
            out.append((label, fact(src, key)))
    for key, label in (
        ("context_length", "context length"),
        ("training_tokens", "training tokens"),
        ("training_compute", "training compute"),
        ("hardware", "hardware"),
        ("open_weights", "open weights"),
        ("hybrid", "hybrid layers"),
    ):
        if fact(e, key, "source"):
            out.append((label, fact(e, key, "source")))
    for c in fact(e, "open_weights", "license_changes") or []:
        out.append((f"licence {c.date}", c.source))
    if fact(src, "note"):
        out.append(("note", fact(src, "note")))
    return out


def compare(entries) -> Table:
    """The entries side by side: one row per fact, one column per model."""
    table = Table(title="compare", show_lines=True)
    table.add_column("", style="bold cyan", no_wrap=True)
    for e in entries:
        table.add_column(t(e.name), overflow="fold")
    order = ("date", "family", "architecture", "pretraining", "parameters", "sizes", *FACT_LABELS)
    order += ("licence", "derived from", "lab", "corpus", "paper")
    rows: dict[str, list[str]] = {label: [""] * len(entries) for label in order}

    def put(i, label, value):
        rows[label][i] = value

    for i, e in enumerate(entries):
        put(i, "date", date_text(e))
        put(i, "family", e.family)
        put(i, "architecture", e.architecture)
        put(i, "pretraining", ", ".join(e.pretraining_tasks))
        put(i, "parameters", size_range(e))
        put(i, "sizes", "; ".join(f"{s.variant}: {size_text(s)}" for s in e.sizes))
        for label, text in new_facts(e, notes=False):  # notes are for show; here they would drown the row
            put(i, label, text)
        put(i, "licence", " ".join(x for x in (e.license.category, e.license.spdx or e.license.name or "") if x))
        put(i, "derived from", ", ".join(e.derived_from) or "(root)")
        put(i, "lab", ", ".join(e.lab))
        put(i, "corpus", e.corpus)
        r = e.references
        put(i, "paper", r.paper or f"https://arxiv.org/abs/{r.arxiv}")
    for label, values in rows.items():
        if any(values):  # a fact none of them records is left out
            table.add_row(label, *(t(v) if v else "[dim]-[/dim]" for v in values))
    return table


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def coverage_view(report: dict, names: bool = False) -> Group:
    """The report; with `names`, the decoder LLMs that lack each number (missing, then undisclosed)."""
    head = Table.grid(padding=(0, 2))
    head.add_row("entries", f"{report['entries']} (target ≥ {report['min_entries']})")
    head.add_row("decoder LLMs", f"{report['decoder_llms']} (architecture decoder, causal LM pretraining)")
    head.add_row("entries with active params (MoE)", str(report["moe_with_active_params"]))
    llm = Table("decoder LLMs", "known", "undisclosed", "missing", "known share", "target", title="issue 19 targets")
    for name, c in report["decoder_llm_facts"].items():
        mark = "[green]met[/green]" if c["met"] else "[red]not met[/red]"
        llm.add_row(
            name.replace("_", " "),
            str(c["known"]),
            str(c["undisclosed"]),
            str(c["missing"]),
            _pct(c["share"]),
            f"≥ {_pct(c['target'])} {mark}",
        )
    every = Table("field", "known", "undisclosed", "missing", "share", title="all entries")
    for name, c in report["all_entries"].items():
        every.add_row(name, str(c["known"]), str(c["undisclosed"]), str(c["missing"]), _pct(c["share"]))
    parts = [head, llm, every]
    if names:
        lacking = Table("decoder LLMs without", "missing", "undisclosed", title="to fill in", show_lines=True)
        for name in report["missing"]:
            lacking.add_row(
                name.replace("_", " "),
                t(", ".join(report["missing"][name]) or "-"),
                t(", ".join(report["undisclosed"][name]) or "-"),
            )
        parts.append(lacking)
    return Group(*parts)


def lineage_root(catalog, root, runs: list[dict]) -> Group:
    """A pre-Transformer root: its facts, what it leads to, and its lineage experiments (`runs`:
    plain dicts gathered by the CLI from experiments.registry() and shipped_results())."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold cyan", no_wrap=True)
    facts.add_column()
    facts.add_row("year", t(root.year))
    facts.add_row("introduced", t(root.first))
    facts.add_row("key paper", t(root.key_paper))
    facts.add_row("note", t(root.note))
    facts.add_row("leads to", t(", ".join(root.leads_to) or "-"))
    children = sorted(e.name for e in catalog.entries if root.name in e.derived_from)
    facts.add_row("catalog entries derived from it", t(", ".join(children) or "-"))
    facts.add_row("source", t(root.source))
    parts = [Panel(facts, title=f"[bold]{t(root.name)}[/bold] [dim](lineage root)[/dim]", expand=False)]
    if not runs:
        parts.append(f"no lineage experiment for {t(root.name)} yet")
    for r in runs:
        exp = Table.grid(padding=(0, 2))
        exp.add_column(style="bold cyan", no_wrap=True)
        exp.add_column()
        exp.add_row("claim", t(r["claim"]))
        exp.add_row("control", t(r["control"]))
        if r.get("metrics"):
            # the scalar numbers (a metric may also be a per-epoch list, which the site's figure shows)
            scalars = [(k, v) for k, v in r["metrics"].items() if isinstance(v, (int, float, str))][:12]
            exp.add_row("shipped result", t(", ".join(f"{k} {_num(v)}" for k, v in scalars)))
            verdict = f"claim {'holds' if r.get('claim_holds') else 'does not hold'}, control "
            verdict += "fails as it should" if r.get("control_fails") else "does not fail"
            exp.add_row("verdict", t(verdict))
            if r.get("cpu_seconds") is not None:
                exp.add_row("CPU time", f"{r['cpu_seconds']:.0f} s")
        else:
            exp.add_row("shipped result", "none yet")
        exp.add_row("run it", t(f"tcat lineage run {r['name']}"))
        parts.append(Panel(exp, title=f"experiment [bold]{t(r['name'])}[/bold]", expand=False))
    return Group(*parts)


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return clean(str(v))
