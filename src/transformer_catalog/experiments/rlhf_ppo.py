"""RLHF's first half on real human judgements (issue 13): VADER's four rated sets give preference pairs
(two snippets of one set whose mean human ratings differ by >= 1.0, split by snippet); a Bradley-Terry
reward model on all-MiniLM-L6-v2 learns them; a tcat GPT is fine-tuned on the training snippets (SFT);
PPO tunes it against the reward model, and VADER's lexicon, which PPO never saw, judges the change.

Everything runs through the stages behind `tcat rlhf sft|reward|ppo` (rlhf/stages.py) into a temporary
folder; results.json keeps the numbers, the CPU seconds of each stage and samples before and after.

Scaled down for this CPU (2 cores shared by 8 jobs; the issue's budget is 30 CPU minutes in all):
the GPT has 4 layers of width 256 (4.2M parameters, below the issue's 5-20M), SFT sees ~9.6k snippets
(300 steps of 32), the reward model tunes MiniLM's top 2 blocks on 3,200 training pairs (the lower 4
and the embeddings frozen, their outputs cached), PPO runs 45 steps of 64 rollouts of <= 24 tokens (2 epochs of
2 minibatches each, lr 1e-4), its adaptive KL coefficient starting at 0.1 with a target of 4 nats and a horizon of
256 rollouts (beta moves <= 5% a step, so it catches an overshoot within tens of steps).
The full setting caches its SFT and reward runs (see `_stage`), so a change of PPO settings reruns PPO only.

PPO settings tried on the cached runs (rollout reward of SFT ~0.6; "held-out" = the 256 evaluation prompts):
- 50 x 32 rollouts, lr 5e-5, beta 0.05, horizon 1000 (the first shipped result): held-out +0.60 at KL 4.56, judge
  +0.14. Continued to 100 steps: +1.30, judge +0.76, but KL 10.1: beta rose too slowly to hold KL at 4, and
  responses shortened (5 tokens) to "the best! :)".
- lr 2e-4, 4 epochs: stopped at step 17 of 50, a third of its ratios clipped, no higher reward at KL 4.9.
- 80 x 32, lr 1e-4, beta 0.2, horizon 128: beta fell to 0.056 while KL was under target, then KL overshot to 8
  (rollout reward ~+0.9 over SFT there) and fell back to 3 as beta rose; stopped at step 58.
- 45 x 64, lr 1e-4, beta 0.1, horizon 256 (shipped): rollout KL peaked at 10 (step 34) and came back to 6.3;
  held-out +0.75 at KL 5.63, judge +0.26 (same sign, a third of the size).
Across these the held-out reward bought per nat of KL stays near 0.13 rating unit (+0.60 at 4.56, +0.75 at
5.63, +1.30 at 10.1): the controller and step count move a run along that line but do not lift it, so the +1.0
target at KL <= 6 stays out of reach at this scale.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .base import Clock, finish, prepare, pyplot, save_figure, state_miss

NAME = "rlhf-ppo"
TARGET_ACCURACY = 0.85
TARGET_GAIN = 1.0  # rating units over SFT
MAX_KL = 6.0  # nats, sequence level
CLAIM = (
    "A Bradley-Terry reward model on all-MiniLM-L6-v2 orders held-out VADER preference pairs with accuracy "
    f">= {TARGET_ACCURACY} (VADER's lexicon and the individual raters' agreement measured on the same pairs); "
    f"PPO against it raises a tcat GPT's mean reward on held-out prompts by >= {TARGET_GAIN} rating unit over "
    f"SFT at a sequence KL <= {MAX_KL} nats, and VADER's lexicon, a judge PPO never saw, agrees: a gain of the "
    "same sign and at least half the size."
)
CONTROL = (
    "The same PPO with each batch's rewards shuffled across its responses (no link between a text and its "
    f"score): the policy has nothing to learn, so its reward gain stays below {TARGET_GAIN}."
)
TINY_SHOWS_CLAIM_NOT = (
    "Three reward-model steps on 48 pairs and two PPO steps of 4 rollouts cannot reach 0.85 accuracy or a +1.0 "
    "gain; tests/test_rlhf_ppo.py shows each stage learning on tiny tasks instead."
)


@dataclass
class Config:
    setting: str = "full"
    sft_steps: int = 300
    sft_layers: int = 4
    sft_d_model: int = 0  # 0 = gpt2-6x256's 256
    sft_vocab: int = 4096
    rm_steps: int = 200
    rm_train_pairs: int = 3200
    rm_eval: int = 0  # 0 = every held-out pair
    ppo_steps: int = 45
    ppo_batch: int = 64
    ppo_minibatch: int = 32
    ppo_epochs: int = 2
    max_new: int = 24
    kl_coef: float = 0.1
    target_kl: float = 4.0
    kl_horizon: int = 256  # rollouts; the adaptive beta moves <= 0.2 * batch / horizon per step
    ppo_lr: float = 1e-4
    eval_prompts: int = 256
    seed: int = 0

    @classmethod
    def tiny(cls) -> Config:
        return cls(
            setting="tiny", sft_steps=10, sft_layers=1, sft_d_model=32, sft_vocab=400, rm_steps=3, rm_train_pairs=48,
            rm_eval=24, ppo_steps=2, ppo_batch=4, ppo_minibatch=2, max_new=6, eval_prompts=4,
        )  # fmt: skip


def _figure(claim: list[dict], control: list[dict], rm: dict, out: Path) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=100)
    for rows, label, color in ((claim, "PPO", "#4e79a7"), (control, "control: shuffled rewards", "#e15759")):
        steps = [r["step"] for r in rows]
        axes[0].plot(steps, [r["reward"] for r in rows], label=label, color=color)
        axes[1].plot(steps, [r["kl"] for r in rows], label=label, color=color)
    axes[0].set(xlabel="PPO step", ylabel="mean reward (rating units)", title="reward of the rollouts")
    axes[1].axhline(MAX_KL, color="grey", ls=":", label=f"KL {MAX_KL}")
    axes[1].set(xlabel="PPO step", ylabel="sequence KL to SFT (nats)", title="KL")
    names = ["VADER lexicon", "reward model", "raters' agreement"]
    values = [rm["vader_accuracy"], rm["test_accuracy"], rm["rater_agreement"]]
    axes[2].bar(names, values, color=["#bab0ac", "#4e79a7", "#59a14f"])
    axes[2].axhline(TARGET_ACCURACY, color="grey", ls=":")
    axes[2].set(ylim=(0.5, 1.0), ylabel="held-out pairwise accuracy", title="reward model")
    for ax in axes[:2]:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, out, "rlhf-ppo.png")


def _stage(name: str, settings: dict, tmp: Path, cached: bool, work) -> tuple[Path, dict, bool]:
    """(run folder, summary, reused) of a stage. The full setting keeps its SFT and reward runs in the tcat cache
    under a digest of their settings (hundreds of CPU seconds each), so that another PPO setting reuses them; the
    folder's stage.json records the CPU seconds the stage took when it ran (`_stage_cpu`)."""
    import hashlib
    import json

    from ..data.cache import writable_cache_dir
    from ..files import write_json

    if cached:
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
        folder = writable_cache_dir("experiments") / f"{NAME}-{name}-{digest}"
    else:
        folder = tmp / name
    done = folder / "stage.json"
    if done.is_file():
        return folder, json.loads(done.read_text())["summary"], True
    t = time.process_time()
    summary = work(folder, (folder / "checkpoint" / "trainer_state.json").is_file())
    write_json(done, {"summary": summary, "cpu_seconds": time.process_time() - t, "settings": settings})
    return folder, summary, False


def ppo_config(cfg: Config, shuffle: bool):
    """The PPO stage's settings from the experiment's (the claim's run, or the control's with shuffled rewards)."""
    from ..rlhf.ppo import PPOConfig

    return PPOConfig(
        steps=cfg.ppo_steps, batch=cfg.ppo_batch, minibatch=cfg.ppo_minibatch, epochs=cfg.ppo_epochs,
        max_new=cfg.max_new, kl_coef=cfg.kl_coef, target_kl=cfg.target_kl, horizon=cfg.kl_horizon, lr=cfg.ppo_lr,
        seed=cfg.seed, shuffle_rewards=shuffle, save_every=0,
    )  # fmt: skip


def _stage_cpu(folder: Path) -> float:
    import json

    return float(json.loads((folder / "stage.json").read_text())["cpu_seconds"])


def run(cfg: Config, out) -> dict:
    import json

    import torch

    from ..files import write_json
    from ..rlhf import stages
    from ..rlhf.reward import RewardConfig
    from ..rlhf.sft import SFTConfig

    out = prepare(out)
    clock = Clock()
    torch.set_num_threads(1)
    cpu: dict[str, float] = {}
    reused = []
    full = cfg.setting == "full"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sft_cfg = SFTConfig(
            steps=cfg.sft_steps, layers=cfg.sft_layers, d_model=cfg.sft_d_model, vocab=cfg.sft_vocab, seed=cfg.seed
        )
        sft_dir, sft, again = _stage(
            "sft", vars(sft_cfg), tmp, full, lambda f, resume: stages.run_sft(sft_cfg, f, resume=resume, progress=False)
        )
        reused += ["sft"] if again else []
        rm_cfg = RewardConfig(steps=cfg.rm_steps, seed=cfg.seed)
        rm_settings = {**vars(rm_cfg), "train_pairs": cfg.rm_train_pairs, "eval": cfg.rm_eval}

        def reward(folder, resume):
            return stages.run_reward(
                rm_cfg, folder, resume, max_train_pairs=cfg.rm_train_pairs, max_eval=cfg.rm_eval, progress=False
            )

        rm_dir, rm, again = _stage("reward", rm_settings, tmp, full, reward)
        reused += ["reward"] if again else []
        runs = {}
        for name, shuffle in (("ppo", False), ("control", True)):
            t = time.process_time()
            ppo_cfg = ppo_config(cfg, shuffle)
            result = stages.run_ppo(sft_dir, rm_dir, tmp / name, ppo_cfg, n_eval=cfg.eval_prompts, progress=False)
            curve = [json.loads(line) for line in (tmp / name / "metrics.jsonl").read_text().splitlines() if line]
            runs[name] = (result, curve)
            cpu[name] = time.process_time() - t
        cpu = {"sft": _stage_cpu(sft_dir), "reward": _stage_cpu(rm_dir), **cpu}  # measured when each stage ran
    (claim, claim_curve), (control, control_curve) = runs["ppo"], runs["control"]
    figure = _figure(claim_curve, control_curve, rm, out)
    write_json(out / "samples.json", {"ppo": claim["samples"], "control": control["samples"]})
    write_json(out / "curves.json", {"ppo": claim_curve, "control": control_curve})
    gain, judged, kl = claim["reward_gain"], claim["judge_gain"], claim["ppo"]["kl"]
    agrees = gain > 0 and judged >= 0.5 * gain
    holds = rm["test_accuracy"] >= TARGET_ACCURACY and gain >= TARGET_GAIN and kl <= MAX_KL and agrees
    results = finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion=(
            f"reward model held-out pairwise accuracy >= {TARGET_ACCURACY}; PPO reward - SFT reward >= {TARGET_GAIN} "
            f"rating unit at sequence KL <= {MAX_KL}; VADER-judged gain > 0 and >= half the reward gain. Control "
            f"(shuffled rewards): reward gain < {TARGET_GAIN}"
        ),
        metrics={
            "sft_params": sft["params"],
            "sft_valid_loss": sft["valid_loss"],
            "rm_test_accuracy": rm["test_accuracy"],
            "vader_lexicon_accuracy": rm["vader_accuracy"],
            "rater_agreement": rm["rater_agreement"],
            "rm_test_pairs": rm["test_pairs"],
            "rm_train_pairs": rm["train_pairs"],
            "sft_reward": claim["sft"]["reward"],
            "ppo_reward": claim["ppo"]["reward"],
            "reward_gain": gain,
            "ppo_kl": kl,
            "sft_judge": claim["sft"]["judge"],
            "ppo_judge": claim["ppo"]["judge"],
            "judge_gain": judged,
            "control_reward_gain": control["reward_gain"],
            "control_judge_gain": control["judge_gain"],
            "control_kl": control["ppo"]["kl"],
            "kl_coef_final": claim["kl_coef_final"],
            "eval_prompts": claim["eval_prompts"],
            **{f"cpu_seconds_{k}": round(v, 1) for k, v in cpu.items()},
            "cpu_seconds_all_stages": round(sum(cpu.values()), 1),
            "stages_reused_from_cache": ", ".join(reused) or "none",
        },
        claim_holds=holds,
        control_fails=control["reward_gain"] < TARGET_GAIN,
        figures=[figure],
    )
    misses = []
    if rm["test_accuracy"] < TARGET_ACCURACY:
        misses.append(f"reward-model accuracy {rm['test_accuracy']:.3f} < {TARGET_ACCURACY}")
    if gain < TARGET_GAIN:
        misses.append(f"PPO gain {gain:+.2f} < {TARGET_GAIN} rating unit")
    if kl > MAX_KL:
        misses.append(f"KL {kl:.2f} > {MAX_KL}")
    if not agrees:
        misses.append(f"VADER judged {judged:+.2f} against the reward model's {gain:+.2f}")
    if control["reward_gain"] >= TARGET_GAIN:
        misses.append(f"the shuffled-reward control gained {control['reward_gain']:+.2f}")
    return state_miss(out, results, "; ".join(misses) + " at this CPU scale (see the module's docstring)")
