"""Figures of the scaling-laws experiment (IsoFLOP curves, compute-optimal N and D against C, the
catalog's models against the law) and the catalog's (params, training tokens) points."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .base import pyplot, save_figure
from .scaling_fit import CHINCHILLA, parabola

TOP = 10  # over- and under-trained models listed each way


def entry_point(entry: dict) -> dict | None:
    """(N, D) of a decoder LLM (decoder, causal LM pretraining: what the law describes) with published
    training tokens and a parameter count: N is the size the compute record names (else the largest),
    its active parameters for a mixture of experts."""
    if entry.get("architecture") != "decoder" or "causal LM" not in (entry.get("pretraining_tasks") or []):
        return None
    tokens = (entry.get("training_tokens") or {}).get("tokens")
    sizes = [s for s in entry.get("sizes") or [] if s.get("params")]
    if not tokens or not sizes:
        return None
    variant = (entry.get("training_compute") or {}).get("variant")
    named = [s for s in sizes if s.get("variant") == variant]
    size = named[0] if named else max(sizes, key=lambda s: s["params"])
    n = size.get("active_params") or size["params"]
    return {
        "name": entry["name"],
        "variant": size.get("variant"),
        "n": n,
        "d": tokens,
        "ratio": tokens / n,
        "moe": bool(size.get("active_params")),
        "date": entry.get("date"),
    }


def rank(points: list[dict], top: int = TOP) -> dict:
    """By tokens per parameter against Chinchilla's 20: the most over-trained (ratio above 20, highest
    first) and the most under-trained (below 20, lowest first)."""
    target = CHINCHILLA["tokens_per_param"]
    over = sorted((p for p in points if p["ratio"] > target), key=lambda p: -p["ratio"])
    under = sorted((p for p in points if p["ratio"] < target), key=lambda p: p["ratio"])
    return {"count": len(points), "points": points, "over": over[:top], "under": under[:top]}


def catalog_points() -> dict:
    from ..catalog.load import load_catalog

    points = [p for e in load_catalog().entries if (p := entry_point(e.to_dict()))]
    return rank(sorted(points, key=lambda p: p["name"]))


def isoflop_figure(out: Path, runs: list[dict], iso: dict) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4), dpi=100)
    budgets = sorted({r["budget"] for r in runs})
    colors = plt.cm.viridis(np.linspace(0, 0.85, max(len(budgets), 1)))
    optima = {o["budget"]: o for o in iso["optima"]}
    for c, color in zip(budgets, colors, strict=True):
        group = sorted((r for r in runs if r["budget"] == c), key=lambda r: r["n"])
        x, y = [r["n"] for r in group], [r["loss"] for r in group]
        ax.scatter(x, y, color=color, label=f"C = {c:.0e} FLOPs")
        if len(group) >= 3:
            c2, c1, c0 = parabola([math.log(v) for v in x], y)
            grid = np.linspace(math.log(x[0]) - 0.3, math.log(x[-1]) + 0.3, 100)
            ax.plot(np.exp(grid), c2 * grid**2 + c1 * grid + c0, color=color, lw=1)
        if c in optima:
            ax.axvline(optima[c]["n_opt"], color=color, ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel("held-out loss (nats per token)")
    ax.set_title("IsoFLOP curves with parabola fits (dotted: N_opt)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, out, "isoflop.png")


def optimal_figure(out: Path, iso: dict, law: dict) -> str:
    """N_opt and D_opt of the IsoFLOP minima against C, our power-law fits and Chinchilla's slope; budgets
    whose parabola has no minimum inside the sizes tried are named, not drawn."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), dpi=100)
    cs = np.array([o["budget"] for o in iso["optima"]])
    for ax, key, exp_key, k_key, label in (
        (axes[0], "n_opt", "a", "k_n", "N_opt"),
        (axes[1], "d_opt", "b", "k_d", "D_opt"),
    ):
        y = np.array([o[key] for o in iso["optima"]])
        ax.scatter(cs, y, color="#4e79a7", label=f"{label} from IsoFLOP minima")
        if exp_key in iso:
            line = np.geomspace(cs.min() / 2, cs.max() * 2, 50)
            ax.plot(line, iso[k_key] * line ** iso[exp_key], color="#4e79a7", label=f"fit: exponent {iso[exp_key]:.2f}")
            slope, mid = CHINCHILLA[exp_key], len(cs) // 2  # Chinchilla's slope through our middle point
            ax.plot(line, y[mid] * (line / cs[mid]) ** slope, color="gray", ls="--", label=f"Chinchilla slope {slope}")
        if iso.get("no_interior_minimum"):
            missing = ", ".join(f"{c:.0e}" for c in iso["no_interior_minimum"])
            ax.text(0.02, 0.02, f"no minimum inside the sizes at C = {missing}", transform=ax.transAxes, fontsize=7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("compute C (FLOPs)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("compute-optimal parameters and tokens against compute")
    fig.tight_layout()
    return save_figure(fig, out, "optimal.png")


def catalog_figure(out: Path, catalog: dict, iso: dict) -> str | None:
    points = catalog["points"]
    if not points:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.6), dpi=100)
    dense = [p for p in points if not p["moe"]]
    moe = [p for p in points if p["moe"]]
    ax.scatter([p["n"] for p in dense], [p["d"] for p in dense], s=14, color="#4e79a7", label="dense")
    ax.scatter([p["n"] for p in moe], [p["d"] for p in moe], s=18, marker="^", color="#f28e2b", label="MoE (active)")
    for p in catalog["over"][:4] + catalog["under"][:4]:
        ax.annotate(p["name"], (p["n"], p["d"]), fontsize=6, xytext=(3, 2), textcoords="offset points")
    n = np.geomspace(min(p["n"] for p in points) / 2, max(p["n"] for p in points) * 2, 50)
    ax.plot(n, CHINCHILLA["tokens_per_param"] * n, color="gray", ls="--", label="Chinchilla: D = 20 N")
    if iso.get("a"):  # our compute-optimal locus: N = k_n C^a, D = C / (6 N), extrapolated far beyond the grid
        log_c = np.log(n / iso["k_n"]) / iso["a"]  # in logs: C itself overflows for a small exponent
        d = np.exp(np.clip(log_c - np.log(6 * n), -700, 700))
        ax.plot(n, d, color="#e15759", label=f"our fit (N_opt ~ C^{iso['a']:.2f}), extrapolated")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ys = [p["d"] for p in points]
    ax.set_ylim(min(ys) / 5, max(ys) * 5)  # the extrapolated line must not set the scale
    ax.set_xlabel("parameters N (active for MoE)")
    ax.set_ylabel("training tokens D")
    ax.set_title(f"{len(points)} catalog models against the compute-optimal line")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out, "catalog.png")


__all__ = ["catalog_figure", "catalog_points", "entry_point", "isoflop_figure", "optimal_figure", "rank"]
