"""`tcat verify`: build every catalog entry that has a spec on the meta device (no memory) and
compare its parameter count with the published one, under the entry's counting convention."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..errors import TcatError

TOLERANCE = 0.02


@dataclass
class Check:
    entry: str
    variant: str
    published: int
    computed: Optional[int]
    status: str  # ok | explained | FAIL | error
    note: str = ""

    @property
    def delta(self) -> Optional[float]:
        return None if self.computed is None else (self.computed - self.published) / self.published


def build_config(spec: dict, variant: str):
    """The ModelConfig of one size variant of a spec (a plain dict, as stored in the catalog)."""
    from ..families import family, make_config
    from ..nn.config import ModelConfig

    args = {**spec.get("args", {}), **spec.get("variants", {}).get(variant, {})}
    if spec["family"] == "config":
        return ModelConfig().replace(**args)
    return make_config(family(spec["family"]), **args)


def tiny_config(cfg):
    """The same architecture at a size that builds and runs in a moment: 2 layers, width 64."""
    a = cfg.attention
    heads = 4
    kv = None if a.n_kv_heads is None else max(1, heads * a.n_kv_heads // a.n_heads)
    changes = {"n_encoder_layers": min(cfg.n_encoder_layers, 2), "n_decoder_layers": min(cfg.n_decoder_layers, 2),
               "d_model": 64, "attention.n_heads": heads, "attention.n_kv_heads": kv,
               "attention.head_dim": 16 if a.head_dim else None, "ffn.d_ff": 128,
               "embedding.vocab_size": min(cfg.embedding.vocab_size, 1024), "position.max_len": min(cfg.position.max_len, 512)}
    if cfg.position.kind == "rope" and (16 * cfg.position.rotary_fraction) % 2:
        # keep the rotary share: the smallest head size it splits into an even number of dimensions
        changes["attention.head_dim"] = next(hd for hd in range(16, 129) if (hd * cfg.position.rotary_fraction) % 2 == 0)
    if cfg.embedding.d_embed:
        changes["embedding.d_embed"] = 32
    if cfg.embedding.pad_id >= 1024:
        changes["embedding.pad_id"] = 0
    if cfg.attention.window:
        changes["attention.window"] = min(cfg.attention.window, 64)
    if cfg.moe:
        changes["moe.n_experts"] = min(cfg.moe.n_experts, 4)
        changes["moe.top_k"] = min(cfg.moe.top_k, 2)
        changes["moe.d_ff"] = 128
    return cfg.replace(**changes)


def verify(catalog, names: Optional[list[str]] = None) -> list[Check]:
    from ..nn.count import count_parameters

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
                computed = count_parameters(build_config(spec, size.variant))
            except TcatError as err:
                checks.append(Check(e.name, size.variant, size.params, None, "error", str(err)))
                continue
            delta = abs(computed - size.params) / size.params
            why = spec.get("explained", {}).get(size.variant, "")
            status = "ok" if delta <= TOLERANCE else ("explained" if why else "FAIL")
            checks.append(Check(e.name, size.variant, size.params, computed, status, why if delta > TOLERANCE else ""))
    return checks


def markdown(checks: list[Check]) -> str:
    from .query import human

    lines = ["| entry | variant | published | computed | Δ% | status |", "|---|---|---:|---:|---:|---|"]
    for c in checks:
        delta = "" if c.delta is None else f"{100 * c.delta:+.1f}"
        lines.append(f"| {c.entry} | {c.variant} | {human(c.published)} | {human(c.computed) if c.computed else '-'} | "
                     f"{delta} | {c.status} |")
    ok = sum(c.status == "ok" for c in checks)
    lines.append("")
    lines.append(f"{len({c.entry for c in checks})} entries, {len(checks)} sizes: {ok} within {TOLERANCE:.0%}, "
                 f"{sum(c.status == 'explained' for c in checks)} explained (`tcat show NAME` gives the reason).")
    return "\n".join(lines) + "\n"
