"""Terminal views of the catalog (rich): list, show, tree, timeline, taxonomy.

Every catalog string goes through `t()`: terminal control sequences (ESC, other C0 and C1 codes
except newline and tab, bidirectional overrides) are removed, so data cannot move the cursor,
retitle the window or hide text, and rich markup is escaped, so "[red]" is shown as written.
"""

from __future__ import annotations

from collections import defaultdict

from rich import box
from rich.cells import cell_len
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ..errors import TcatError
from .kvcache import describe
from .query import human, size_range
from .text import clean
from .vocab import ARCHITECTURES, TASKS


def t(text) -> str:
    """A catalog string for a rich view: control sequences removed, markup escaped."""
    return escape(clean(text))


def _join(items) -> str:
    return t(", ".join(items))


ARCH_SHORT = {"encoder": "enc", "decoder": "dec", "encoder-decoder": "enc-dec"}
# the columns of `tcat list` in display order: (key, header, justify); name, date and params are never
# dropped or cut; at a narrow width the others are added by LIST_PRIORITY while they fit
LIST_COLUMNS = (
    ("name", "name", "left"),
    ("date", "date", "left"),
    ("family", "family", "left"),
    ("architecture", "architecture", "left"),
    ("pretraining", "pretraining", "left"),
    ("params", "params", "right"),
    ("license", "license", "left"),
    ("lab", "lab", "left"),
)
LIST_PRIORITY = ("architecture", "license", "family", "pretraining", "lab")
SHORT_HEADS = {"architecture": "arch", "pretraining": "pretrain"}


def _list_cells(e, narrow: bool) -> dict[str, str]:
    labs = e.lab if not narrow or len(e.lab) < 2 else [e.lab[0], f"+{len(e.lab) - 1}"]
    return {
        "name": e.name,
        "date": e.date,
        "family": e.family,
        "architecture": ARCH_SHORT[e.architecture] if narrow else e.architecture,
        "pretraining": ", ".join(e.pretraining_tasks),
        "params": size_range(e),
        "license": e.license.category,
        "lab": " ".join(labs) if narrow and len(labs) > 1 else ", ".join(labs),
    }


def _wide_width(entries) -> int:
    """The width the full table needs without cutting a cell: the lab column may wrap (to 24)."""
    cells = [_list_cells(e, False) for e in entries]
    natural = [max([len(head)] + [cell_len(clean(c[k])) for c in cells]) for k, head, _ in LIST_COLUMNS]
    natural[-1] = min(natural[-1], 24)  # lab, the last column
    return sum(natural) + 3 * len(natural) + 1


def list_table(entries, width: int | None = None) -> Table:
    """The catalog as a table. When every column does not fit `width` (a terminal's width, or
    COLUMNS), name, date and params are kept whole, the lesser columns are shortened (architecture,
    labs) and added by LIST_PRIORITY while they fit; what space is left goes to one more column, cut
    with an ellipsis."""
    narrow = width is not None and _wide_width(entries) > width
    rows = [{k: clean(v) for k, v in _list_cells(e, narrow).items()} for e in entries]
    heads = {k: (SHORT_HEADS.get(k, head) if narrow else head) for k, head, _ in LIST_COLUMNS}
    natural = {k: max([len(heads[k])] + [cell_len(r[k]) for r in rows]) for k, _, _ in LIST_COLUMNS}
    shown, cut = {k for k, _, _ in LIST_COLUMNS}, {}
    if narrow:
        # a narrow table has no outer edge: each column costs its width, 2 of padding and 1 of rule
        shown = {"name", "date", "params"}
        used = sum(natural[k] + 3 for k in shown) - 1
        for k in LIST_PRIORITY:
            if used + natural[k] + 3 <= width:
                shown.add(k)
                used += natural[k] + 3
        spare = width - used - 3
        filler = next((k for k in ("family", "lab", "pretraining") if k not in shown), None)
        if filler and spare >= 6:
            shown.add(filler)
            cut[filler] = spare
    table = Table(
        title=f"{len(entries)} models",
        expand=False,
        box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
        show_edge=not narrow,
        pad_edge=not narrow,
    )
    for k, _, justify in LIST_COLUMNS:
        if k not in shown:
            continue
        head = heads[k]
        kw = {"justify": justify, "style": "bold" if k == "name" else None}
        if k in ("name", "date", "params"):
            kw.update(no_wrap=True, min_width=natural[k])
        elif k in cut:
            kw.update(no_wrap=True, overflow="ellipsis", max_width=cut[k])
        table.add_column(head, **kw)
    for r in rows:
        table.add_row(*(escape(r[k]) for k, _, _ in LIST_COLUMNS if k in shown))
    return table


def show(catalog, e, breakdown=None) -> Group:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold cyan", no_wrap=True)
    facts.add_column()

    def row(k, v):
        if v:
            facts.add_row(k, t(v) if isinstance(v, str) else v)

    row("aliases", ", ".join(e.aliases))
    row("family", e.family)
    row("architecture", e.architecture + (f" ({e.architecture_note})" if e.architecture_note else ""))
    row("pretraining", ", ".join(e.pretraining_tasks) + (f" ({e.task_note})" if e.task_note else ""))
    row("fine-tuning", e.finetuning_task)
    from .factviews import date_text, new_facts, new_sources, size_text

    row("date", date_text(e))
    sizes = Table.grid(padding=(0, 2))
    for s in e.sizes:
        sizes.add_row(t(s.variant), t(size_text(s)), t(s.note or ""))
    row("sizes", sizes)
    row("extension", e.extension)
    row("applications", ", ".join(e.applications))
    row("corpus", e.corpus)
    lic = e.license
    row("license", " ".join(x for x in (lic.category, lic.spdx or "", f"({lic.name})" if lic.name else "") if x))
    for label, text in new_facts(e):
        row(label, text)
    row("lab", ", ".join(e.lab))
    row("in the catalog paper", "yes" if e.in_paper else "no (added by transformer-catalog)")
    parents = ", ".join(e.derived_from) or "(root)"
    children = ", ".join(c.name for c in catalog.children(e.name)) or "(none yet)"
    row("derived from", parents)
    row("descendants", children)
    if _breakdown_ok(breakdown):
        computed = Table(
            "variant",
            "params",
            "embeddings",
            "attention",
            "feed-forward",
            "norms",
            "head",
            "GFLOP/token (fwd)",
            box=None,
            padding=(0, 1),
        )
        for b in breakdown:
            active = b.get("active_params")  # mixtures of experts: the count one token uses, beside the total
            computed.add_row(
                t(b["variant"]),
                (human(b["params"]) if b.get("params") else "-")
                + (f" ({human(active)} active)" if isinstance(active, int) else ""),
                *(
                    human(b.get(k)) if b.get(k) else "-"
                    for k in ("embeddings", "attention", "feed-forward", "norms", "head")
                ),
                f"{b['flops_per_token'] / 1e9:.3g} @ {b['context']}",
            )
        row("computed (tcat verify)", computed)
        kv = Table.grid(padding=(0, 2))  # per token of context, keys and values of all layers in 16 bits
        for b in breakdown:
            kv.add_row(t(b["variant"]), describe(b.get("kv_cache")))
        row("KV cache / token", kv)

    refs = Table.grid(padding=(0, 2))
    r = e.references
    refs.add_row("paper", t(f"{r.authors} ({r.year}). {r.title}."))
    for label, url in (
        ("link", r.paper),
        ("arXiv", r.arxiv and f"https://arxiv.org/abs/{r.arxiv}"),
        ("docs", r.docs),
        ("license", lic.source),
    ):
        if url:
            refs.add_row(label, t(url))
    for s in e.sizes:
        refs.add_row(f"size {t(s.variant)}", t(s.source))
    for label, url in new_sources(e):
        refs.add_row(t(label), t(url))
    parts = [Panel(facts, title=f"[bold]{t(e.name)}[/bold]", expand=False), Panel(refs, title="sources", expand=False)]
    if e.corrections:
        corr = Table("field", "the catalog paper said", "we say", "source", title="corrections", expand=False)
        for c in e.corrections:
            corr.add_row(t(c.field), t(c.paper_said), t(c.we_say), t(c.source))
        parts.append(corr)
    return Group(*parts)


_BREAKDOWN_NUMBERS = (
    "params",
    "embeddings",
    "attention",
    "feed-forward",
    "norms",
    "head",
    "flops_per_token",
    "context",
)


def _breakdown_ok(rows) -> bool:
    """Whether `rows` has the shape breakdown() computes. It may come from a cache file, and a
    damaged one must cost the computed section, not the whole command (a traceback)."""
    if not isinstance(rows, list) or not rows:
        return False
    for b in rows:
        if not isinstance(b, dict) or not isinstance(b.get("variant"), str):
            return False
        if not all(isinstance(b.get(k), (int, float)) or b.get(k) is None for k in _BREAKDOWN_NUMBERS):
            return False
        if not isinstance(b.get("flops_per_token"), (int, float)):
            return False
    return True


def tree(catalog, root: str | None = None) -> Tree:
    """Lineage as a tree: each entry under its first parent (other parents are listed beside it)."""
    kids = defaultdict(list)
    names = {e.name for e in catalog.entries}
    for e in catalog.entries:
        parent = next((p for p in e.derived_from if p in names or any(p == r.name for r in catalog.lineage)), None)
        kids[parent].append(e)

    def label(e):
        extra = e.derived_from[1:]
        also = f" [dim](also from {_join(extra)})[/dim]" if extra else ""
        return f"[bold]{t(e.name)}[/bold] [dim]{t(e.date)} · {t(size_range(e))}[/dim]{also}"

    def grow(node, name, seen):
        for child in sorted(kids.get(name, []), key=lambda c: (c.date, c.name)):
            if child.name in seen:
                continue
            grow(node.add(label(child)), child.name, seen | {child.name})

    lineage = {r.name: r for r in catalog.lineage}

    def grow_lineage(node, r, seen):
        sub = node.add(f"[magenta]{t(r.name)}[/magenta] [dim]{t(r.year)}[/dim]")
        for nxt in r.leads_to:
            if nxt in lineage and nxt not in seen:
                grow_lineage(sub, lineage[nxt], seen | {nxt})
        grow(sub, r.name, seen)

    if root:
        # the roots `tcat tree` prints (RNN, LSTM, ...) are valid starting points too
        found = next((r for r in catalog.lineage if r.name.lower() == root.lower()), None)
        if found is not None and catalog.find(root) is None:
            top = Tree("[bold]neural network lineage[/bold]")
            grow_lineage(top, found, {found.name})
            return top.children[0]
        entry = _get(catalog, root)
        top = Tree(label(entry))
        grow(top, entry.name, {entry.name})
        return top
    top = Tree("[bold]neural network lineage[/bold]")

    leads = {n for r in catalog.lineage for n in r.leads_to}
    for r in catalog.lineage:
        if r.name not in leads:
            grow_lineage(top, r, {r.name})
    return top


def _get(catalog, name: str):
    """The entry called `name`; unknown names list the lineage roots too (they are valid roots)."""
    try:
        return catalog.get(name)
    except TcatError as e:
        import difflib

        msg, names = str(e), [r.name for r in catalog.lineage]
        close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=1, cutoff=0.6)
        if close and "did you mean" not in msg:
            root = next(n for n in names if n.lower() == close[0])
            msg = f"unknown model {name!r}; did you mean {root!r} (a lineage root)?"
        elif names and "did you mean" not in msg:
            msg += f", or a lineage root ({', '.join(names)})"
        raise TcatError(msg) from None


def timeline(entries) -> Table:
    table = Table(title="timeline", show_lines=False)
    table.add_column("year", style="bold")
    table.add_column("month")
    table.add_column("models")
    by_month = defaultdict(list)
    for e in entries:
        by_month[e.date].append(e)
    last_year = None
    for month in sorted(by_month):
        year = month[:4]
        names = ", ".join(
            f"{t(e.name)} [dim]({t(size_range(e))})[/dim]" for e in sorted(by_month[month], key=lambda e: e.name)
        )
        table.add_row(t(year) if year != last_year else "", t(month[5:]), names)
        last_year = year
    return table


def taxonomy(entries) -> Table:
    """Architecture x pretraining task: which models sit in each cell."""
    table = Table(title="taxonomy: pretraining architecture × pretraining task", show_lines=True)
    table.add_column("task", style="bold")
    for a in ARCHITECTURES:
        table.add_column(a)
    for task in TASKS:
        cells = []
        for a in ARCHITECTURES:
            names = sorted(e.name for e in entries if e.architecture == a and task in e.pretraining_tasks)
            cells.append(Text(clean(", ".join(names))) if names else Text("·", style="dim"))
        if any(c.plain != "·" for c in cells):
            table.add_row(task, *cells)
    return table
