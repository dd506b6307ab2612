"""Computed facts about an entry with a spec: parameters by kind and forward FLOPs per token, per
size variant. Needs torch (models are built on the meta device); results are cached per spec so
that `tcat show` stays torch-free after the first time."""

from __future__ import annotations

import hashlib
import json

from .. import __version__


def _key(entry) -> str:
    spec = entry.spec.to_dict()
    return hashlib.sha1(json.dumps([__version__, spec], sort_keys=True).encode()).hexdigest()[:16]


def breakdown(entry, compute: bool = True) -> list[dict] | None:
    """[{variant, params, embeddings, attention, feed-forward, norms, head, flops_per_token, context}]
    or None when the entry has no spec (or it is not cached and compute is False)."""
    if not entry.spec:
        return None
    from ..data.cache import cache_dir, read_cached, write_cached

    path = cache_dir() / f"breakdown-{_key(entry)}.json"
    rows = read_cached(path)
    if _well_formed(rows, entry):
        return rows
    if not compute:
        return None
    from ..nn.count import count_parameters, forward_flops_per_token, parameter_breakdown
    from ..nn.moe import inactive_parameters
    from .kvcache import kv_cache
    from .specs import build_config

    rows = []
    for variant in entry.spec.to_dict()["variants"]:
        cfg = build_config(entry.spec.to_dict(), variant)
        context = min(cfg.position.max_len, 2048)
        params = count_parameters(cfg)
        rows.append(
            {
                "variant": variant,
                "params": params,
                # a mixture of experts: what one token uses (the experts it skips left out)
                "active_params": params - inactive_parameters(cfg) if cfg.moe is not None else None,
                **parameter_breakdown(cfg),
                "flops_per_token": forward_flops_per_token(cfg, context),
                "context": context,
                "kv_cache": kv_cache(cfg),  # per token, from the config's numbers (catalog/kvcache.py)
            }
        )
    write_cached(path, rows)  # best effort: an unwritable cache only costs the next run a recomputation
    return rows


def _well_formed(rows, entry) -> bool:
    """A cached breakdown is used only if it has one row per variant with numeric counts; anything
    else (a damaged or hand-edited cache file) is recomputed."""
    variants = list(entry.spec.to_dict()["variants"])
    return (
        isinstance(rows, list)
        and len(rows) == len(variants)
        and all(
            isinstance(r, dict)
            and r.get("variant") == v
            and "kv_cache" in r  # caches written before the KV-cache figure are recomputed
            and "active_params" in r
            and all(isinstance(r.get(k), int | float) for k in ("params", "flops_per_token", "context"))
            for r, v in zip(rows, variants)
        )
    )
