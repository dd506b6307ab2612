"""Hopfield's associative memory (1982): P patterns of +-1 stored by the Hebbian rule
W = (1/N) sum_p xi_p xi_p^T with no self-connections, recalled by the asynchronous update
s_i <- sign(sum_j W_ij s_j), one unit at a time in random order, until a whole sweep changes nothing.

Each update never raises the energy E = -1/2 s^T W s (W symmetric, zero diagonal), so recall always
settles. Stored patterns stay near-fixed points only while P/N is below about 0.138 (Amit, Gutfreund
& Sompolinsky 1985); above it, cross-talk between patterns drags recall into spurious states.
"""

from __future__ import annotations

import torch


def store(patterns: torch.Tensor) -> torch.Tensor:
    """Hebbian weights of (P, N) patterns of +-1."""
    n = patterns.shape[1]
    w = patterns.T @ patterns / n
    w.fill_diagonal_(0.0)  # no self-connection: with one, a unit could hold any state and E could rise
    return w


def energy(w: torch.Tensor, s: torch.Tensor) -> float:
    return float(-0.5 * s @ w @ s)


def recall(w: torch.Tensor, probe: torch.Tensor, g: torch.Generator, max_sweeps: int = 100) -> torch.Tensor:
    """Asynchronous updates from `probe` until a sweep changes no unit (or max_sweeps)."""
    s = probe.clone()
    for _ in range(max_sweeps):
        changed = False
        for i in torch.randperm(len(s), generator=g).tolist():
            new = 1.0 if float(w[i] @ s) >= 0 else -1.0  # ties go to +1; rare with real-valued fields
            if new != s[i]:
                s[i] = new
                changed = True
        if not changed:
            break
    return s


def random_patterns(p: int, n: int, g: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (p, n), generator=g).double() * 2 - 1


def flip(pattern: torch.Tensor, fraction: float, g: torch.Generator) -> torch.Tensor:
    """The pattern with round(fraction N) units flipped: the corrupted cue."""
    out = pattern.clone()
    idx = torch.randperm(len(out), generator=g)[: round(fraction * len(out))]
    out[idx] = -out[idx]
    return out


def recall_errors(n: int, p: int, trials: int, noise: float, seed: int) -> list[int]:
    """Wrong units after recall, for every stored pattern of `trials` independent memories of p
    patterns, each recalled from a cue with `noise` of its units flipped."""
    g = torch.Generator().manual_seed(seed)
    errors = []
    for _ in range(trials):
        patterns = random_patterns(p, n, g)
        w = store(patterns)
        errors += [int((recall(w, flip(xi, noise, g), g) != xi).sum()) for xi in patterns]
    return errors


def recall_rate(errors: list[int], n: int, tolerance: float = 0.0) -> float:
    """Share recalled: settled with at most `tolerance` N wrong units (0: exactly)."""
    return sum(e <= tolerance * n for e in errors) / len(errors)
