"""Position-wise pieces: positional encodings (section 3.5), feed-forward (3.3), normalisation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import FFNConfig, MoEConfig, NormConfig, PositionConfig
from .init import initialised, keep, normal, xavier
from .positions import PositionScheme, scheme


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


def scaled_frequencies(inv_freq: Tensor, cfg: PositionConfig) -> Tensor:
    """Rotary frequencies after context-extension scaling (see PositionConfig.rope_scaling)."""
    if cfg.rope_scaling == "linear":
        return inv_freq / cfg.rope_factor
    if cfg.rope_scaling == "ntk":  # inv_freq_i = theta^(-2i/d)  ->  (theta * factor^(d/(d-2)))^(-2i/d)
        d = 2 * inv_freq.numel()
        exponent = torch.arange(0, d, 2, dtype=torch.float32) / d
        return inv_freq * cfg.rope_factor ** (-exponent * d / (d - 2))
    if cfg.rope_scaling == "llama3":
        wavelength = 2 * math.pi / inv_freq
        long_limit = cfg.rope_original_len / cfg.rope_low_freq  # longer wavelengths: fully rescaled
        short_limit = cfg.rope_original_len / cfg.rope_high_freq  # shorter wavelengths: untouched
        blend = (cfg.rope_original_len / wavelength - cfg.rope_low_freq) / (cfg.rope_high_freq - cfg.rope_low_freq)
        mixed = (1 - blend) * inv_freq / cfg.rope_factor + blend * inv_freq
        out = torch.where(wavelength > long_limit, inv_freq / cfg.rope_factor, inv_freq)
        return torch.where((wavelength >= short_limit) & (wavelength <= long_limit), mixed, out)
    return inv_freq


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

        def angles():
            inv_freq = scaled_frequencies(
                1.0 / cfg.rope_theta ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot), cfg
            )
            a = torch.outer(torch.arange(cfg.max_len, dtype=torch.float32), inv_freq)
            return torch.cat([a, a], dim=-1)  # (max_len, rot)

        shape = (cfg.max_len, rot)
        self.register_buffer("cos", _fixed_table(lambda: angles().cos(), shape), persistent=False)
        self.register_buffer("sin", _fixed_table(lambda: angles().sin(), shape), persistent=False)

    @classmethod
    def build(cls, cfg, causal: bool) -> RotaryEmbedding:
        return cls(cfg.head_dim, cfg.position)

    def prepare(self, n_queries: int, past: int | Tensor = 0) -> tuple[Tensor, Tensor]:
        """cos and sin rows of positions past .. past + n_queries - 1."""
        return table_rows(self.cos, past, n_queries), table_rows(self.sin, past, n_queries)

    def rotate(self, state, q: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
        return self.apply(q, *state), self.apply(k, *state)

    def apply(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        """x: (B, H, T, head_dim) at the positions cos and sin (T, rot) were read for."""
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        x_rot, x_pass = x[..., : self.rot], x[..., self.rot :]
        half = self.rot // 2
        rotated = torch.cat([-x_rot[..., half:], x_rot[..., :half]], dim=-1)
        return torch.cat([x_rot * cos + rotated * sin, x_pass], dim=-1)


@initialised(keep)  # gains of 1
class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * g (Zhang & Sennrich, 2019): LayerNorm without centring or bias.
    Computed in fp32 whatever the input dtype, as LLaMA does."""

    def __init__(self, d_model: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def forward(self, x: Tensor) -> Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def make_norm(d_model: int, cfg: NormConfig) -> nn.Module:
    if cfg.kind == "rmsnorm":
        return RMSNorm(d_model, cfg.eps)
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


@initialised(xavier)  # expert by expert; the router is a Linear
class MoEFeedForward(nn.Module):
    """Top-k mixture of experts (Shazeer et al., 2017; Switch; Mixtral). A linear router scores the
    experts per token; each token's output is the router-weighted sum of its top-k experts. Experts
    are gated like the dense feed-forward (ffn.gated). Expert weights are stored stacked: gate_up
    (E, 2 d_ff, d) when gated, else up (E, d_ff, d); and down (E, d, d_ff).

    After each forward, `aux_loss` holds the load-balancing loss E * sum_e f_e * P_e, where f_e is
    the share of token assignments that went to expert e and P_e its mean router probability."""

    def __init__(self, d_model: int, ffn: FFNConfig, moe: MoEConfig):
        super().__init__()
        d_ff = moe.d_ff or ffn.d_ff
        self.top_k, self.renormalize, self.n_experts = moe.top_k, moe.renormalize, moe.n_experts
        self.capacity = moe.capacity
        self.router = nn.Linear(d_model, moe.n_experts, bias=False)
        if ffn.gated:
            self.gate_up = nn.Parameter(torch.empty(moe.n_experts, 2 * d_ff, d_model))
        else:
            self.up = nn.Parameter(torch.empty(moe.n_experts, d_ff, d_model))
        self.down = nn.Parameter(torch.empty(moe.n_experts, d_model, d_ff))
        self.gated = ffn.gated
        self.act = _ACTIVATIONS[ffn.activation]
        self.aux_loss: Tensor | None = None
        self.hooks = None  # a hooks.Tap while hooks are installed (nn/hooks.py)

    def _within_capacity(self, experts: Tensor, shape: torch.Size) -> Tensor:
        """(tokens, k) bool: the assignment fits its expert's capacity. Each sequence fills the
        experts in token order (then slot order), as Switch and Hugging Face count."""
        per_row = experts.reshape(shape[0], -1) if len(shape) == 3 else experts.reshape(1, -1)
        one_hot = F.one_hot(per_row, self.n_experts)  # (rows, tokens * k, E)
        priority = (one_hot.cumsum(dim=1) * one_hot).sum(-1)  # 1 for an expert's first token, 2 for its second...
        return (priority <= self.capacity).reshape(experts.shape)

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        probs = F.softmax(self.router(x).float(), dim=-1)
        if self.hooks is not None:  # (B, T, E) for the hook, as every other point is per position
            probs = self.hooks("mlp.hook_router", probs.reshape(*shape[:-1], -1)).reshape(probs.shape)
        weights, experts = probs.topk(self.top_k, dim=-1)
        if self.renormalize:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        counts = torch.bincount(experts.reshape(-1), minlength=self.n_experts).float()
        self.aux_loss = self.n_experts * (counts / x.size(0) * probs.mean(0)).sum()
        keep = (
            torch.ones_like(experts, dtype=torch.bool)
            if self.capacity is None
            else self._within_capacity(experts, shape)
        )
        out = torch.zeros_like(x)
        for e in torch.unique(experts[keep]).tolist():  # only the experts some token reached
            token, slot = torch.where((experts == e) & keep)
            if self.gated:
                gate, up = F.linear(x[token], self.gate_up[e]).chunk(2, dim=-1)
                h = self.act(gate) * up
            else:
                h = self.act(F.linear(x[token], self.up[e]))
            y = F.linear(h, self.down[e])
            out.index_add_(0, token, (y * weights[token, slot, None]).to(out.dtype))
        return out.reshape(shape)


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
