"""The Hyena operator (Poli et al., 2023, "Hyena Hierarchy"), order 2, as a causal sequence mixer.

  v, x1, x2 = split(short_causal_conv(W_in u))        three streams, each mixed over 3 neighbouring tokens
  z = x1 * v                                          gate: binds each token with its neighbours
  z = h (*) z + D z                                   long convolution (*) over the whole prefix, and a skip
  y = W_out (x2 * z)                                  gate: reads what the prefix stored

This is the paper's order-2 recurrence z^{n+1} = x^n * (h^n (*) z^n) with its first filter h^1 the short explicit
one (as in the paper's reading of H3 and in the authors' code, where order N has N - 1 long filters): the gate comes
before the long convolution, so a key and its value are bound at the value's position and then summed over the
prefix. Measured on associative recall (vocabulary 30, the two-layer decoder of experiments/recall.py, 400 steps
at 64 tokens, batch 32, seed 0; accuracy at 64 tokens): the earlier version, which gated after a second long
convolution (z = x1 * (h1 (*) v), then x2 * (h2 (*) z)) with normalised filters and faster decays, read 0.36;
this reads 0.60. After the length curriculum of experiments/recall_associative.py the earlier one read 0.56-0.66
at 1K-8K tokens (its shipped result of the last session).

Each long filter h (one per channel, as long as the sequence) is not stored but produced implicitly:
a small network (Linear, sin, Linear, sin, Linear) of sinusoidal features of the position t, times an
exponential decay window exp(-alpha_c t) with a different rate per channel (the paper's modulation: the fastest
channel keeps 1% of its weight at 0.3 x position.max_len, the slowest at 1.5 x). The filter is not normalised:
dividing each window by its sum over max_len (as the earlier version did) makes every tap ~1/1,000 of the skip D
when max_len is 8K, and the same probe then reads 0.23 instead of 0.60. Filters of any length up to
position.max_len come from the same weights. The convolutions are causal and run by FFT in O(T log T): both
sides are zero-padded to 2T so that the circular convolution of the FFT equals the linear one on the first T outputs.

Hyena keeps no KV cache: a decoding step needs the whole prefix (generation recomputes it; asking for a
cache is refused). Padding: the streams are zeroed at padding positions before anything mixes them, so
(the convolutions being shift-invariant) real tokens of a left-padded row give what they give alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import TcatError
from .config import ModelConfig
from .init import initialised
from .linear_attention import last_row_keys

ORDER = 2
SHORT = 3  # the short convolution's width
FEATURES = 17  # position features per filter-network input: t, then 8 sin/cos pairs
FILTER_WIDTH = 64  # hidden width of the implicit filter network
FREQ = 1.0  # the filter network's sin activation frequency, learned per unit (w in sin(w x))


def fft_causal_conv(x: Tensor, h: Tensor) -> Tensor:
    """y[..., t] = sum_{s <= t} h[..., s] x[..., t - s] for x (B, C, T) and h (C, T), via FFT at size 2T."""
    T = x.size(-1)
    n = 2 * T
    y = torch.fft.irfft(torch.fft.rfft(x.float(), n=n) * torch.fft.rfft(h.float(), n=n), n=n)[..., :T]
    return y.to(x.dtype)


def direct_causal_conv(x: Tensor, h: Tensor) -> Tensor:
    """The same convolution by its definition, O(T^2): the reference the tests hold the FFT to."""
    T = x.size(-1)
    idx = torch.arange(T)
    lag = idx[:, None] - idx[None, :]  # t - s
    toeplitz = torch.where(lag >= 0, h[:, lag.clamp(min=0)], 0.0)  # (C, T, T): h[c, t - s]
    return torch.einsum("cts,bcs->bct", toeplitz, x)


def _frequencies(module: nn.Module, p: Tensor) -> None:
    nn.init.constant_(p, FREQ)


def _short_and_skip(module: nn.Module, p: Tensor) -> None:
    """The short depthwise kernel as torch's Conv1d starts (uniform, bound 1/sqrt(width)); the skips D ~ N(0, 1)
    as in the paper's code."""
    if p is module.short:
        nn.init.uniform_(p, -(SHORT**-0.5), SHORT**-0.5)
    else:
        nn.init.normal_(p)


@initialised(_frequencies)  # its one parameter: the sin frequencies; the Linears: Xavier
class ImplicitFilter(nn.Module):
    """h(t) for t = 0 .. T-1, (channels, T): a network of position features times a per-channel decay."""

    def __init__(self, channels: int, max_len: int):
        super().__init__()
        self.max_len = max_len
        widths = (FEATURES, FILTER_WIDTH, FILTER_WIDTH, channels)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.freq = nn.Parameter(torch.empty(2, FILTER_WIDTH))
        # decay rates spread linearly so that the fastest channel keeps 1% of its weight at 0.3 x max_len and the
        # slowest at 1.5 x max_len (the paper's fast and slow decays); fixed, not learned
        fast, slow = math.log(100) / (0.3 * max_len), math.log(100) / (1.5 * max_len)
        self.register_buffer("decay", torch.linspace(fast, slow, channels), persistent=False)

    def features(self, T: int, device) -> Tensor:
        t = torch.arange(T, device=device, dtype=torch.float32)[:, None]
        bands = torch.arange(1, (FEATURES - 1) // 2 + 1, device=device, dtype=torch.float32)[None, :]
        angle = 2 * math.pi * bands * t / self.max_len
        return torch.cat([t / self.max_len, torch.sin(angle), torch.cos(angle)], dim=-1)  # (T, FEATURES)

    def forward(self, T: int) -> Tensor:
        if T > self.max_len:
            raise TcatError(f"sequence of {T} tokens is longer than the Hyena filters' position.max_len={self.max_len}")
        x = self.features(T, self.freq.device).to(self.freq.dtype)
        x = torch.sin(self.freq[0] * self.layers[0](x))
        x = torch.sin(self.freq[1] * self.layers[1](x))
        h = self.layers[2](x)  # (T, channels)
        t = torch.arange(T, device=h.device, dtype=h.dtype)[:, None]
        window = torch.exp(-self.decay[None, :].to(h.dtype) * t)
        return (h * window).transpose(0, 1)


@initialised(_short_and_skip)
class Hyena(nn.Module):
    """Order-2 Hyena in the place of causal self-attention (config mixer: hyena); width d_model."""

    def __init__(self, cfg: ModelConfig, layer: int = 0):
        super().__init__()
        d = cfg.d_model
        self.in_proj = nn.Linear(d, (ORDER + 1) * d, bias=cfg.attention.qkv_bias)
        self.short = nn.Parameter(torch.empty((ORDER + 1) * d, SHORT))  # depthwise, causal
        # order N: N gates and N - 1 long filters (the first filter of the paper's recurrence is the short one)
        self.filters = nn.ModuleList(ImplicitFilter(d, cfg.position.max_len) for _ in range(ORDER - 1))
        self.skip = nn.Parameter(torch.empty(ORDER - 1, d))
        self.out_proj = nn.Linear(d, d, bias=cfg.attention.out_bias)
        self.hooks = None  # hook points are attention's (patterns); this mixer has none

    def forward(self, x, context=None, mask=None, causal=True, cache=None, positions=None, memory=None) -> Tensor:
        if cache is not None:
            raise TcatError(
                "a Hyena mixer keeps no KV cache: each step needs the whole prefix (generate without a cache)"
            )
        if memory is not None or context is not None:
            raise TcatError("a Hyena mixer has no cross-attention or segment memory")
        if not causal:
            raise TcatError("a Hyena mixer is causal: it cannot take a bidirectional or explicit attention mask")
        B, T, d = x.shape
        u = self.in_proj(x).transpose(1, 2)  # (B, 3d, T)
        if mask is not None:  # padding: nothing at a padding position may reach a real one
            u = u * last_row_keys(mask, B, T)[:, None, :]
        u = F.conv1d(F.pad(u, (SHORT - 1, 0)), self.short[:, None, :], groups=u.size(1))
        z, *gates = u.split(d, dim=1)
        for n in range(ORDER - 1):
            z = gates[n] * z  # bind, then sum over the prefix
            z = fft_causal_conv(z, self.filters[n](T)) + self.skip[n][None, :, None] * z
        return self.out_proj((gates[-1] * z).transpose(1, 2))  # the last gate reads the sum


__all__ = ["Hyena", "ImplicitFilter", "direct_causal_conv", "fft_causal_conv"]
