"""Parameter counts on the meta device: exact, instant, and no memory even for 175B models."""

from __future__ import annotations

from collections import defaultdict

from .config import ModelConfig
from .model import build_model


def count_parameters(cfg: ModelConfig) -> int:
    """Distinct learned parameters. Tied tensors (shared embeddings, tied output head) count once;
    fixed buffers (the sinusoidal table) are not parameters and do not count."""
    model = build_model(cfg, device="meta")
    return sum(p.numel() for p in model.parameters())


def parameter_breakdown(cfg: ModelConfig) -> dict[str, int]:
    """Parameters per kind: embeddings, attention, feed-forward, norms, head (untied part only)."""
    model = build_model(cfg, device="meta")
    out: dict[str, int] = defaultdict(int)
    seen: set[int] = set()
    for name, p in model.named_parameters():  # named_parameters() already skips tied duplicates
        if id(p) in seen:
            continue
        seen.add(id(p))
        if "embed" in name and "norm" not in name:
            kind = "embeddings"
        elif "norm" in name:
            kind = "norms"
        elif "attn" in name:
            kind = "attention"
        elif "ffn" in name:
            kind = "feed-forward"
        else:
            kind = "head"
        out[kind] += p.numel()
    return dict(out)
