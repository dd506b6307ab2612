"""The architecture changes each buildable entry uses, read from its built ModelConfig (never from
its name, never typed by hand), with what `tcat changes`, `tcat diff` and the site's changes page
show: a taxonomy (how many entries use each change) and an adoption timeline (when a change first
appears, and the first year in which most of that year's buildable entries use it).

Building a config goes through families/, which import torch (their weight-name rules use it), so
the built configs are cached per set of specs, as plain dicts keyed by the specs and the code that
turns specs into configs: only the first run after a change pays torch's import (`tcat show`'s
breakdown works the same way). Deriving the changes from those dicts takes milliseconds.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from .routing_uses import routing_uses

CATEGORIES = ("stack", "norm", "position", "feed-forward", "attention", "block", "experts", "biases", "embedding")
# The code whose behaviour decides a built config: a change to any of it invalidates the cache.
_PKG = Path(__file__).parent.parent
_CODE = ("nn/config*.py", "catalog/specs.py", "catalog/changes.py", "families/*.py")  # flat_config is here


@dataclass(frozen=True, order=True)
class Use:
    """One change an entry uses: `change` within `category`, with its particulars in `detail`."""

    category: str
    change: str
    detail: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.category, self.change)


def flat_config(cfg) -> dict:
    """A ModelConfig as one level of dotted keys ("attention.n_kv_heads"); absent sub-configs (moe,
    vision, attention.block_sparse) stay as one key holding None."""
    out: dict = {}

    def walk(node: dict, prefix: str) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                out[prefix + k] = v

    walk(cfg.to_dict(), "")
    return out


_ACT = {
    "relu": "ReLU",
    "gelu": "GELU",
    "gelu_tanh": "GELU",
    "quick_gelu": "GELU",
    "silu": "SiLU",
    "relu2": "squared ReLU",
}
_ACT_DETAIL = {"gelu_tanh": "tanh approximation", "quick_gelu": "sigmoid approximation (x·σ(1.702x))"}
_GATED = {"silu": "SwiGLU", "gelu": "GEGLU", "gelu_tanh": "GEGLU", "quick_gelu": "GEGLU", "relu": "ReGLU"}
_POSITIONS = {
    "sinusoidal": "sinusoidal",
    "learned": "learned absolute",
    "rope": "RoPE",
    "relative": "relative bias (bucketed)",
    "alibi": "ALiBi",
    "disentangled": "disentangled relative",
    "xl": "relative sinusoids (Transformer-XL)",
    "none": "no positions",
}


# norm placements of the 2024-2026 decoders: Gemma 2/3 norm before and after each sublayer, OLMo 2 after only
_PLACEMENT = {"sandwich": "sandwich norms", "sublayer_output": "norm on sublayer output"}


def derive(cfg) -> list[Use]:
    """The changes a config uses, one or more per category, in CATEGORIES order. `cfg` is a
    ModelConfig or its flat_config dict."""
    c = cfg if isinstance(cfg, dict) else flat_config(cfg)
    uses = [Use("stack", {"encoder": "encoder-only", "decoder": "decoder-only"}.get(c["arch"], c["arch"]))]
    if "vision.patch_size" in c:
        uses.append(Use("stack", "image patches", f"{c['vision.patch_size']}px patches"))
    placement = c["norm.placement"]
    uses.append(Use("norm", _PLACEMENT.get(placement, f"{placement}-norm")))
    if c.get("norm.unit_offset"):
        uses.append(Use("norm", "gain stored as 1 + w"))
    if c["norm.kind"] == "rmsnorm":
        uses.append(Use("norm", "RMSNorm", "" if c["norm.affine"] else "no gain"))
    elif not c["norm.affine"]:
        uses.append(Use("norm", "non-parametric LayerNorm"))
    else:
        uses.append(Use("norm", "LayerNorm" if c["norm.bias"] else "LayerNorm without bias"))

    kind = c["position.kind"]
    if kind == "none" and "vision.patch_size" in c:  # a ViT's positions live in its patch embedding
        uses.append(Use("position", "learned absolute", "one per patch"))
    else:
        uses.append(Use("position", _POSITIONS[kind]))
    if kind == "rope":
        if c["position.rotary_fraction"] < 1:
            uses.append(Use("position", "partial rotary", f"{c['position.rotary_fraction']:g} of each head"))
        if c["position.rope_theta"] != 10000.0:
            uses.append(Use("position", "raised RoPE base", f"θ = {c['position.rope_theta']:,.0f}"))
        if c["position.rope_scaling"] != "none":
            uses.append(Use("position", "RoPE scaling", f"{c['position.rope_scaling']} ×{c['position.rope_factor']:g}"))
        if c.get("position.rope_local_theta"):
            uses.append(Use("position", "local RoPE base", f"θ = {c['position.rope_local_theta']:,.0f} locally"))
        if "N" in c.get("position.rope_layers", "R"):
            uses.append(Use("position", "NoPE layers", f"pattern {c['position.rope_layers']} (R rotary, N none)"))

    has_moe = "moe.n_experts" in c
    act = c["ffn.activation"]
    if c["ffn.d_ff"] == 0 and not has_moe:
        uses.append(Use("feed-forward", "no feed-forward"))
    elif c["ffn.gated"]:
        uses.append(Use("feed-forward", _GATED.get(act, f"gated {act}"), _ACT_DETAIL.get(act, "")))
    else:
        uses.append(Use("feed-forward", _ACT[act], _ACT_DETAIL.get(act, "")))

    heads, kv = c["attention.n_heads"], c["attention.n_kv_heads"] or c["attention.n_heads"]
    if c.get("attention.latent.kv_rank"):  # MLA: one latent per token is cached, not per-head keys and values
        latent = f"latent {c['attention.latent.kv_rank']} + shared rotated key {c['attention.latent.rope_dim']}"
        q_rank = c["attention.latent.q_rank"]
        latent += f", query latent {q_rank}" if q_rank else ""
        uses.append(Use("attention", "multi-head latent attention", latent))
    elif kv == heads:
        uses.append(Use("attention", "multi-head"))
    elif kv == 1:
        uses.append(Use("attention", "multi-query", f"{heads} query heads, 1 key/value head"))
    else:
        uses.append(Use("attention", "grouped-query", f"{kv} key/value heads, {heads // kv} queries each"))
    head_dim = c["attention.head_dim"]
    if head_dim and head_dim * heads != c["d_model"]:
        uses.append(Use("attention", "decoupled head size", f"{heads} × {head_dim} ≠ d_model {c['d_model']}"))
    if c["attention.window"]:
        pattern = c["attention.window_pattern"]
        uses.append(Use("attention", "sliding window", f"{c['attention.window']} tokens"))
        if "G" in pattern:
            uses.append(Use("attention", "local/global layers", f"pattern {pattern} (L local, G global)"))
    if c.get("attention.chunk"):
        chunks = f"chunks of {c['attention.chunk']:,}, layers {c['attention.window_pattern']}"
        uses.append(Use("attention", "chunked attention", chunks))
    qk = c.get("attention.qk_norm", "none")
    if qk != "none":
        scope = {"head": "per head", "all": "across heads", "unit": "per head, no gain", "head_gains": "gain per head"}
        uses.append(Use("attention", "QK-norm", scope.get(qk, qk)))
    if c.get("attention.softcap"):
        uses.append(Use("attention", "logit soft-capping", f"cap {c['attention.softcap']:g}"))
    if c.get("attention.sinks"):
        uses.append(Use("attention", "attention sinks", "a learned logit per head"))
    if "attention.block_sparse.block_size" in c:
        uses.append(Use("attention", "block-sparse", f"blocks of {c['attention.block_sparse.block_size']}"))

    if c["parallel_residual"]:
        uses.append(Use("block", "parallel attention + FFN", "one shared norm" if c["norm.shared_parallel"] else ""))
    if c["share_layers"]:
        uses.append(Use("block", "shared layers"))
    if c["memory"]:
        uses.append(Use("block", "segment recurrence", f"memory {c['memory']}"))
    if c.get("residual_multiplier", 1.0) != 1.0:
        uses.append(Use("block", "residual multiplier", f"× {c['residual_multiplier']:g}"))

    if has_moe:
        detail = f"{c['moe.n_experts']} experts, top-{c['moe.top_k']}"
        if c["moe.pattern"] != "E":
            detail += f", layers {c['moe.pattern']} (E experts, D dense)"
        if c.get("moe.first_dense"):
            n = c["moe.first_dense"]
            detail += f", first {n} layers dense" if n > 1 else ", first layer dense"
        uses.append(Use("experts", "mixture of experts", detail))
        uses.extend(Use(*u) for u in routing_uses(c))  # shared expert, sigmoid, groups...

    biases = (c["attention.qkv_bias"], c["attention.out_bias"], c["ffn.bias"])
    names = {
        (True, True, True): "all biases",
        (False, False, False): "no biases",
        (True, False, False): "QKV bias only",
        (False, False, True): "FFN bias only",
    }
    which = ", ".join(n for n, b in zip(("qkv", "attention out", "ffn"), biases) if b)
    uses.append(Use("biases", names.get(biases, "some biases"), "" if biases in names else which))

    if c["embedding.tie_output"]:
        uses.append(Use("embedding", "tied output embedding"))
    if c["embedding.scale"]:
        uses.append(Use("embedding", "embedding × √d_model"))
    if c.get("embedding.multiplier", 1.0) != 1.0:
        uses.append(Use("embedding", "embedding multiplier", f"× {c['embedding.multiplier']:g}"))
    if c.get("embedding.logit_softcap"):
        uses.append(Use("embedding", "output soft-capping", f"cap {c['embedding.logit_softcap']:g}"))
    if c.get("embedding.logit_scale", 1.0) != 1.0:
        uses.append(Use("embedding", "scaled output logits", f"× {c['embedding.logit_scale']:g}"))
    if c["embedding.d_embed"] and c["embedding.d_embed"] != c["d_model"]:
        uses.append(Use("embedding", "factorised embedding", f"width {c['embedding.d_embed']}"))
    if c["embedding.norm"]:
        uses.append(Use("embedding", "embedding norm"))
    return uses


@dataclass
class EntryChanges:
    """One buildable entry: its variants grouped by the changes they use (most entries: one group)."""

    name: str
    date: str  # YYYY-MM
    groups: list[tuple[list[str], list[Use]]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # variant -> why it did not build

    @property
    def year(self) -> int:
        return int(self.date[:4])

    @property
    def keys(self) -> set[tuple[str, str]]:
        """The changes any of its sizes uses: an entry counts once per change."""
        return {u.key for _, uses in self.groups for u in uses}


def _code_files() -> list[Path]:
    return [p for pattern in _CODE for p in sorted(_PKG.glob(pattern))]


def _code_digest() -> str:
    h = hashlib.sha1(__version__.encode())
    for p in _code_files():
        h.update(p.name.encode() + _read_code(p))
    return h.hexdigest()


def _read_code(p: Path) -> bytes:  # one seam, so a test can change a file's text without writing it
    return p.read_bytes()


def built_configs(catalog) -> dict[str, dict]:
    """{entry name: {variant: flat config, or {"error": message}}} for every entry with a spec,
    from the cache when the specs and the config code are unchanged, else built (imports torch)."""
    specs = {e.name: e.spec.to_dict() for e in catalog.entries if e.spec}
    key = hashlib.sha1(json.dumps([_code_digest(), specs], sort_keys=True, default=str).encode()).hexdigest()[:16]
    from ..data.cache import cache_dir, read_cached, write_cached

    path = cache_dir() / f"configs-{key}.json"
    cached = read_cached(path)
    if _well_formed(cached, specs):
        return cached
    from ..errors import TcatError
    from .specs import build_config

    out: dict[str, dict] = {}
    for name, spec in specs.items():
        out[name] = {}
        for variant in spec["variants"]:
            try:
                out[name][variant] = flat_config(build_config(spec, variant))
            except TcatError as e:  # shown beside the views, as tcat verify shows it
                out[name][variant] = {"error": str(e)}
    write_cached(path, out)  # best effort: an unwritable cache costs the next run a rebuild
    return out


def _well_formed(data, specs: dict) -> bool:
    """A cached file is used only if it holds one dict per variant of every spec (a damaged or
    hand-edited file is rebuilt); a flat config must carry the keys derive() reads."""
    return (
        isinstance(data, dict)
        and set(data) == set(specs)
        and all(
            isinstance(data[n], dict)
            and list(data[n]) == list(specs[n]["variants"])
            and all(isinstance(f, dict) and ("error" in f or "norm.placement" in f) for f in data[n].values())
            for n in specs
        )
    )


def entry_changes(catalog) -> list[EntryChanges]:
    """Every buildable entry's changes, by date then name."""
    configs = built_configs(catalog)
    rows = []
    for e in catalog.entries:
        if e.name not in configs:
            continue
        row = EntryChanges(e.name, e.date)
        for variant, flat in configs[e.name].items():
            if "error" in flat:
                row.failed[variant] = flat["error"]
                continue
            uses = derive(flat)
            # sizes that use the same changes form one group; particulars that differ (a head count)
            # are joined, so T5 3B and 11B are one group with both head sizes
            same = next((g for g in row.groups if [u.key for u in g[1]] == [u.key for u in uses]), None)
            if same:
                same[0].append(variant)
                same[1][:] = [_merge(u, v) for u, v in zip(same[1], uses)]
            else:
                row.groups.append(([variant], uses))
        if row.groups:
            rows.append(row)
    return sorted(rows, key=lambda r: (r.date, r.name))


def _merge(u: Use, v: Use) -> Use:
    details = u.detail.split(" / ") if u.detail else []
    if v.detail and v.detail not in details:
        details.append(v.detail)
    return Use(u.category, u.change, " / ".join(details))


@dataclass
class Adoption:
    category: str
    change: str
    entries: list[str]  # the entries using it, by date
    first: tuple[str, str]  # (date, entry) of its first appearance in the catalog
    majority_year: int | None  # the first year in which more than half of that year's entries use it
    shares: dict[int, tuple[int, int]]  # year -> (entries using it, buildable entries that year)


def adoption(rows: list[EntryChanges]) -> list[Adoption]:
    """For every change any entry uses: who uses it, when it first appears, and the first year in
    which it is used by more than half of that year's buildable entries; in CATEGORIES order, then
    by first appearance."""
    rows = sorted(rows, key=lambda r: (r.date, r.name))
    per_year: dict[int, int] = defaultdict(int)
    for r in rows:
        per_year[r.year] += 1
    users: dict[tuple[str, str], list[EntryChanges]] = defaultdict(list)
    for r in rows:
        for k in r.keys:
            users[k].append(r)
    out = []
    for (category, change), using in users.items():
        count: dict[int, int] = defaultdict(int)
        for r in using:
            count[r.year] += 1
        shares = {y: (count[y], n) for y, n in sorted(per_year.items())}
        majority = next((y for y, (k, n) in shares.items() if 2 * k > n), None)
        first = (using[0].date, using[0].name)
        out.append(Adoption(category, change, [r.name for r in using], first, majority, shares))
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    return sorted(out, key=lambda a: (rank.get(a.category, len(rank)), a.first, a.change))


def entry_uses(configs: dict, name: str, variant: str) -> list[Use]:
    """The changes of one built variant (for tcat diff)."""
    return derive(configs[name][variant])


def differences(a: dict, b: dict) -> tuple[list[tuple[str, list[Use], list[Use]]], list[tuple[str, object, object]]]:
    """What separates two flat configs: per category, the changes each uses where they differ; then
    the raw fields whose values differ (a field only one has shows as None on the other side)."""
    ua, ub = derive(a), derive(b)
    cats = []
    for cat in CATEGORIES:
        xa, xb = [u for u in ua if u.category == cat], [u for u in ub if u.category == cat]
        if xa != xb:
            cats.append((cat, xa, xb))
    fields = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return cats, fields


def render_html(env, rows: list[EntryChanges]) -> str:
    """The site's changes page (templates/changes.html) from these rows, with the site's jinja
    environment (autoescaped; names also pass through text.clean)."""
    from .load import slug
    from .text import clean

    years = sorted({r.year for r in rows})
    table = []
    for a in adoption(rows):
        cells = [(a.shares[y][0], a.shares[y][1]) for y in years]
        table.append(
            {
                "category": a.category,
                "change": a.change,
                "count": len(a.entries),
                "entries": [(clean(n), slug(n)) for n in a.entries],
                "first": (a.first[0], clean(a.first[1]), slug(a.first[1])),
                "majority": a.majority_year,
                "cells": [(k, n, round(100 * k / n) if n else 0) for k, n in cells],
            }
        )
    return env.get_template("changes.html").render(
        title="Architecture changes", root="", rows=table, years=years, total=len(rows)
    )


def changes_page(env, catalog) -> str:
    """The one call the site makes: pages["changes.html"] = changes_page(env, catalog)."""
    return render_html(env, entry_changes(catalog))
