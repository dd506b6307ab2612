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
    from ..data.cache import cache_dir, write_json_atomic

    path = cache_dir() / f"breakdown-{_key(entry)}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        if not compute:
            return None
    from ..nn.count import count_parameters, forward_flops_per_token, parameter_breakdown
    from .verify import build_config

    rows = []
    for variant in entry.spec.to_dict()["variants"]:
        cfg = build_config(entry.spec.to_dict(), variant)
        context = min(cfg.position.max_len, 2048)
        rows.append({"variant": variant, "params": count_parameters(cfg), **parameter_breakdown(cfg),
                     "flops_per_token": forward_flops_per_token(cfg, context), "context": context})
    try:
        write_json_atomic(path, rows)
    except OSError:
        pass
    return rows
