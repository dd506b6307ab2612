"""Rotary frequencies and their context-extension scalings (PositionConfig.rope_scaling).

A model trained at length L meets positions it never saw beyond L. The scalings change the rotary
frequencies so that longer sequences look (more) like what training saw:

- linear (position interpolation, Chen et al. 2023): every frequency / factor, so position p turns
  like p / factor did;
- ntk ("NTK-aware", bloc97 2023): theta * factor^(d/(d-2)), the highest frequency kept, the lowest
  divided by the factor, a geometric blend between;
- dynamic: ntk whose factor follows the current length (none up to original_len);
- yarn (Peng et al. 2023): frequencies that turn fewer than beta_slow times over original_len are
  interpolated, those that turn more than beta_fast times are kept, a linear ramp between; the
  logits are sharpened by the attention factor (on cos and sin);
- longrope (Ding et al. 2024; Phi-3): a searched divisor per frequency, one set for short
  sequences and one beyond original_len, and an attention factor;
- llama3 (Llama 3.1): wavelengths longer than original_len / low_freq interpolated, shorter than
  original_len / high_freq kept, blended between.

The formulas follow Hugging Face's `modeling_rope_utils` so that converted checkpoints give the same
logits (tests/test_rope_scaling.py). dynamic and longrope depend on the sequence's length: their
cos/sin rows are computed per forward from the number of positions so far (`length_dependent`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .config_parts import PositionConfig


def base_frequencies(rot: int, theta: float) -> Tensor:
    """inv_freq_i = theta^(-2i/rot), i = 0 .. rot/2 - 1 (RoFormer)."""
    return 1.0 / theta ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot)


def length_dependent(cfg: PositionConfig) -> bool:
    """Whether the frequencies change with the sequence's length (computed per forward)."""
    return cfg.rope_scaling in ("dynamic", "longrope")


def attention_factor(cfg: PositionConfig) -> float:
    """What cos and sin are multiplied by (1 for the scalings without one)."""
    if cfg.rope_scaling not in ("yarn", "longrope"):
        return 1.0
    if cfg.rope_attention_factor is not None:
        return cfg.rope_attention_factor
    s = cfg.rope_factor
    if s <= 1:
        return 1.0
    if cfg.rope_scaling == "yarn":  # YaRN eq. 22: sqrt(1/t) = 0.1 ln s + 1
        return 0.1 * math.log(s) + 1.0
    return math.sqrt(1 + math.log(s) / math.log(cfg.rope_original_len))


def _yarn(inv_freq: Tensor, cfg: PositionConfig) -> Tensor:
    rot = 2 * inv_freq.numel()

    def dim_turning(rotations: float) -> float:
        # the dimension whose wavelength fits `rotations` times into original_len
        return rot * math.log(cfg.rope_original_len / (rotations * 2 * math.pi)) / (2 * math.log(cfg.rope_theta))

    low, high = dim_turning(cfg.rope_beta_fast), dim_turning(cfg.rope_beta_slow)
    if cfg.rope_truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, rot - 1)
    if low == high:
        high += 0.001  # a ramp of zero width would divide by zero
    ramp = ((torch.arange(rot // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    keep = 1 - ramp  # 1: extrapolate (frequency kept), 0: interpolate (divided by the factor)
    return inv_freq / cfg.rope_factor * (1 - keep) + inv_freq * keep


def scaled_frequencies(inv_freq: Tensor, cfg: PositionConfig, length: int | Tensor | None = None) -> Tensor:
    """Rotary frequencies after context-extension scaling. `length` is the number of positions of
    the sequence so far, for the length-dependent scalings (None: at most original_len)."""
    s = cfg.rope_scaling
    if s == "linear":
        return inv_freq / cfg.rope_factor
    if s == "ntk":  # inv_freq_i = theta^(-2i/d)  ->  (theta * factor^(d/(d-2)))^(-2i/d)
        d = 2 * inv_freq.numel()
        exponent = torch.arange(0, d, 2, dtype=torch.float32) / d
        return inv_freq * cfg.rope_factor ** (-exponent * d / (d - 2))
    if s == "llama3":
        wavelength = 2 * math.pi / inv_freq
        long_limit = cfg.rope_original_len / cfg.rope_low_freq  # longer wavelengths: fully rescaled
        short_limit = cfg.rope_original_len / cfg.rope_high_freq  # shorter wavelengths: untouched
        blend = (cfg.rope_original_len / wavelength - cfg.rope_low_freq) / (cfg.rope_high_freq - cfg.rope_low_freq)
        mixed = (1 - blend) * inv_freq / cfg.rope_factor + blend * inv_freq
        out = torch.where(wavelength > long_limit, inv_freq / cfg.rope_factor, inv_freq)
        return torch.where((wavelength >= short_limit) & (wavelength <= long_limit), mixed, out)
    if s == "yarn":
        return _yarn(inv_freq, cfg)
    if length is None:  # dynamic and longrope at or below original_len
        if s == "longrope":
            return inv_freq / torch.tensor(cfg.rope_short_factor, dtype=torch.float32)
        return inv_freq
    n = torch.as_tensor(length, dtype=torch.float32, device=inv_freq.device)
    longer = n > cfg.rope_original_len  # a 0-d tensor: no Python branch, so compiled decoding keeps one graph
    if s == "dynamic":
        d = 2 * inv_freq.numel()
        grown = cfg.rope_factor * n / cfg.rope_original_len - (cfg.rope_factor - 1)
        theta = cfg.rope_theta * grown ** (d / (d - 2))
        raised = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float32, device=inv_freq.device) / d)
        return torch.where(longer, raised, inv_freq)
    if s == "longrope":
        short = torch.tensor(cfg.rope_short_factor, dtype=torch.float32, device=inv_freq.device)
        long = torch.tensor(cfg.rope_long_factor, dtype=torch.float32, device=inv_freq.device)
        return inv_freq / torch.where(longer, long, short)
    return inv_freq


def rotary_tables(rot: int, cfg: PositionConfig, positions: Tensor, length: int | Tensor | None = None):
    """(cos, sin), each (len(positions), rot), at float positions, with the attention factor applied."""
    inv_freq = scaled_frequencies(base_frequencies(rot, cfg.rope_theta).to(positions.device), cfg, length)
    a = torch.outer(positions, inv_freq)
    a = torch.cat([a, a], dim=-1)
    factor = attention_factor(cfg)
    if factor == 1.0:
        return a.cos(), a.sin()
    return a.cos() * factor, a.sin() * factor


def rows_at_length(rot: int, cfg: PositionConfig, n_queries: int, past: int | Tensor):
    """cos and sin of positions past .. past + n_queries - 1 for a length-dependent scaling, whose
    frequencies follow the length so far (past + n_queries), as Hugging Face recomputes them."""
    device = past.device if isinstance(past, Tensor) else None
    positions = (past + torch.arange(n_queries, device=device)).to(torch.float32)
    return rotary_tables(rot, cfg, positions, past + n_queries)
