"""Position-wise pieces: positional encodings (section 3.5), feed-forward (3.3), normalisation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import FFNConfig, NormConfig, PositionConfig
from .init import initialised, keep, normal
from .moe import MoEFeedForward  # noqa: F401  (moved to nn/moe.py; re-exported for old imports)
from .positions import PositionScheme, scheme
from .rope import length_dependent, rotary_tables, rows_at_length, scaled_frequencies  # noqa: F401 (re-export)


def _fixed_table(make, shape: tuple[int, ...]) -> Tensor:
    """A fixed (non-learned) table, computed on the CPU and moved to the device the model is being
    built on. On the meta device only its shape matters (meta math would merely set up slow
    Python reference kernels)."""
    device = torch.empty(0).device
    if device.type == "meta":
        return torch.empty(shape, device=device)
    with torch.device("cpu"):
        table = make()
    return table.to(device)


def table_rows(table: Tensor, offset: int | Tensor, length: int) -> Tensor:
    """Rows offset .. offset + length - 1 of a position table. `offset` may be a 0-d tensor (the
    static KV cache's position), which a compiled decoding step reads without recompiling."""
    if isinstance(offset, Tensor):
        return table.index_select(0, offset + torch.arange(length, device=table.device))
    return table[offset : offset + length]


class SinusoidalPositions(nn.Module):
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).

    A fixed table, kept out of the state dict (it is not learned, so it is not a parameter).
    """

    def __init__(self, d_model: int, max_len: int, layout: str = "interleaved"):
        super().__init__()

        def make():
            pos = torch.arange(max_len, dtype=torch.float32)[:, None]
            inv_freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
            table = torch.zeros(max_len, d_model)
            if layout == "halves":  # Pegasus: sines in the first half, cosines in the second
                half = (d_model + 1) // 2
                table[:, :half] = torch.sin(pos * inv_freq)
                table[:, half:] = torch.cos(pos * inv_freq[: d_model // 2])
            else:
                table[:, 0::2] = torch.sin(pos * inv_freq)
                table[:, 1::2] = torch.cos(pos * inv_freq[: d_model // 2])
            return table

        self.register_buffer("table", _fixed_table(make, (max_len, d_model)), persistent=False)

    def forward(self, length: int, offset: int | Tensor = 0) -> Tensor:
        return table_rows(self.table, offset, length)

    def at(self, positions: Tensor) -> Tensor:
        """Rows at per-token positions (B, T) -> (B, T, d_model)."""
        return F.embedding(positions, self.table)


@initialised(lambda module, p: nn.init.normal_(p, std=module.std))
class EmbeddingTable(nn.Embedding):
    """A lookup table whose rows start N(0, std): tokens use d_model^-1/2, so that embedding *
    sqrt(d_model) has unit scale; segment (token type) tables 0.02, as BERT. The values are left
    unset here for the model's init_weights (nn.Embedding's own initialiser is slow to set up on the
    meta device, where parameters are only counted)."""

    def __init__(self, n: int, d: int, std: float):
        super().__init__(n, d, _weight=torch.empty(n, d))
        self.std = std


@initialised(normal(0.02))  # as BERT and GPT-2
class LearnedPositions(nn.Module):
    """One learned vector per position (the paper's variant in Table 3 row E; BERT, GPT).
    `first` rows are skipped: OPT and BART reserve two, RoBERTa pad_id + 1."""

    def __init__(self, d_model: int, max_len: int, first: int = 0):
        super().__init__()
        self.first = first
        self.weight = nn.Parameter(torch.empty(first + max_len, d_model))  # filled by the model's init_weights

    def forward(self, length: int, offset: int | Tensor = 0) -> Tensor:
        return table_rows(self.weight, self.first + offset, length)

    def at(self, positions: Tensor) -> Tensor:
        """Rows at per-token positions (B, T) -> (B, T, d_model)."""
        return F.embedding(positions + self.first, self.weight)


def make_positions(d_model: int, cfg: PositionConfig) -> nn.Module | None:
    """The additive position table, if the model adds one to its embeddings (rope does not). Each
    kind answers forward(length, offset) for consecutive positions and at(positions) for per-token ones."""
    if cfg.kind == "sinusoidal":
        return SinusoidalPositions(d_model, cfg.max_len, cfg.sinusoidal_layout)
    if cfg.kind == "learned":
        return LearnedPositions(d_model, cfg.max_len, cfg.offset)
    return None


@scheme("rope")
class RotaryEmbedding(PositionScheme):
    """RoPE (Su et al., RoFormer): rotate pairs of query/key dimensions by position-dependent
    angles, so that q·k depends on the relative offset only. Pairs are (i, i + rot/2) — the
    "rotate half" layout of GPT-NeoX and LLaMA; GPT-J's interleaved layout converts into it by
    permuting projection rows. With rotary_fraction < 1 only the first dimensions rotate. One
    table per stack; each forward reads the rows of its positions once for all layers."""

    attribute = "rotary"
    static_cache = True

    def __init__(self, head_dim: int, cfg: PositionConfig):
        super().__init__()
        self.rot = rot = int(head_dim * cfg.rotary_fraction)
        # dynamic / longrope frequencies follow the sequence's length: computed per forward (nn/rope.py)
        self.position = cfg if length_dependent(cfg) else None

        def tables():
            return rotary_tables(rot, cfg, torch.arange(cfg.max_len, dtype=torch.float32))  # (max_len, rot) each

        shape = (cfg.max_len, rot)
        self.register_buffer("cos", _fixed_table(lambda: tables()[0], shape), persistent=False)
        self.register_buffer("sin", _fixed_table(lambda: tables()[1], shape), persistent=False)
        self.has_local = cfg.rope_local_theta is not None
        if self.has_local:  # the local layers' own base, without scaling (Gemma 3, ModernBERT)

            def local_angles():
                inv_freq = 1.0 / cfg.rope_local_theta ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot)
                a = torch.outer(torch.arange(cfg.max_len, dtype=torch.float32), inv_freq)
                return torch.cat([a, a], dim=-1)

            self.register_buffer("cos_local", _fixed_table(lambda: local_angles().cos(), shape), persistent=False)
            self.register_buffer("sin_local", _fixed_table(lambda: local_angles().sin(), shape), persistent=False)

    @classmethod
    def build(cls, cfg, causal: bool) -> RotaryEmbedding:
        latent = cfg.attention.latent  # latent attention rotates only its shared rope_dim part
        return cls(cfg.head_dim if latent is None else latent.rope_dim, cfg.position)

    def prepare(self, n_queries: int, past: int | Tensor = 0) -> tuple[Tensor, Tensor]:
        """cos and sin rows of positions past .. past + n_queries - 1."""
        if self.position is not None:
            return tuple(t.to(self.cos.device) for t in rows_at_length(self.rot, self.position, n_queries, past))
        rows = (table_rows(self.cos, past, n_queries), table_rows(self.sin, past, n_queries))
        if self.has_local:  # then the local layers' rows
            rows += (table_rows(self.cos_local, past, n_queries), table_rows(self.sin_local, past, n_queries))
        return rows

    def rotate(self, state, q: Tensor, k: Tensor, local: bool = False) -> tuple[Tensor, Tensor]:
        cos_sin = state[2:4] if local and self.has_local else state[:2]
        return self.apply(q, *cos_sin), self.apply(k, *cos_sin)

    def apply(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        """x: (B, H, T, head_dim) at the positions cos and sin (T, rot) were read for."""
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        x_rot, x_pass = x[..., : self.rot], x[..., self.rot :]
        half = self.rot // 2
        rotated = torch.cat([-x_rot[..., half:], x_rot[..., :half]], dim=-1)
        return torch.cat([x_rot * cos + rotated * sin, x_pass], dim=-1)


@initialised(keep)  # gains of 1 (offsets of 0 with unit_offset)
class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * g (Zhang & Sennrich, 2019): LayerNorm without centring or bias.
    Computed in fp32 whatever the input dtype, as LLaMA does. With unit_offset the gain is
    1 + weight, applied in fp32 before the cast back (Gemma's checkpoints store the offset)."""

    def __init__(self, d_model: int, eps: float, unit_offset: bool = False):
        super().__init__()
        self.eps, self.unit_offset = eps, unit_offset
        self.weight = nn.Parameter(torch.zeros(d_model) if unit_offset else torch.ones(d_model))

    def forward(self, x: Tensor) -> Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.unit_offset:
            return (h * (1.0 + self.weight.float())).to(x.dtype)
        return self.weight * h.to(x.dtype)


@initialised(keep)  # gains of 1
class HeadwiseNorm(nn.Module):
    """norm.kind over each head's last dimension, then a gain of shape (heads, head_dim), no bias:
    every head has its own (Cohere's q/k norm, StableLM 2's per-head LayerNorms). Input (..., heads, head_dim)."""

    def __init__(self, heads: int, head_dim: int, cfg: NormConfig):
        super().__init__()
        self.kind, self.eps = cfg.kind, cfg.eps
        self.weight = nn.Parameter(torch.ones(heads, head_dim))

    def forward(self, x: Tensor) -> Tensor:
        h = x.float()
        if self.kind == "layernorm":
            h = F.layer_norm(h, h.shape[-1:], eps=self.eps)
        else:
            h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return (h * self.weight.float()).to(x.dtype)


class OffsetLayerNorm(nn.LayerNorm):
    """LayerNorm whose gain is 1 + weight, the weight stored as an offset from 1 and starting at 0
    (Nemotron's LayerNorm1P); a LayerNorm for initialisation and counting."""

    def __init__(self, d_model: int, eps: float, bias: bool):
        super().__init__(d_model, eps=eps, bias=bias)
        with torch.no_grad():
            self.weight.zero_()

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight + 1.0, self.bias, self.eps)


def make_norm(d_model: int, cfg: NormConfig) -> nn.Module:
    if cfg.kind == "rmsnorm":
        return RMSNorm(d_model, cfg.eps, cfg.unit_offset)
    if cfg.unit_offset:
        return OffsetLayerNorm(d_model, cfg.eps, cfg.bias)
    return nn.LayerNorm(d_model, eps=cfg.eps, elementwise_affine=cfg.affine, bias=cfg.bias and cfg.affine)


_ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "relu2": lambda x: F.relu(x).square(),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
}


def dropout(layer: nn.Dropout, x: Tensor) -> Tensor:
    """layer(x), without the module call when it would return x anyway (eval, or p = 0): a decoding
    step makes ~20 such calls, each a few microseconds of Python."""
    return layer(x) if layer.training and layer.p > 0 else x


class FeedForward(nn.Module):
    """FFN(x) = act(x W1 + b1) W2 + b2, applied to each position separately (section 3.3).
    Gated (Shazeer, 2020): FFN(x) = (act(x W_gate) * x W_up) W_down — SwiGLU, GEGLU."""

    def __init__(self, d_model: int, cfg: FFNConfig, dropout: float):
        super().__init__()
        self.gate = nn.Linear(d_model, cfg.d_ff, bias=cfg.bias) if cfg.gated else None
        self.up = nn.Linear(d_model, cfg.d_ff, bias=cfg.bias)
        self.down = nn.Linear(cfg.d_ff, d_model, bias=cfg.bias)
        self.act = _ACTIVATIONS[cfg.activation]
        # nn.Transformer (and tensor2tensor) also drop out the hidden activation; the paper is
        # silent. We follow them so that training matches the common reference implementation.
        self.dropout = nn.Dropout(dropout)
        self.hooks = None  # a hooks.Tap while hooks are installed (nn/hooks.py)

    def forward(self, x: Tensor) -> Tensor:
        if self.hooks is not None:
            return self._hooked(self.hooks, x)
        if self.gate is not None:
            return self.down(dropout(self.dropout, self.act(self.gate(x)) * self.up(x)))
        return self.down(dropout(self.dropout, self.act(self.up(x))))

    def _hooked(self, h, x: Tensor) -> Tensor:
        if self.gate is not None:
            hidden = self.act(h("mlp.hook_pre", self.gate(x))) * h("mlp.hook_pre_linear", self.up(x))
        else:
            hidden = self.act(h("mlp.hook_pre", self.up(x)))
        return self.down(dropout(self.dropout, h("mlp.hook_post", hidden)))


@scheme("relative")
@initialised(normal(0.02))
class RelativePositionBias(PositionScheme):
    """T5's relative position bias: one learned scalar per head and bucket of (key - query) offset,
    added to every layer's self-attention logits. Small offsets get a bucket each; larger ones share
    log-spaced buckets up to max_distance. Encoders distinguish left from right (bidirectional)."""

    attribute = "relative_bias"

    def __init__(self, n_heads: int, cfg: PositionConfig, bidirectional: bool):
        super().__init__()
        self.buckets, self.max_distance, self.bidirectional = (
            cfg.relative_buckets,
            cfg.relative_max_distance,
            bidirectional,
        )
        self.weight = nn.Parameter(torch.empty(cfg.relative_buckets, n_heads))

    @classmethod
    def build(cls, cfg, causal: bool) -> RelativePositionBias:
        return cls(cfg.attention.n_heads, cfg.position, bidirectional=not causal)

    def bucket(self, rel: Tensor) -> Tensor:
        n, out = self.buckets, torch.zeros_like(rel)
        if self.bidirectional:
            n //= 2
            out = out + (rel > 0).long() * n
            rel = rel.abs()
        else:
            rel = (-rel).clamp(min=0)  # only the past is visible to a causal query
        exact = n // 2
        log_bucket = (
            exact
            + (torch.log(rel.float().clamp(min=1) / exact) / math.log(self.max_distance / exact) * (n - exact)).long()
        )
        return out + torch.where(rel < exact, rel, log_bucket.clamp(max=n - 1))

    def prepare(self, n_queries: int, past: int | Tensor = 0) -> Tensor:
        return self.table(n_queries, past + n_queries)

    def bias(self, state, q, k, attention, scale) -> Tensor:
        return state

    def table(self, n_queries: int, n_keys: int) -> Tensor:
        """(1, heads, queries, keys); queries are the last n_queries of n_keys positions."""
        q = torch.arange(n_keys - n_queries, n_keys, device=self.weight.device)[:, None]
        k = torch.arange(n_keys, device=self.weight.device)[None, :]
        return self.weight[self.bucket(k - q)].permute(2, 0, 1)[None]


def alibi_slopes(n_heads: int) -> Tensor:
    """ALiBi's head slopes: the geometric series 2^(-8/n), 2^(-16/n), ... for n a power of two; for
    other n, the series of the nearest lower power of two, then every other slope of the next one."""

    def series(n):
        start = 2 ** (-8 / n)
        return [start ** (i + 1) for i in range(n)]

    p = 2 ** math.floor(math.log2(n_heads))
    slopes = series(p) + series(2 * p)[0::2][: n_heads - p]
    return torch.tensor(slopes)


@scheme("alibi")
class ALiBi(PositionScheme):
    """Attention with Linear Biases: logits get slope_h * (key position), which within each
    query's (causal) row equals -slope_h * distance up to a constant the softmax ignores."""

    attribute = "relative_bias"

    def __init__(self, n_heads: int):
        super().__init__()
        self.register_buffer("slopes", _fixed_table(lambda: alibi_slopes(n_heads), (n_heads,)), persistent=False)

    @classmethod
    def build(cls, cfg, causal: bool) -> ALiBi:
        return cls(cfg.attention.n_heads)

    def prepare(self, n_queries: int, past: int | Tensor = 0) -> Tensor:
        return self.table(n_queries, past + n_queries)

    def bias(self, state, q, k, attention, scale) -> Tensor:
        return state

    def table(self, n_queries: int, n_keys: int) -> Tensor:
        keys = torch.arange(n_keys, device=self.slopes.device, dtype=torch.float32)
        return (self.slopes[:, None] * keys[None, :])[None, :, None, :]  # (1, heads, 1, keys)
