"""`tcat verify`: build every catalog entry that has a spec on the meta device (no memory) and
compare its parameter count with the published one, under the entry's counting convention."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TcatError
from .specs import build_config, tiny_config  # noqa: F401  (tiny_config re-exported for tests/test_equivalences.py only)

TOLERANCE = 0.02


@dataclass
class Check:
    entry: str
    variant: str
    published: int
    computed: int | None
    status: str  # ok | explained | FAIL | error
    note: str = ""

    @property
    def delta(self) -> float | None:
        return None if self.computed is None else (self.computed - self.published) / self.published


def verify(catalog, names: list[str] | None = None) -> list[Check]:
    from ..nn.count import count_parameters
    from ..nn.moe import inactive_parameters

    entries = [catalog.get(n) for n in names] if names else [e for e in catalog.entries if e.spec]
    checks = []
    for e in entries:
        if not e.spec:
            raise TcatError(f"{e.name} has no architecture spec" + (f" ({e.not_buildable})" if e.not_buildable else ""))
        spec = e.spec.to_dict()
        for size in e.sizes:
            if size.variant not in spec["variants"] or not size.params:
                continue
            try:
                cfg = build_config(spec, size.variant)
                computed = count_parameters(cfg)
            except TcatError as err:
                checks.append(Check(e.name, size.variant, size.params, None, "error", str(err)))
                continue
            delta = abs(computed - size.params) / size.params
            why = spec.get("explained", {}).get(size.variant, "")
            status = "ok" if delta <= TOLERANCE else ("explained" if why else "FAIL")
            checks.append(Check(e.name, size.variant, size.params, computed, status, why if delta > TOLERANCE else ""))
            if size.active_params and cfg.moe is not None:  # a mixture of experts: also the count a token uses
                active = computed - inactive_parameters(cfg)
                checks.append(_active(e.name, size.variant, size.active_params, active, spec))
    return checks


def _active(entry: str, variant: str, published: int, computed: int, spec: dict) -> Check:
    """The check of a mixture of experts' active parameters (variant "NAME active" in `explained`)."""
    name = f"{variant} active"
    why = spec.get("explained", {}).get(name, "")
    off = abs(computed - published) / published > TOLERANCE
    status = "FAIL" if off and not why else ("explained" if off else "ok")
    return Check(entry, name, published, computed, status, why if off else "")


def markdown(checks: list[Check]) -> str:
    from .query import human
    from .text import md

    lines = ["| entry | variant | published | computed | Δ% | status |", "|---|---|---:|---:|---:|---|"]
    for c in checks:
        delta = "" if c.delta is None else f"{100 * c.delta:+.1f}"
        lines.append(
            f"| {md(c.entry)} | {md(c.variant)} | {human(c.published)} | {human(c.computed) if c.computed else '-'} | "
            f"{delta} | {c.status} |"
        )
    ok = sum(c.status == "ok" for c in checks)
    lines.append("")
    lines.append(
        f"{len({c.entry for c in checks})} entries, {len(checks)} sizes: {ok} within {TOLERANCE:.0%}, "
        f"{sum(c.status == 'explained' for c in checks)} explained (`tcat show NAME` gives the reason)."
    )
    return "\n".join(lines) + "\n"


def counts(checks: list[Check]) -> dict[str, int]:
    return {s: sum(c.status == s for c in checks) for s in ("ok", "explained", "FAIL", "error")}


def table(checks: list[Check]):
    """The checks as a rich table (tcat verify)."""
    from rich.table import Table
    from rich.text import Text

    from .query import human
    from .text import clean

    t = Table(title=f"published vs computed parameters (meta device, tolerance {TOLERANCE:.0%})")
    for col in ("entry", "variant", "published", "computed", "Δ%", "status", "why"):
        t.add_column(col, justify="right" if col in ("published", "computed", "Δ%") else "left")
    style = {"ok": "green", "explained": "yellow", "FAIL": "bold red", "error": "bold red"}
    for c in checks:
        delta = "" if c.delta is None else f"{100 * c.delta:+.1f}"
        t.add_row(  # catalog strings as plain Text: no control sequences, no rich markup
            Text(clean(c.entry)),
            Text(clean(c.variant)),
            human(c.published),
            human(c.computed) if c.computed else "-",
            delta,
            f"[{style[c.status]}]{c.status}[/]",
            Text(clean(c.note)),
        )
    return t


def summary(checks: list[Check], seconds: float) -> str:
    n = counts(checks)
    return (
        f"{len({c.entry for c in checks})} entries, {len(checks)} sizes: {n['ok']} within {TOLERANCE:.0%}, "
        f"{n['explained']} explained, {n['FAIL']} unexplained, {n['error']} not buildable ({seconds:.2f} s)"
    )


def params_table(names: list[str], vocab: int = 0):
    """Named configs' parameters by kind against the paper's Table 3 (tcat params), as a rich table."""
    from rich.table import Table
    from rich.text import Text

    from ..families import get_config, transformer
    from ..nn.count import count_parameters, parameter_breakdown
    from .text import clean

    t = Table(title="Parameters on the meta device (tied embeddings once; sinusoidal table is no parameter)")
    for col in (
        "config",
        "vocab",
        "embeddings",
        "attention",
        "feed-forward",
        "norms",
        "total",
        "paper",
        "Δ%",
        "vocab matching paper",
    ):
        t.add_column(col, justify="right" if col != "config" else "left")
    for name in names:
        cfg = get_config(name, **({"vocab_size": vocab} if vocab else {}))
        parts = parameter_breakdown(cfg)
        total = count_parameters(cfg)
        paper = transformer.PAPER_PARAMS.get(name)
        delta = f"{100 * (total - paper) / paper:+.1f}" if paper else "-"
        # The vocabulary size at which this count would equal the paper's rounded figure.
        match = f"{(paper - total + parts['embeddings']) / cfg.d_model:,.0f}" if paper else "-"
        t.add_row(
            Text(clean(name)),
            f"{cfg.embedding.vocab_size:,}",
            *(f"{parts.get(k, 0) / 1e6:.2f}M" for k in ("embeddings", "attention", "feed-forward", "norms")),
            f"{total / 1e6:.2f}M",
            f"{paper / 1e6:.0f}M" if paper else "-",
            delta,
            match,
        )
    return t
