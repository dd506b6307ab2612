"""The reward-KL frontier of PPO and DPO (the DPO paper's figure 2, left): each method over several KL coefficients
(PPO's fixed beta, DPO's beta) and seeds, every policy measured the same way: one sample per held-out prompt, its
reward-model score (rating units) and its sequence KL to the SFT policy (the sampled tokens' summed log-ratio),
through PPO's own evaluation (rlhf/ppo.evaluate via rlhf/dpo.evaluate).

`dominance` compares the two frontiers: each method's upper envelope (the best mean reward reached at or below a
given KL, over its coefficients' seed-means), read at every KL where both methods have points.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import torch

from .dpo import DPOConfig, evaluate, fit_preferences


def ppo_point(sft_model, tok, scorer, coef: float, seed: int, split_seed: int, out: Path, ppo_cfg, n_eval: int):
    """Train PPO at a fixed KL coefficient `coef` from the SFT weights; evaluate it. ppo_cfg: an rlhf.ppo.PPOConfig
    (its kl_coef, target_kl and seed are replaced)."""
    from . import ppo as P
    from .pairs import load_snippets, split_snippets
    from .sft import prompts

    clock = time.process_time()
    cfg = replace(ppo_cfg, kl_coef=coef, target_kl=0.0, seed=seed, save_every=0)
    torch.manual_seed(seed)
    policy = P.ActorCritic(sft_model.config)
    policy.load_state_dict(sft_model.state_dict(), strict=False)  # the value head starts fresh
    train_prompts = prompts(split_snippets(load_snippets(), split_seed)["valid"], 2000, seed)
    run = P.PPO(policy, sft_model, tok, scorer, train_prompts, cfg, out=out)
    out.mkdir(parents=True, exist_ok=True)
    run.fit(progress=False)
    result = evaluate(policy.eval(), sft_model, tok, scorer, n_eval, cfg.max_new, seed, split_seed)
    return _point("ppo", coef, seed, result, time.process_time() - clock)


def dpo_point(sft_model, tok, scorer, pairs, cfg: DPOConfig, split_seed: int, out: Path, n_eval: int) -> dict:
    """Train DPO (or IPO / KTO: cfg.loss) from a copy of the SFT weights on the shared `pairs`; evaluate it."""
    import copy

    clock = time.process_time()
    reference = sft_model.eval().requires_grad_(False)
    policy = copy.deepcopy(reference).requires_grad_(True)
    fit_preferences(policy, reference, tok, pairs, cfg, out, {"name": "rlhf-dpo", **vars(cfg)}, progress=False)
    result = evaluate(policy.eval(), reference, tok, scorer, n_eval, cfg.max_new, cfg.seed, split_seed)
    return _point(cfg.loss, cfg.beta, cfg.seed, result, time.process_time() - clock)


def _point(method: str, coef: float, seed: int, result: dict, cpu: float) -> dict:
    return {
        "method": method,
        "coef": coef,
        "seed": seed,
        "reward": round(result["reward"], 4),
        "judge": round(result["judge"], 4),
        "kl": round(result["kl"], 4),
        "cpu_seconds": round(cpu, 1),
        "samples": result["samples"][:4],
    }


def means(points: list[dict], method: str) -> list[dict]:
    """Per coefficient: mean and spread (min, max) over seeds of reward and KL, sorted by KL."""
    out = []
    for coef in sorted({p["coef"] for p in points if p["method"] == method}):
        rows = [p for p in points if p["method"] == method and p["coef"] == coef]
        r, k = [p["reward"] for p in rows], [p["kl"] for p in rows]
        out.append(
            {
                "coef": coef,
                "seeds": len(rows),
                "reward": sum(r) / len(r),
                "reward_min": min(r),
                "reward_max": max(r),
                "kl": sum(k) / len(k),
                "kl_min": min(k),
                "kl_max": max(k),
            }
        )
    return sorted(out, key=lambda m: m["kl"])


def envelope(rows: list[dict], kl: float) -> float | None:
    """The best mean reward among `rows` with KL <= kl (None when none is that close to the reference)."""
    best = [m["reward"] for m in rows if m["kl"] <= kl]
    return max(best) if best else None


def dominance(points: list[dict], a: str = "dpo", b: str = "ppo", sft_reward: float | None = None) -> dict:
    """Compare the envelopes of methods a and b at every KL where both have a point at or below it. The SFT policy
    (KL 0, `sft_reward`) belongs to both frontiers. Returns the gaps (a - b) and a verdict: "a" when a's envelope is
    at least b's everywhere and above it somewhere, "b" for the reverse, "crossing" otherwise."""
    ma, mb = means(points, a), means(points, b)
    base = [] if sft_reward is None else [{"kl": 0.0, "reward": sft_reward}]
    gaps = []
    for kl in sorted({m["kl"] for m in ma + mb}):
        ea, eb = envelope(base + ma, kl), envelope(base + mb, kl)
        if ea is not None and eb is not None and (any(m["kl"] <= kl for m in ma) and any(m["kl"] <= kl for m in mb)):
            gaps.append({"kl": round(kl, 4), "gap": round(ea - eb, 4)})
    if not gaps:
        verdict = "no overlap"
    elif all(g["gap"] >= 0 for g in gaps) and any(g["gap"] > 0 for g in gaps):
        verdict = a
    elif all(g["gap"] <= 0 for g in gaps) and any(g["gap"] < 0 for g in gaps):
        verdict = b
    else:
        verdict = "crossing"
    return {"verdict": verdict, "gaps": gaps}


COLORS = {"ppo": "#e15759", "dpo": "#4e79a7", "ipo": "#59a14f", "kto": "#f28e2b", "dpo-human": "#b07aa1"}


def plot(points: list[dict], sft: dict, ax) -> None:
    """Every seed's point (small) and each coefficient's seed-mean with its spread, per method, on `ax`."""
    for method in sorted({p["method"] for p in points}, key=lambda m: list(COLORS).index(m) if m in COLORS else 99):
        color = COLORS.get(method, "#555555")
        rows = [p for p in points if p["method"] == method]
        ax.scatter([p["kl"] for p in rows], [p["reward"] for p in rows], s=10, alpha=0.35, color=color)
        mean = means(points, method)
        coefs = ", ".join(f"{c:g}" for c in sorted(m["coef"] for m in mean))
        ax.errorbar(
            [m["kl"] for m in mean],
            [m["reward"] for m in mean],
            xerr=[[m["kl"] - m["kl_min"] for m in mean], [m["kl_max"] - m["kl"] for m in mean]],
            yerr=[[m["reward"] - m["reward_min"] for m in mean], [m["reward_max"] - m["reward"] for m in mean]],
            fmt="o-",
            color=color,
            capsize=2,
            label=f"{method.upper()} ({coefs})",
        )
    ax.scatter([0.0], [sft["reward"]], marker="*", s=120, color="black", label="SFT", zorder=5)
    ax.set_xlabel("sequence KL to the SFT policy (nats)")
    ax.set_ylabel("mean reward on held-out prompts (rating units)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
