"""Noise schedules (Ho et al. 2020; Nichol & Dhariwal 2021) and the forward process.

x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, with abar_t = prod_{s <= t} (1 - beta_s), t = 0 .. T - 1.
  linear   beta from 1e-4 to 0.02 in T steps (DDPM; DiT uses it with T = 1000)
  cosine   abar(t) = cos^2(((t / T + s) / (1 + s)) pi / 2) with s = 0.008, beta clipped at 0.999 (improved DDPM)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import TcatError

KINDS = ("linear", "cosine")


def linear_betas(n: int, start: float = 1e-4, end: float = 0.02) -> Tensor:
    return torch.linspace(start, end, n, dtype=torch.float32)


def cosine_betas(n: int, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    def abar(t: float) -> float:
        return math.cos((t + s) / (1 + s) * math.pi / 2) ** 2

    return torch.tensor([min(1 - abar((i + 1) / n) / abar(i / n), max_beta) for i in range(n)], dtype=torch.float32)


@dataclass
class Schedule:
    kind: str = "linear"
    n_steps: int = 1000  # T: training timesteps

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TcatError(f"noise schedule {self.kind!r}: use one of {', '.join(KINDS)}")
        if self.n_steps < 2:
            raise TcatError(f"noise schedule: n_steps must be at least 2, got {self.n_steps}")
        self.betas = linear_betas(self.n_steps) if self.kind == "linear" else cosine_betas(self.n_steps)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)

    def abar(self, t: int) -> Tensor:
        """abar_t; 1 for t < 0 (before the first step: the clean image)."""
        return self.alphas_cumprod[t] if t >= 0 else torch.tensor(1.0)

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """q(x_t | x_0) sampled with the given noise; t (B,) integer timesteps."""
        a = self.alphas_cumprod.to(x0.device)[t].view(-1, *([1] * (x0.dim() - 1)))
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def timesteps(self, n: int) -> list[int]:
        """The n timesteps a sampler visits, from high to low, evenly spaced from 0 ("leading" spacing, as
        DDIM and diffusers: k * (T // n) for k = n - 1 .. 0)."""
        if not 1 <= n <= self.n_steps:
            raise TcatError(f"sampling steps must be between 1 and {self.n_steps} (the training timesteps), got {n}")
        ratio = self.n_steps // n
        return [k * ratio for k in range(n - 1, -1, -1)]
