"""KV-cache memory per token, from a ModelConfig's numbers alone (no torch, no model built).

Decoding keeps, for every generated or prompt token and every decoder layer, what later tokens
attend to: keys and values of each key/value head for multi-head attention (MHA), fewer heads
under grouped-query (GQA) or multi-query attention (MQA), and for DeepSeek's multi-head latent
attention (MLA) one latent of kv_rank numbers plus one shared rotated key of rope_dim numbers
(nn/mla.py). The cache of a mixer without attention (linear attention, Hyena) does not grow with
the context. Each figure is beside what MHA with the same query heads would keep, which is
what GQA and MLA were designed to shrink; sliding-window layers keep at most `window` tokens.
"""

from __future__ import annotations

BYTES = 2  # 16-bit keys and values, as models are served (bf16 / fp16)


def kv_cache(cfg) -> dict | None:
    """{"kind", "numbers", "mha_numbers", "window_layers", "window"} per token over all decoder
    layers, for a ModelConfig; None for models that do not decode token by token (encoders, DiT)."""
    if cfg.arch == "encoder" or cfg.vision is not None or cfg.dit is not None:
        return None
    a, layers = cfg.attention, cfg.n_decoder_layers
    if cfg.mixer != "attention":
        return {
            "kind": f"{cfg.mixer} (fixed state)",
            "numbers": 0,
            "mha_numbers": 0,
            "window_layers": 0,
            "window": None,
        }
    if a.latent is not None:
        per_layer = a.latent.kv_rank + a.latent.rope_dim
        mha = a.n_heads * (cfg.head_dim + a.latent.v_head_dim)  # every head's key and value, rebuilt per step
        kind = "MLA"
    else:
        per_layer, mha = 2 * cfg.n_kv_heads * cfg.head_dim, 2 * a.n_heads * cfg.head_dim
        kind = "MHA" if cfg.n_kv_heads == a.n_heads else ("MQA" if cfg.n_kv_heads == 1 else "GQA")
    windowed = sum(cfg.local_at(i) for i in range(layers))
    return {
        "kind": kind,
        "numbers": layers * per_layer,
        "mha_numbers": layers * mha,
        "window_layers": windowed,
        "window": a.window if windowed else None,
    }


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} GiB"


def describe(kv: dict | None) -> str:
    """One cell of `tcat show`: '68.6 KiB MLA (MHA: 4.77 MiB, 71x less)'; '-' without a cache."""
    if not _well_formed(kv):  # None, or a damaged cache file: no figure rather than a traceback
        return "-"
    if not kv["numbers"]:
        return kv["kind"]
    text = f"{human_bytes(kv['numbers'] * BYTES)} {kv['kind']}"
    if kv["mha_numbers"] != kv["numbers"]:
        ratio = kv["mha_numbers"] / kv["numbers"]
        text += f" (MHA: {human_bytes(kv['mha_numbers'] * BYTES)}, {ratio:.3g}x less)"
    if kv["window_layers"]:
        text += f"; {kv['window_layers']} layers keep <= {kv['window']} tokens"
    return text


def _well_formed(kv) -> bool:
    return (
        isinstance(kv, dict)
        and isinstance(kv.get("kind"), str)
        and all(isinstance(kv.get(k), int) and kv[k] >= 0 for k in ("numbers", "mha_numbers", "window_layers"))
        and (kv["numbers"] == 0 or kv["mha_numbers"] > 0)
    )
