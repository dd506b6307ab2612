"""DiT: a Transformer that predicts the noise in a noisy image (Peebles & Xie 2022), from the core's
attention, feed-forward and norms.

    x (B, C, H, W) --patchify--> (B, N, d) + 2-D sin-cos positions
    c = MLP(sinusoids(t)) + table[y]          (timestep + class; row n_classes = the null class)
    N blocks conditioned on c (dit.conditioning, see nn/dit_config.py)
    final norm (adaptive where the blocks are) -> Linear -> unpatchify -> (B, out_channels, H, W)

The first `channels` output channels are the predicted noise; with learn_sigma the rest are the
interpolation weights of the variance (improved DDPM), which the DDPM/DDIM samplers here ignore.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import TcatError
from .attention import MultiHeadAttention
from .config import ModelConfig
from .init import init_weights, initialised
from .layers import EmbeddingTable, FeedForward, _fixed_table, make_norm


# -- patches and positions -----------------------------------------------------------------------
def patchify(x: Tensor, p: int) -> Tensor:
    """(B, C, H, W) -> (B, (H/p)(W/p), p*p*C): row-major patches, each flattened as (row, column, channel)."""
    B, C, H, W = x.shape
    if H % p or W % p:
        raise TcatError(f"image of {H}x{W} pixels does not split into {p}x{p} patches")
    x = x.reshape(B, C, H // p, p, W // p, p)
    return torch.einsum("bchpwq->bhwpqc", x).reshape(B, (H // p) * (W // p), p * p * C)


def unpatchify(x: Tensor, p: int, channels: int) -> Tensor:
    """The inverse of patchify for a square image: (B, N, p*p*C) -> (B, C, sqrt(N) p, sqrt(N) p)."""
    B, N, _ = x.shape
    g = math.isqrt(N)
    if g * g != N:
        raise TcatError(f"{N} patches do not form a square image")
    x = x.reshape(B, g, g, p, p, channels)
    return torch.einsum("bhwpqc->bchpwq", x).reshape(B, channels, g * p, g * p)


def sincos_1d(d: int, pos: Tensor) -> Tensor:
    """(M,) positions -> (M, d): sines then cosines at frequencies 10000^(-i / (d/2)) (float64, as MAE)."""
    omega = 1.0 / 10000 ** (torch.arange(d // 2, dtype=torch.float64) / (d / 2.0))
    out = pos.double().reshape(-1)[:, None] * omega[None]
    return torch.cat([out.sin(), out.cos()], dim=1)


def sincos_2d(d: int, grid: int) -> Tensor:
    """(grid*grid, d) fixed positions of a row-major grid: the first half of the width encodes the
    column, the second the row (MAE's and DiT's layout)."""
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    return torch.cat([sincos_1d(d // 2, cols), sincos_1d(d // 2, rows)], dim=1).float()


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0, shift: float = 0.0) -> Tensor:
    """(B,) timesteps (may be fractional) -> (B, dim): cosines then sines of t * max_period^(-i/(half - shift))."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - shift))
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.cos(), args.sin()], dim=-1)


# -- conditioning ----------------------------------------------------------------------------------
def _zero_or_xavier(module: nn.Module, p: Tensor) -> None:
    if module.zero:
        nn.init.zeros_(p)
    elif p is module.weight:
        nn.init.xavier_uniform_(p)


@initialised(_zero_or_xavier)
class ZeroInitLinear(nn.Linear):
    """A Linear that starts at exactly zero when `zero` (adaLN-Zero's modulation and output layers: each
    block starts as the identity, the model predicts 0), else Xavier like every projection."""

    def __init__(self, d_in: int, d_out: int, zero: bool):
        super().__init__(d_in, d_out)
        self.zero = zero


class TimestepEmbedder(nn.Module):
    """t -> MLP(sinusoids(t)): Linear, SiLU, Linear (the paper's timestep embedding)."""

    def __init__(self, d: int, frequency_dim: int, max_period: float, shift: float):
        super().__init__()
        self.frequency_dim, self.max_period, self.shift = frequency_dim, max_period, shift
        self.fc1, self.fc2 = nn.Linear(frequency_dim, d), nn.Linear(d, d)

    def forward(self, t: Tensor) -> Tensor:
        return self.fc2(F.silu(self.fc1(timestep_embedding(t, self.frequency_dim, self.max_period, self.shift))))


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    """Self-attention and feed-forward, pre-norm, conditioned on c as dit.conditioning says."""

    def __init__(self, cfg: ModelConfig, layer: int):
        super().__init__()
        d, kind = cfg.d_model, cfg.dit.conditioning
        self.norm1, self.attn = make_norm(d, cfg.norm), MultiHeadAttention(cfg, layer=layer)
        self.cross_norm = self.cross_attn = None
        if kind == "cross-attention":
            self.cross_norm, self.cross_attn = make_norm(d, cfg.norm), MultiHeadAttention(cfg, cross=True)
        self.norm2, self.mlp = make_norm(d, cfg.norm), FeedForward(d, cfg.ffn, cfg.dropout)
        self.gated = kind == "adaln-zero"
        adaptive = kind in ("adaln-zero", "adaln")
        # shift, scale (and gate) for each of the two sublayers
        self.modulation = ZeroInitLinear(d, (6 if self.gated else 4) * d, zero=self.gated) if adaptive else None

    def forward(self, x: Tensor, c: Tensor, context: Tensor | None = None) -> Tensor:
        if self.modulation is None:
            x = x + self.attn(self.norm1(x))
            if self.cross_attn is not None:
                x = x + self.cross_attn(self.cross_norm(x), context=context)
            return x + self.mlp(self.norm2(x))
        m = self.modulation(F.silu(c))
        if self.gated:
            shift1, scale1, gate1, shift2, scale2, gate2 = m.chunk(6, dim=1)
            x = x + gate1[:, None] * self.attn(modulate(self.norm1(x), shift1, scale1))
            return x + gate2[:, None] * self.mlp(modulate(self.norm2(x), shift2, scale2))
        shift1, scale1, shift2, scale2 = m.chunk(4, dim=1)
        x = x + self.attn(modulate(self.norm1(x), shift1, scale1))
        return x + self.mlp(modulate(self.norm2(x), shift2, scale2))


class FinalLayer(nn.Module):
    """Norm (modulated by c in the adaLN variants) and a Linear to p*p*out_channels per patch."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d, g = cfg.d_model, cfg.dit
        zero = g.conditioning == "adaln-zero"
        self.norm = make_norm(d, cfg.norm)
        adaptive = g.conditioning in ("adaln-zero", "adaln")
        self.modulation = ZeroInitLinear(d, 2 * d, zero=zero) if adaptive else None
        self.out = ZeroInitLinear(d, g.patch_size**2 * g.out_channels, zero=zero)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        if self.modulation is None:
            return self.out(self.norm(x))
        shift, scale = self.modulation(F.silu(c)).chunk(2, dim=1)
        return self.out(modulate(self.norm(x), shift, scale))


class DiTModel(nn.Module):
    """forward(x (B, C, H, W), t (B,), y (B,) class ids, the null class allowed) -> (B, out_channels, H, W)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.dit is None:
            raise TcatError("model config: dit: a DiT needs the dit section")
        self.config = cfg
        g, d = cfg.dit, cfg.d_model
        self.patch = nn.Conv2d(g.channels, d, kernel_size=g.patch_size, stride=g.patch_size)
        # fixed 2-D positions: not learned, so a buffer kept out of the state dict
        self.register_buffer("positions", _fixed_table(lambda: sincos_2d(d, g.grid), (g.grid**2, d)), persistent=False)
        self.t_embedder = TimestepEmbedder(d, g.frequency_dim, g.max_period, g.freq_shift)
        self.y_embedder = EmbeddingTable(g.n_classes + (g.null_class is not None), d, 0.02)
        self.blocks = nn.ModuleList(DiTBlock(cfg, i) for i in range(cfg.n_encoder_layers))
        self.final = FinalLayer(cfg)
        self.hooks = None  # the hook protocol of the core (nn/hooks.py): no hook points of its own yet
        init_weights(self)

    @property
    def null_class(self) -> int | None:
        return self.config.dit.null_class

    def condition(self, t: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """(timestep embedding, class embedding), each (B, d)."""
        return self.t_embedder(t), self.y_embedder(y)

    def forward(self, x: Tensor, t: Tensor, y: Tensor) -> Tensor:
        g = self.config.dit
        if tuple(x.shape[1:]) != (g.channels, g.image_size, g.image_size):
            raise TcatError(
                f"input of shape {tuple(x.shape[1:])}; this DiT takes ({g.channels}, {g.image_size}, {g.image_size})"
            )
        h = self.patch(x).flatten(2).transpose(1, 2) + self.positions  # (B, N, d), row-major patches
        te, ye = self.condition(t, y)
        c, context, n_extra = te + ye, None, 0
        if g.conditioning == "in-context":
            h, n_extra = torch.cat([te[:, None], ye[:, None], h], dim=1), 2
        elif g.conditioning == "cross-attention":
            context = torch.stack([te, ye], dim=1)
        for block in self.blocks:
            h = block(h, c, context)
        h = self.final(h[:, n_extra:], c)
        return unpatchify(h, g.patch_size, g.out_channels)


def gflops(cfg: ModelConfig) -> float:
    """Forward Gflops per image as the paper counts them (fvcore: one multiply-add is one flop): patch
    embedding, per block the projections and feed-forward on every token, the attention products, the
    conditioning regressions, and the output layer. DiT-XL/2 gives 118.6 (the paper's Table 4)."""
    g, d = cfg.dit, cfg.d_model
    n = g.grid**2 + (2 if g.conditioning == "in-context" else 0)
    hidden = cfg.ffn.d_ff * (2 if cfg.ffn.gated else 1)
    per_block = n * (4 * d * d + hidden * d + cfg.ffn.d_ff * d) + 2 * n * n * d
    if g.conditioning == "cross-attention":  # queries and output per token, keys and values of 2 tokens
        per_block += n * 2 * d * d + 2 * 2 * d * d + 2 * n * 2 * d
    elif g.conditioning in ("adaln-zero", "adaln"):
        per_block += (6 if g.conditioning == "adaln-zero" else 4) * d * d
    macs = g.grid**2 * g.patch_size**2 * g.channels * d + g.frequency_dim * d + d * d
    macs += cfg.n_encoder_layers * per_block + g.grid**2 * d * g.patch_size**2 * g.out_channels
    macs += 2 * d * d if g.conditioning in ("adaln-zero", "adaln") else 0
    return macs / 1e9
