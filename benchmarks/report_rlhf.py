"""BENCHMARKS.md section for issue 13's first half (experiments/results/rlhf-ppo/results.json, made by
`tcat experiments run rlhf-ppo`): the reward model's held-out pairwise accuracy beside VADER's lexicon and the
individual raters' agreement on the same pairs, PPO against SFT with its KL and a judge PPO never saw, samples
before and after, and the CPU seconds of each stage. R2 appends the DPO / GRPO parts to `section`."""

from __future__ import annotations

import json
from pathlib import Path

from common import machine_text

SHIPPED = Path(__file__).resolve().parent.parent / "src" / "transformer_catalog" / "experiments" / "results"


def _cell(text: str, width: int = 110) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def ppo_section(lines: list[str]) -> None:
    folder = SHIPPED / "rlhf-ppo"
    lines += ["## RLHF on VADER's human ratings: reward model and PPO (issue 13)", ""]
    if not (folder / "results.json").exists():
        lines += ["Not measured yet: run `tcat experiments run rlhf-ppo`.", ""]
        return
    r = json.loads((folder / "results.json").read_text())
    m = r["metrics"]
    lines += [
        f"Machine: {machine_text(r['machine'])}. Command: `{r['command']}` ({r['cpu_seconds']:,.0f} CPU s in all, "
        f"{r['wall_seconds']:,.0f} s wall on a shared machine). Stages: `tcat rlhf sft`, `tcat rlhf reward`, "
        "`tcat rlhf ppo` (each resumable with `--resume`).",
        "",
        f"Reward model (all-MiniLM-L6-v2, top 2 blocks tuned, Bradley-Terry on {m['rm_train_pairs']:,} training "
        f"pairs) on {m['rm_test_pairs']:,} held-out pairs (snippets never seen in training):",
        "",
        "| scorer | pairwise accuracy |",
        "|---|---:|",
        f"| VADER's lexicon (`compound`) | {m['vader_lexicon_accuracy']:.3f} |",
        f"| reward model | **{m['rm_test_accuracy']:.3f}** |",
        f"| one human rater against another (ceiling) | {m['rater_agreement']:.3f} |",
        "",
        f"PPO on a {m['sft_params'] / 1e6:.1f}M-parameter tcat GPT, {m['eval_prompts']} held-out prompts (first 2-5 "
        "words of test snippets), one sample each; rewards and the judge in rating units (-4..+4; VADER's compound "
        "mapped by a line fitted on the validation snippets):",
        "",
        "| policy | reward model | VADER judge | KL to SFT (nats) |",
        "|---|---:|---:|---:|",
        f"| SFT | {m['sft_reward']:+.2f} | {m['sft_judge']:+.2f} | 0 |",
        f"| PPO | {m['ppo_reward']:+.2f} | {m['ppo_judge']:+.2f} | {m['ppo_kl']:.2f} |",
        f"| gain | **{m['reward_gain']:+.2f}** | **{m['judge_gain']:+.2f}** | |",
        f"| control: PPO on shuffled rewards, gain | {m['control_reward_gain']:+.2f} | {m['control_judge_gain']:+.2f} "
        f"| {m['control_kl']:.2f} |",
        "",
        "CPU seconds: "
        + ", ".join(f"{k.removeprefix('cpu_seconds_')} {v:,.0f}" for k, v in m.items() if k.startswith("cpu_seconds_"))
        + ".",
        "",
    ]
    verdict = "holds" if r["claim_holds"] and r["control_fails"] else "not demonstrated"
    lines += [f"Claim: {r['claim']} **{verdict}**" + (f" ({r['miss']})" if r.get("miss") else "") + ".", ""]
    samples = folder / "samples.json"
    if samples.exists():
        rows = json.loads(samples.read_text())["ppo"]
        lines += ["| prompt | SFT (reward) | PPO (reward) |", "|---|---|---|"]
        for s in rows[:6]:
            lines.append(
                f"| {_cell(s['prompt'], 40)} | {_cell(s['sft'])} ({s['sft_reward']:+.1f}) | "
                f"{_cell(s['ppo'])} ({s['ppo_reward']:+.1f}) |"
            )
        lines.append("")
    for figure in r.get("figures", []):
        lines += [f"![{r['name']}](src/transformer_catalog/experiments/results/rlhf-ppo/{figure})", ""]


def grpo_section(lines: list[str]) -> None:
    folder = SHIPPED / "rlhf-grpo"
    lines += ["## GRPO with a verifiable reward: three-digit additions (issue 13)", ""]
    if not (folder / "results.json").exists():
        lines += ["Not measured yet: run `tcat experiments run rlhf-grpo`.", ""]
        return
    r = json.loads((folder / "results.json").read_text())
    m, c = r["metrics"], r["config"]
    lines += [
        f"Machine: {machine_text(r['machine'])}. Command: `{r['command']}` ({r['cpu_seconds']:,.0f} CPU s in all: SFT and "
        f"GRPO {m['cpu_seconds_sft_and_grpo']:,.0f}, control {m['cpu_seconds_control']:,.0f}; "
        f"{r['wall_seconds']:,.0f} s wall on a shared machine). Stage command: `tcat rlhf grpo --out DIR`.",
        "",
        f"A tcat GPT ({c['layers']} layers, width {c['d_model']}) trained on {c['n_train']:,} sums for "
        f"{c['sft_steps']} steps, then GRPO ({c['grpo_steps']} steps of {c['prompts_per_step']} prompts x "
        f"{c['group_size']} samples, reward 1 for an exact answer, KL coefficient {c['beta']}); exact match on "
        f"{m['held_out_sums']} held-out sums, greedy:",
        "",
        "| model | held-out exact match |",
        "|---|---:|",
        f"| SFT | {100 * m['sft_exact']:.1f}% |",
        f"| GRPO | **{100 * m['grpo_exact']:.1f}%** ({m['gain_points']:+.1f} points) |",
        f"| control: GRPO on shuffled rewards | {100 * m['control_exact']:.1f}% ({m['control_gain_points']:+.1f} "
        "points) |",
        "",
    ]
    verdict = "holds" if r["claim_holds"] and r["control_fails"] else "not demonstrated"
    lines += [f"Claim: {r['claim']} **{verdict}**" + (f" ({r['miss']})" if r.get("miss") else "") + ".", ""]
    for figure in r.get("figures", []):
        lines += [f"![{r['name']}](src/transformer_catalog/experiments/results/rlhf-grpo/{figure})", ""]


def frontier_section(lines: list[str]) -> None:
    folder = SHIPPED / "rlhf-frontier"
    lines += ["## The reward-KL frontier: PPO against DPO (issue 13)", ""]
    if not (folder / "results.json").exists():
        lines += ["Not measured yet: run `tcat experiments run rlhf-frontier`.", ""]
        return
    r = json.loads((folder / "results.json").read_text())
    m, c = r["metrics"], r["config"]
    data = json.loads((folder / "points.json").read_text())
    lines += [
        f"Machine: {machine_text(r['machine'])}. Command: `{r['command']}` ({r['cpu_seconds']:,.0f} CPU s; PPO runs "
        f"{m['cpu_seconds_ppo_runs']:,.0f}, DPO/IPO/KTO runs {m['cpu_seconds_dpo_runs']:,.0f}). Stage command: "
        "`tcat rlhf dpo --policy SFT --reward RM --out DIR --beta B [--loss ipo|kto] [--pairs human]`.",
        "",
        f"From one SFT policy and one reward model, PPO at fixed KL coefficients {c['ppo_coefs']} ({c['ppo_steps']} "
        f"steps of {c['ppo_batch']} rollouts) and DPO at betas {c['dpo_betas']} ({c['dpo_steps']} steps on "
        f"{m['pairs']} pairs of SFT samples ranked by the reward model), seeds {c['seeds']}; every policy scored on "
        f"{c['eval_prompts']} held-out prompts (reward model, rating units; sequence KL to SFT, nats). "
        "Means over seeds (min-max):",
        "",
        "| method | coefficient | reward | KL |",
        "|---|---:|---:|---:|",
        f"| SFT | | {data['sft']['reward']:+.2f} | 0 |",
    ]
    methods = sorted({p["method"] for p in data["points"]})
    for method in methods:
        for coef in sorted({p["coef"] for p in data["points"] if p["method"] == method}):
            rows = [p for p in data["points"] if p["method"] == method and p["coef"] == coef]
            rw, kl = [p["reward"] for p in rows], [p["kl"] for p in rows]
            if len(rows) == 1:  # the variants run one seed
                lines.append(f"| {method.upper()} (seed {rows[0]['seed']}) | {coef:g} | {rw[0]:+.2f} | {kl[0]:.2f} |")
                continue
            lines.append(
                f"| {method.upper()} | {coef:g} | {sum(rw) / len(rw):+.2f} ({min(rw):+.2f}..{max(rw):+.2f}) | "
                f"{sum(kl) / len(kl):.2f} ({min(kl):.2f}..{max(kl):.2f}) |"
            )
    ctl = data["control"]
    lines += [
        f"| control: DPO on shuffled preferences | {ctl['coef']:g} | {ctl['reward']:+.2f} | {ctl['kl']:.2f} |",
        "",
        f"Verdict at this scale: **{m['verdict']}** (DPO's envelope minus PPO's, per KL: "
        + ", ".join(f"{g['gap']:+.2f} at {g['kl']:.2f}" for g in data["dominance"]["gaps"])
        + ").",
        "",
    ]
    verdict = "holds" if r["claim_holds"] and r["control_fails"] else "not demonstrated"
    lines += [f"Claim: {r['claim']} **{verdict}**" + (f" ({r['miss']})" if r.get("miss") else "") + ".", ""]
    for figure in r.get("figures", []):
        lines += [f"![{r['name']}](src/transformer_catalog/experiments/results/rlhf-frontier/{figure})", ""]


def section(lines: list[str]) -> None:
    ppo_section(lines)
    frontier_section(lines)
    grpo_section(lines)
