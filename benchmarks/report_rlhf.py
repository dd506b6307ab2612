"""BENCHMARKS.md section for issue 13's first half (experiments/results/rlhf-ppo/results.json, made by
`tcat experiments run rlhf-ppo`): the reward model's held-out pairwise accuracy beside VADER's lexicon and the
individual raters' agreement on the same pairs, PPO against SFT with its KL and a judge PPO never saw, samples
before and after, and the CPU seconds of each stage. R2 appends the DPO / GRPO parts to `section`."""

from __future__ import annotations

import json
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent.parent / "src" / "transformer_catalog" / "experiments" / "results"


def _machine(m: dict) -> str:
    return f"{m['cpu']} ({', '.join(m.get('isa', [])) or '?'}), torch {m['torch']}, {m['threads']} thread(s)"


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
        f"Machine: {_machine(r['machine'])}. Command: `{r['command']}` ({r['cpu_seconds']:,.0f} CPU s in all, "
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


def section(lines: list[str]) -> None:
    ppo_section(lines)
