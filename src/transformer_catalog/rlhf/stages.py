"""The pipeline's stages as functions (the Python API behind `tcat rlhf sft|reward|ppo`): each checks
everything it was given before it writes anything, trains, evaluates and writes its run folder.

  run_sft(SFTConfig, out)                         out/checkpoint, metrics.jsonl, loss.png, sft.json
  run_reward(RewardConfig, out)                   out/checkpoint, calibration.json, reward.json
  run_ppo(sft, reward, out, PPOConfig)            out/checkpoint (actor + value head), out/policy (the
                                                  tuned decoder, for tcat generate), metrics.jsonl, ppo.json
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import TcatError
from . import ppo as P
from . import reward as R
from . import sft as S
from .pairs import Pair, Snippet, check_pairs, linear_fit, pairwise_accuracy, rater_agreement, vader_compound


def _prepare(out: Path, resume: bool, stage: str, what: str) -> None:
    """A fresh run needs a folder it may write into; a resumed one a checkpoint of its own stage (a DPO
    run is not resumed as PPO: its weights and optimizer mean something else)."""
    from ..train.checkpoint import read_config, recover
    from ..train.setup import check_out

    if not resume:
        check_out(out)
        return
    recover(out / "checkpoint")
    if (out / "checkpoint" / "config.json").is_file():
        _, meta, _ = read_config(out / "checkpoint")
        task = meta.get("task") if isinstance(meta.get("task"), dict) else {}
        found = task.get("objective") or task.get("name")
        if found != stage:
            raise TcatError(f"{out}: holds a {found or 'non-training'} run, not {what}; resume it with its own command")
    if not (out / "checkpoint" / "trainer_state.json").is_file():
        raise TcatError(f"{out}: nothing to resume (no checkpoint/trainer_state.json); drop --resume to start")


def run_sft(cfg: S.SFTConfig, out, resume: bool = False, minutes: float = 0.0, progress: bool = True) -> dict:
    from ..files import output_dir, write_json

    out = Path(out)
    _prepare(out, resume, S.STAGE, "SFT")
    S.check_model(cfg.model)
    run = S.trainer(cfg, out, progress=progress, resume=resume, minutes=minutes)
    output_dir(out)
    state = run.fit()
    result = {
        "stage": "sft",
        "params": sum(p.numel() for p in run.model.parameters()),
        "step": state["step"],
        "tokens": state["tokens"],
        "valid_loss": round(run.evaluate(), 4),
        "first_loss": run.history[0]["loss"] if run.history else None,
        "last_loss": next((r["loss"] for r in reversed(run.history) if "loss" in r), None),
    }
    write_json(out / "sft.json", result)
    return result


def load_pairs_file(path) -> dict:
    """A JSONL file of {"chosen": text, "rejected": text}: every tenth pair held out for validation and test."""
    path = Path(path)
    pairs = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise TcatError(f"{path}: cannot read ({e.strerror})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            chosen, rejected = str(row["chosen"]), str(row["rejected"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise TcatError(f"{path}:{n}: expected a JSON object with 'chosen' and 'rejected' texts") from None
        pairs.append(Pair(Snippet("file", f"{n}c", chosen, 1.0, ()), Snippet("file", f"{n}r", rejected, 0.0, ())))
    check_pairs(pairs, str(path))
    held = pairs[::10]
    return {"train": [p for i, p in enumerate(pairs) if i % 10], "valid": held, "test": held}


def run_reward(
    cfg: R.RewardConfig,
    out,
    resume: bool = False,
    pairs_file=None,
    min_gap: float = 1.0,
    per_snippet: int = 2,
    max_train_pairs: int = 0,
    minutes: float = 0.0,
    progress: bool = True,
    max_eval: int = 0,
) -> dict:
    """Train a Bradley-Terry reward model; report held-out pairwise accuracy beside VADER's lexicon and
    the individual raters' agreement on the same test pairs (VADER pairs only)."""
    from ..files import output_dir, write_json
    from .pairs import load_snippets, preference_pairs, split_snippets

    out = Path(out)
    _prepare(out, resume, R.STAGE, "a reward model")
    R.check_body(cfg.body)
    if pairs_file:
        pairs, valid_snippets = load_pairs_file(pairs_file), None
    else:
        pairs = preference_pairs(cfg.seed, per_snippet, min_gap)
        for split in ("train", "valid", "test"):
            check_pairs(pairs[split], f"VADER {split} pairs with a rating gap >= {min_gap}")
        valid_snippets = split_snippets(load_snippets(), cfg.seed)["valid"]
    if max_train_pairs:
        pairs["train"] = pairs["train"][:max_train_pairs]
    if max_eval:  # a cheaper evaluation (tests, the tiny setting): the first pairs and snippets of each split
        pairs["valid"], pairs["test"] = pairs["valid"][:max_eval], pairs["test"][:max_eval]
        valid_snippets = None if valid_snippets is None else valid_snippets[:max_eval]
    run = R.trainer(cfg, pairs, out, progress=progress, resume=resume, minutes=minutes)
    output_dir(out)
    state = run.fit()
    model, tok = run.model, run.task.tokenizer
    test = pairs["test"]
    result = {
        "stage": "reward",
        "body": cfg.body,
        "step": state["step"],
        "train_pairs": len(pairs["train"]),
        "test_pairs": len(test),
        "test_accuracy": R.pair_accuracy(model, tok, test, cfg.max_len),
        "valid_accuracy": R.pair_accuracy(model, tok, pairs["valid"][:1000], cfg.max_len),
    }
    if valid_snippets is not None:
        compound = vader_compound([t for p in test for t in (p.chosen.text, p.rejected.text)])
        result["vader_accuracy"] = pairwise_accuracy(compound[0::2], compound[1::2])
        result["rater_agreement"] = rater_agreement(test)
        scale, shift = R.calibrate(model, tok, valid_snippets[:1000], cfg.max_len)
        units = "rating"
    else:
        scale, shift, units = 1.0, 0.0, "raw"
    write_json(out / "calibration.json", {"scale": scale, "shift": shift, "units": units})
    write_json(out / "reward.json", result)
    return result


def _open_policy(path, what: str):
    from ..train.checkpoint import load_model

    model, meta, tok = load_model(path)
    if model.config.arch != "decoder" or tok is None:
        raise TcatError(f"{what} {path}: not a decoder run with a tokenizer (train one with tcat rlhf sft)")
    return model, meta, tok


def judge_fit(seed: int = 0) -> tuple[float, float]:
    """VADER's compound put on the rating scale by a line fitted on the validation snippets."""
    from .pairs import load_snippets, split_snippets

    valid = split_snippets(load_snippets(), seed)["valid"]
    return linear_fit(vader_compound([s.text for s in valid]), [s.mean for s in valid])


def run_ppo(
    sft,
    reward,
    out,
    cfg: P.PPOConfig,
    reference=None,
    resume: bool = False,
    n_prompts: int = 2000,
    n_eval: int = 256,
    minutes: float = 0.0,
    progress: bool = True,
    samples: int = 8,
) -> dict:
    """PPO from the SFT run `sft` against the reward run `reward`; the reference is the SFT policy unless
    `reference` names another decoder run with the same tokenizer (the per-token KL compares token
    probabilities, so both must split text alike). Evaluates SFT and PPO on held-out prompts with the
    reward model and with VADER's lexicon, a judge PPO never saw."""
    import torch

    from ..files import output_dir, write_json
    from ..train.checkpoint import save_checkpoint
    from .pairs import load_snippets, split_snippets

    cfg.validate()
    out = Path(out)
    _prepare(out, resume, P.STAGE, "PPO")
    sft_model, sft_meta, tok = _open_policy(sft, "--sft")
    # the snippet split is the SFT run's (its seed), whatever PPO's own seed: held-out prompts stay held out
    split_seed = int(sft_meta.get("task", {}).get("seed", 0)) if isinstance(sft_meta.get("task"), dict) else 0
    ref = sft_model
    if reference is not None:
        ref, _, ref_tok = _open_policy(reference, "--reference")
        if not P.same_tokenizer(tok, ref_tok):
            raise TcatError(
                f"--reference {reference}: its tokenizer differs from the policy's ({sft}); the per-token KL "
                "needs one vocabulary"
            )
    scorer = R.load_scorer(reward)
    splits = split_snippets(load_snippets(), split_seed)
    train_prompts, eval_prompts = S.prompts(splits["valid"], n_prompts, cfg.seed), S.prompts(splits["test"], n_eval)
    a, b = judge_fit(split_seed)

    def judge(texts):
        return [a * c + b for c in vader_compound(texts)]

    torch.manual_seed(cfg.seed)
    policy = P.ActorCritic(sft_model.config)
    missing, unexpected = policy.load_state_dict(sft_model.state_dict(), strict=False)
    if unexpected or any(not k.startswith("value_head") for k in missing):
        raise TcatError(f"--sft {sft}: weights do not fit a decoder of its own config")
    meta = {"sft": str(sft), "reward": str(reward), "reference": str(reference or sft)}
    run = P.PPO(policy, ref, tok, scorer, train_prompts, cfg, out=out, meta=meta)
    if resume:
        run.resume()
    output_dir(out)
    clock = time.process_time()
    state = run.fit(progress=progress, minutes=minutes)
    ppo_cpu = time.process_time() - clock
    before = P.evaluate(sft_model, sft_model, tok, scorer, judge, eval_prompts, cfg.max_new, cfg.seed)
    after = P.evaluate(policy, sft_model, tok, scorer, judge, eval_prompts, cfg.max_new, cfg.seed)
    tuned = P.DecoderModel(policy.config)
    tuned.load_state_dict({k: v for k, v in policy.state_dict().items() if not k.startswith("value_head")})
    save_checkpoint(out / "policy", tuned, {"task": {"name": P.STAGE + "-policy", **meta}}, tok)
    result = {
        "stage": "ppo",
        "step": state["step"],
        "ppo_cpu_seconds": round(ppo_cpu, 1),
        "kl_coef_final": state["kl_coef"],
        "eval_prompts": len(eval_prompts),
        "sft": {k: before[k] for k in ("reward", "judge", "kl")},
        "ppo": {k: after[k] for k in ("reward", "judge", "kl")},
        "reward_gain": after["reward"] - before["reward"],
        "judge_gain": after["judge"] - before["judge"],
        "samples": [
            {"prompt": p, "sft": s[1], "sft_reward": s[2], "ppo": q[1], "ppo_reward": q[2]}
            for p, s, q in zip(eval_prompts[:samples], before["samples"], after["samples"])
        ],
    }
    write_json(out / "ppo.json", result)
    return result
