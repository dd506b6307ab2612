"""Parameter counts on the meta device: exact, instant, and no memory even for 175B models."""

from __future__ import annotations

import json
from collections import defaultdict
from functools import lru_cache

import torch

from .blocks import Block
from .config import ModelConfig
from .model import build_model


def _count(cfg: ModelConfig) -> int:
    model = build_model(cfg, device="meta")
    return sum(p.numel() for p in model.parameters())


def _block(cfg: ModelConfig, cross: bool) -> int:
    with torch.device("meta"):  # the window pattern changes no parameter, so any layer is representative
        return sum(p.numel() for p in Block(cfg, cross_attention=cross).parameters())


def count_parameters(cfg: ModelConfig) -> int:
    """Distinct learned parameters. Tied tensors (shared embeddings, tied output head) count once;
    fixed buffers (the sinusoidal table) are not parameters and do not count.

    The blocks of a stack are identical, so a deep model is counted as a one-layer model plus
    (N - 1) blocks: a 126-layer 405B model costs two tiny meta builds instead of one huge one."""
    return _count_cached(json.dumps(cfg.to_dict(), sort_keys=True))


@lru_cache(maxsize=1024)
def _count_cached(key: str) -> int:
    cfg = ModelConfig.from_dict(json.loads(key))
    enc, dec = cfg.n_encoder_layers, cfg.n_decoder_layers
    uses_enc, uses_dec = cfg.arch != "decoder", cfg.arch != "encoder"
    if cfg.share_layers or ((not uses_enc or enc <= 1) and (not uses_dec or dec <= 1)):
        return _count(cfg)
    total = _count(cfg.replace(n_encoder_layers=1 if uses_enc else enc, n_decoder_layers=1 if uses_dec else dec))
    if uses_enc:
        total += (enc - 1) * _block(cfg, cross=False)
    if uses_dec:
        total += (dec - 1) * _block(cfg, cross=cfg.arch == "encoder-decoder")
    return total


def parameter_breakdown(cfg: ModelConfig) -> dict[str, int]:
    """Parameters per kind: embeddings, attention, feed-forward, norms, head (untied part only).
    Counted on a one-layer build, with each block's share multiplied by the stack's depth."""
    model = build_model(cfg.replace(n_encoder_layers=min(cfg.n_encoder_layers, 1), n_decoder_layers=min(cfg.n_decoder_layers, 1)),
                        device="meta")
    scale = {"encoder": cfg.n_encoder_layers, "decoder": cfg.n_decoder_layers}
    out: dict[str, int] = defaultdict(int)
    seen: set[int] = set()
    for name, p in model.named_parameters():  # named_parameters() already skips tied duplicates
        if id(p) in seen:
            continue
        seen.add(id(p))
        if ("embed" in name and "norm" not in name) or "relative_bias" in name:
            kind = "embeddings"
        elif "norm" in name:
            kind = "norms"
        elif "attn" in name:
            kind = "attention"
        elif "ffn" in name:
            kind = "feed-forward"
        else:
            kind = "head"
        stack = name.split(".")[0]
        repeat = scale[stack] if stack in scale and ".blocks." in name and not cfg.share_layers else 1
        out[kind] += p.numel() * repeat
    return dict(out)


def _macs(module: torch.nn.Module) -> int:
    """Multiply-accumulates per token of the matrix multiplies in `module` (for a mixture of
    experts, only the top_k experts a token visits)."""
    from .layers import MoEFeedForward

    total = 0
    for m in module.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):  # a patch convolution is a linear map per patch
            total += m.weight.numel()
        elif isinstance(m, MoEFeedForward):
            total += m.router.weight.numel() + (m.gate_up[0].numel() + m.down[0].numel()) * m.top_k
    return total


def forward_flops_per_token(cfg: ModelConfig, context: int) -> int:
    """Forward FLOPs per token at a given context: 2 per weight used in a matrix multiply, for every
    layer as applied (shared layers count each time they run), plus the attention products
    (Q K^T and weights x V: 2 x 2 x context x attention width per layer). Training is about 3x this."""
    uses_enc, uses_dec = cfg.arch != "decoder", cfg.arch != "encoder"
    one = cfg.replace(n_encoder_layers=1 if uses_enc else cfg.n_encoder_layers,
                      n_decoder_layers=1 if uses_dec else cfg.n_decoder_layers)
    macs = _macs(build_model(one, device="meta"))
    with torch.device("meta"):
        if uses_enc:
            macs += (cfg.n_encoder_layers - 1) * _macs(Block(cfg, cross_attention=False))
        if uses_dec:
            macs += (cfg.n_decoder_layers - 1) * _macs(Block(cfg, cross_attention=cfg.arch == "encoder-decoder"))
    layers = cfg.n_encoder_layers * uses_enc + cfg.n_decoder_layers * uses_dec
    return 2 * macs + 4 * layers * context * cfg.attention.n_heads * cfg.head_dim
