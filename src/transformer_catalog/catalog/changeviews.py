"""Terminal views (rich) of the architecture changes derived in changes.py: the taxonomy (changes by
category, with how many buildable entries use each), the adoption timeline (first appearance, the
first year most new buildable entries use it, and the share per year), each entry's changes, and
`tcat diff`. Catalog strings go through views.t (control sequences removed, markup escaped)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .changes import Adoption, EntryChanges, Use
from .views import t


def _first(a: Adoption) -> str:
    return t(f"{a.first[0]} {a.first[1]}")


def taxonomy_table(ads: list[Adoption], total: int) -> Table:
    """Changes grouped by category: entries using each (an entry counts once if any of its sizes
    uses the change), their share of the buildable entries, and the first entry to use it."""
    table = Table(title=f"architecture changes in {total} buildable entries (derived from their built configs)")
    for col, justify in (("category", "left"), ("change", "left"), ("entries", "right"), ("share", "right")):
        table.add_column(col, justify=justify)
    table.add_column("first in the catalog")
    category = None
    for a in ads:
        if category is not None and a.category != category:
            table.add_section()
        table.add_row(
            a.category if a.category != category else "",
            t(a.change),
            str(len(a.entries)),
            f"{100 * len(a.entries) / total:.0f}%" if total else "-",
            _first(a),
        )
        category = a.category
    return table


def timeline_table(ads: list[Adoption]) -> Table:
    """Per change, by first appearance: the first year in which more than half of that year's
    buildable entries use it, and the share of each year's buildable entries that use it."""
    years = sorted({y for a in ads for y in a.shares})
    table = Table(title="adoption: % of each year's buildable entries using a change (bold: more than half)")
    table.add_column("change")
    table.add_column("first")
    table.add_column("most from", justify="right")
    for y in years:
        table.add_column(f"'{y % 100:02d}", justify="right")
    counts = [ads[0].shares[y][1] if ads else 0 for y in years]
    for a in sorted(ads, key=lambda a: (a.first, a.category)):  # a timeline: by first appearance
        cells = []
        for y in years:
            k, n = a.shares[y]
            style = "bold" if 2 * k > n else ("dim" if k == 0 else "")
            cells.append(Text("·" if k == 0 else f"{100 * k / n:.0f}", style=style))
        table.add_row(t(f"{a.change}"), _first(a), str(a.majority_year or "-"), *cells)
    table.add_section()
    table.add_row("buildable entries", "", "", *(str(n) for n in counts))
    return table


def _uses_text(uses: list[Use]) -> str:
    return t("; ".join(u.change + (f" ({u.detail})" if u.detail else "") for u in uses))


def entries_table(rows: list[EntryChanges]) -> Table:
    """Every buildable entry with the changes of each group of its sizes."""
    table = Table(title="changes per entry (sizes with the same changes grouped)", show_lines=True)
    for col in ("entry", "date", "sizes", "changes"):
        table.add_column(col)
    for r in rows:
        for i, (variants, uses) in enumerate(r.groups):
            table.add_row(
                t(r.name) if i == 0 else "", r.date if i == 0 else "", t(", ".join(variants)), _uses_text(uses)
            )
    return table


def failures(rows: list[EntryChanges]) -> Text | None:
    """The sizes whose spec did not build (tcat verify lists them too), or None."""
    failed = [f"{r.name} {v}: {why}" for r in rows for v, why in r.failed.items()]
    return Text("not built: " + "; ".join(failed), style="yellow") if failed else None


def diff_view(label_a: str, label_b: str, cats, fields) -> Group:
    """`tcat diff`: the changes that separate two configs by category, then every raw field that differs."""
    parts = []
    if cats:
        table = Table(title="architecture changes that differ")
        for col in ("category", label_a, label_b):
            table.add_column(t(col))
        for cat, ua, ub in cats:
            table.add_row(cat, _uses_text(ua) or "-", _uses_text(ub) or "-")
        parts.append(table)
    else:
        parts.append(Text(f"no architecture change separates {label_a} and {label_b}"))
    if fields:
        table = Table(title="config fields that differ")
        for col in ("field", label_a, label_b):
            table.add_column(t(col))
        for k, va, vb in fields:
            table.add_row(t(k), t(_value(va)), t(_value(vb)))
        parts.append(table)
    else:
        parts.append(Text("the configs are identical"))
    return Group(*parts)


def _value(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and v.is_integer() and abs(v) >= 1000:
        return f"{v:,.0f}"
    return str(v)
