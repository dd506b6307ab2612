"""Parameter counts on the meta device: exact, instant, and no memory even for 175B models."""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache

import torch

from .blocks import Block
from .config import ModelConfig
from .model import build_model


def _count(cfg: ModelConfig) -> int:
    model = build_model(cfg, device="meta")
    return sum(p.numel() for p in model.parameters())


def _blocks(cfg: ModelConfig, layers: range, cross: bool, measure, total=0):
    """Sum of measure(block) over a stack's `layers` (numbers, or Counters), building one meta block
    per distinct kind of layer (dense or experts; the attention window changes no weight)."""
    seen = {}
    for i in layers:
        kind = cfg.layer_weights(i)  # dense or experts, the first block without attention norm
        if kind not in seen:
            with torch.device("meta"):
                seen[kind] = measure(Block(cfg, cross_attention=cross, layer=i))
        total += seen[kind]
    return total


def _numel(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


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
    # a DiT's blocks are not the core's Block: one whole meta build (28 blocks of DiT-XL cost nothing there)
    if cfg.dit is not None or cfg.share_layers or ((not uses_enc or enc <= 1) and (not uses_dec or dec <= 1)):
        return _count(cfg)
    total = _count(cfg.replace(n_encoder_layers=1 if uses_enc else enc, n_decoder_layers=1 if uses_dec else dec))
    if uses_enc:
        total += _blocks(cfg, range(1, enc), False, _numel)
    if uses_dec:
        total += _blocks(cfg, range(1, dec), cfg.arch == "encoder-decoder", _numel)
    return total


def _kind_rules():
    """Which part of the breakdown each module type's parameters belong to. A module with a kind
    passes it to its children unless they have their own; a position scheme's subtree (its table's
    LayerNorm included) counts as embeddings whole. Untyped parameters outside these are the head."""
    from .attention import MultiHeadAttention
    from .layers import FeedForward, HeadwiseNorm, MoEFeedForward, RMSNorm
    from .mla import LatentAttention
    from .model import Embeddings, PatchEmbeddings
    from .positions import PositionScheme

    own = (
        (Embeddings, "embeddings"),
        (PatchEmbeddings, "embeddings"),
        (torch.nn.LayerNorm, "norms"),
        (RMSNorm, "norms"),
        (HeadwiseNorm, "norms"),
        (MultiHeadAttention, "attention"),
        (LatentAttention, "attention"),
        (FeedForward, "feed-forward"),
        (MoEFeedForward, "feed-forward"),
    )
    whole = ((PositionScheme, "embeddings"),)
    return own, whole


def _by_kind(root: torch.nn.Module, skip_blocks: bool = False) -> Counter:
    """Parameters per kind under `root`, each counted once (tied ones at their first holder, as
    named_parameters() does); with skip_blocks, the parameters inside Blocks are left out."""
    own, whole = _kind_rules()
    out: Counter = Counter()
    seen: set[int] = set()

    def visit(module: torch.nn.Module, kind: str, claimed: bool) -> None:
        if id(module) in seen or (skip_blocks and isinstance(module, Block)):
            return
        seen.add(id(module))
        if not claimed:
            for cls, k in whole:
                if isinstance(module, cls):
                    kind, claimed = k, True
            for cls, k in own if not claimed else ():
                if isinstance(module, cls):
                    kind = k
        for p in module.parameters(recurse=False):
            if id(p) not in seen:
                seen.add(id(p))
                out[kind] += p.numel()
        for child in module.children():
            visit(child, kind, claimed)

    visit(root, "head", False)
    return out


def parameter_breakdown(cfg: ModelConfig) -> dict[str, int]:
    """Parameters per kind: embeddings, attention, feed-forward, norms, head (untied part only).
    The parts outside the blocks come from a one-layer build; each stack's blocks are added layer
    by layer (one meta build per distinct kind of layer)."""
    if cfg.dit is not None:  # its blocks are DiT blocks: one whole meta build
        return dict(_by_kind(build_model(cfg, device="meta")))
    uses_enc, uses_dec = cfg.arch != "decoder", cfg.arch != "encoder"
    model = build_model(
        cfg.replace(n_encoder_layers=min(cfg.n_encoder_layers, 1), n_decoder_layers=min(cfg.n_decoder_layers, 1)),
        device="meta",
    )
    out = _by_kind(model, skip_blocks=not cfg.share_layers)
    if not cfg.share_layers:
        if uses_enc:
            out = _blocks(cfg, range(cfg.n_encoder_layers), False, _by_kind, out)
        if uses_dec:
            out = _blocks(cfg, range(cfg.n_decoder_layers), cfg.arch == "encoder-decoder", _by_kind, out)
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
            up = m.gate_up if m.gated else m.up
            total += m.router.weight.numel() + (up[0].numel() + m.down[0].numel()) * m.top_k
    return total


def forward_flops_per_token(cfg: ModelConfig, context: int) -> float:
    """Forward FLOPs per token at a given context: 2 per weight used in a matrix multiply, for every
    layer as applied (shared layers count each time they run), plus the attention products
    (Q K^T and weights x V: 2 x 2 x context x attention width per layer). Training is about 3x this."""
    uses_enc, uses_dec = cfg.arch != "decoder", cfg.arch != "encoder"
    one = cfg.replace(
        n_encoder_layers=1 if uses_enc else cfg.n_encoder_layers,
        n_decoder_layers=1 if uses_dec else cfg.n_decoder_layers,
    )
    macs = _macs(build_model(one, device="meta"))
    if uses_enc:
        macs += _blocks(cfg, range(1, cfg.n_encoder_layers), False, _macs)
    if uses_dec:
        macs += _blocks(cfg, range(1, cfg.n_decoder_layers), cfg.arch == "encoder-decoder", _macs)
    layers = cfg.n_encoder_layers * uses_enc + cfg.n_decoder_layers * uses_dec
    a = cfg.attention  # per key: q.k over head_dim, weights x v over the value size (latent attention: v_head_dim)
    per_key = 2 * (cfg.head_dim + (a.latent.v_head_dim if a.latent is not None else cfg.head_dim))
    return 2 * macs + layers * _keys_per_query(cfg, context) * a.n_heads * per_key


def _keys_per_query(cfg: ModelConfig, context: int) -> float:
    """Keys a query attends to, averaged over layers: the context, or less under a sliding window or
    in attention chunks (Llama 4; both on the layers window_pattern marks local), or BigBird's block
    pattern. A chunk is a window that restarts: up to `chunk` keys, as a window of that size."""
    a = cfg.attention
    if a.block_sparse is not None:
        b = a.block_sparse
        return min(context, (b.window_blocks + b.global_blocks + b.random_blocks) * b.block_size)
    span = a.window if a.window is not None else a.chunk
    if span is None:
        return context
    local = a.window_pattern.count("L") / len(a.window_pattern)
    return local * min(context, span) + (1 - local) * context
