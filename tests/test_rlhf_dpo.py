"""DPO / IPO / KTO training (rlhf/dpo.py): the task's loss at the start, each loss moving the policy toward the
chosen responses on a tiny setting, pairs sampled and ranked, exact resume, and the refusals."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from transformer_catalog.errors import TcatError
from transformer_catalog.nn import ModelConfig, build_model
from transformer_catalog.rlhf.dpo import (
    DPOConfig,
    PreferenceTask,
    _collate,
    check_dpo,
    reference_logps,
    response_logps,
    sampled_pairs,
    train_dpo,
)
from transformer_catalog.rlhf.grpo import StatsTrainer
from transformer_catalog.train.trainer import TrainConfig

VOCAB, PAD, BOS, EOS = 12, 0, 1, 2
GOOD, BAD = 3, 4  # chosen responses hold GOOD tokens, rejected ones BAD tokens


def _model(seed: int = 0):
    torch.manual_seed(seed)
    cfg = ModelConfig.from_dict(
        {
            "arch": "decoder",
            "d_model": 32,
            "n_encoder_layers": 0,
            "n_decoder_layers": 1,
            "dropout": 0.0,
            "attention": {"n_heads": 2},
            "position": {"kind": "learned", "max_len": 16},
            "ffn": {"d_ff": 64},
            "embedding": {"vocab_size": VOCAB, "pad_id": PAD},
        }
    )
    return build_model(cfg)


def _pairs(n: int = 32) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        prompt = [BOS] + torch.randint(5, VOCAB, (int(torch.randint(1, 4, (1,), generator=g)),), generator=g).tolist()
        k = int(torch.randint(1, 4, (1,), generator=g))
        out.append({"prompt": prompt, "chosen": [GOOD] * k + [EOS], "rejected": [BAD] * (4 - k) + [EOS]})
    return out


def _task(loss: str, reference, pairs: list[dict], beta: float = 0.5) -> PreferenceTask:
    chosen = reference_logps(reference, [(p["prompt"], p["chosen"]) for p in pairs], PAD)
    rejected = reference_logps(reference, [(p["prompt"], p["rejected"]) for p in pairs], PAD)
    examples = [p | {"ref_chosen": c, "ref_rejected": r} for p, c, r in zip(pairs, chosen, rejected)]
    return PreferenceTask(
        name="rlhf-dpo",
        objective=None,
        train=examples,
        valid=[],
        pad_id=PAD,
        vocab_size=VOCAB,
        meta={"name": "rlhf-dpo", "loss": loss},
        loss_name=loss,
        beta=beta,
        batch_pairs=8,
        reference=reference,
    )


@pytest.mark.parametrize(
    "loss,expected",
    [("dpo", math.log(2)), ("ipo", (1 / (2 * 0.5)) ** 2), ("kto", 0.5)],
)
def test_loss_at_the_start_is_the_papers_value_at_zero_log_ratio(loss, expected):
    """Policy = reference: every log-ratio is 0, so DPO gives log 2, IPO (1 / 2 beta)^2 and KTO 1 - sigmoid(0)."""
    ref = _model().eval()
    task = _task(loss, ref, _pairs(8))
    value, n = task.loss(_model().eval(), task.collate(task.train))
    assert abs(float(value.detach()) - expected) < 1e-5
    assert n == sum(len(p["chosen"]) + len(p["rejected"]) for p in task.train)


def test_response_mask_covers_the_response_only():
    ids, mask = _collate([([BOS, 7], [GOOD, EOS]), ([BOS], [BAD, BAD, EOS])], PAD)
    assert ids.tolist() == [[BOS, 7, GOOD, EOS], [BOS, BAD, BAD, EOS]]
    assert mask.tolist() == [[0, 0, 1, 1], [0, 1, 1, 1]]


def _train(out: Path, loss: str, steps: int, resume: bool = False):
    policy, ref = _model(), _model().eval().requires_grad_(False)
    task = _task(loss, ref, _pairs())
    cfg = TrainConfig(
        steps=steps,
        optimizer="adamw",
        schedule="cosine",
        lr=3e-3,
        min_lr=1.0,
        warmup=1,
        eval_every=0,
        save_every=0,
        label_smoothing=0.0,
        clip=1.0,
    )
    trainer = StatsTrainer(policy, task, cfg, out, progress=False)
    if resume:
        trainer.resume()
    trainer.fit()
    return policy, ref, task, trainer


@pytest.mark.parametrize("loss", ["dpo", "ipo", "kto"])
def test_each_loss_moves_the_policy_toward_the_chosen_responses(tmp_path, loss):
    policy, ref, task, trainer = _train(tmp_path / loss, loss, steps=20)
    batch = task.collate(task.train)
    with torch.no_grad():
        gap_policy = response_logps(policy.eval(), batch["ids"], batch["mask"])
    n = len(task.train)
    margin = (gap_policy[:n] - batch["ref"][:n].float()) - (gap_policy[n:] - batch["ref"][n:].float())
    assert float(margin.mean()) > 2.0  # nats of preference for chosen over rejected, relative to the reference
    assert float((margin > 0).float().mean()) == 1.0
    records = [r for r in trainer.history if "reward_accuracy" in r]
    assert records and records[-1]["reward_accuracy"] == 1.0 and records[-1]["margin"] > 0


def test_resume_is_exact(tmp_path):
    whole, *_ = _train(tmp_path / "whole", "dpo", steps=6)
    _train(tmp_path / "parts", "dpo", steps=3)
    resumed, *_ = _train(tmp_path / "parts", "dpo", steps=6, resume=True)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_sampled_pairs_are_ranked_by_the_scorer():
    from transformer_catalog.data.tokenizer import train_bpe

    tok = train_bpe(["the film was good", "the film was bad and long", "a fine long film"] * 20, 300)
    torch.manual_seed(0)
    cfg = ModelConfig.from_dict(
        {
            "arch": "decoder",
            "d_model": 32,
            "n_encoder_layers": 0,
            "n_decoder_layers": 1,
            "dropout": 0.0,
            "attention": {"n_heads": 2},
            "position": {"kind": "learned", "max_len": 32},
            "ffn": {"d_ff": 64},
            "embedding": {"vocab_size": tok.vocab_size, "pad_id": tok.pad_id},
        }
    )
    policy = build_model(cfg).eval()

    def length(texts):  # a stand-in reward model: longer is better
        return torch.tensor([float(len(t)) for t in texts])

    pairs = sampled_pairs(policy, tok, length, ["the film", "a fine"], samples=4, max_new=6, temperature=1.0, seed=0)
    assert 0 < len(pairs) <= 2 * 6  # at most every two of four samples, per prompt
    for p in pairs:
        assert p["scores"][0] > p["scores"][1] and len(p["texts"][0]) > len(p["texts"][1])
        assert tok.decode(p["prompt"][1:] + p["chosen"]) == p["texts"][0]  # ids and text are the same sample
    assert pairs == sampled_pairs(policy, tok, length, ["the film", "a fine"], 4, 6, 1.0, seed=0)  # seeded


@pytest.mark.parametrize(
    "change,message",
    [
        ({"beta": -0.1}, "beta must be positive"),
        ({"beta": 0.0}, "beta must be positive"),
        ({"loss": "orpo"}, "unknown loss"),
        ({"pairs": "mixed"}, "unknown pair source"),
        ({"samples": 1}, "at least 2 samples"),
        ({"batch_pairs": 1}, "batch_pairs"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, change, message):
    cfg = dataclasses.replace(DPOConfig(), **change)
    with pytest.raises(TcatError, match=message):
        check_dpo(cfg)
    with pytest.raises(TcatError, match=message):
        train_dpo(tmp_path / "sft", tmp_path / "out", cfg, reward=tmp_path / "rm", progress=False)
    assert not (tmp_path / "out").exists()


def test_sampled_pairs_need_a_reward_model_and_an_sft_run(tmp_path):
    with pytest.raises(TcatError, match="--reward"):
        train_dpo(tmp_path / "sft", tmp_path / "out", DPOConfig(), progress=False)
    with pytest.raises(TcatError, match="no SFT run"):
        train_dpo(tmp_path / "sft", tmp_path / "out", DPOConfig(pairs="human"), progress=False)
    assert not (tmp_path / "out").exists()


def _pt(method, coef, seed, reward, kl):
    return {"method": method, "coef": coef, "seed": seed, "reward": reward, "kl": kl}


def test_frontier_means_and_dominance():
    from transformer_catalog.rlhf.frontier import dominance, envelope, means

    ppo = [_pt("ppo", 0.1, s, r, k) for s, (r, k) in enumerate([(1.0, 2.0), (1.2, 3.0), (0.8, 1.0)])]
    ppo += [_pt("ppo", 0.5, s, 0.4, 0.5) for s in range(3)]
    m = means(ppo, "ppo")
    assert [x["coef"] for x in m] == [0.5, 0.1]  # sorted by KL
    assert m[1]["reward"] == 1.0 and m[1]["kl"] == 2.0 and m[1]["reward_min"] == 0.8 and m[1]["kl_max"] == 3.0
    assert envelope(m, 1.9) == pytest.approx(0.4) and envelope(m, 2.0) == 1.0 and envelope(m, 0.1) is None
    better = [_pt("dpo", b, s, r, k) for s in range(3) for b, r, k in ((0.1, 1.5, 1.5), (1.0, 0.5, 0.4))]
    assert dominance(ppo + better, sft_reward=0.0)["verdict"] == "dpo"
    worse = [_pt("dpo", b, s, r, k) for s in range(3) for b, r, k in ((0.1, 0.6, 2.5), (1.0, 0.2, 0.6))]
    assert dominance(ppo + worse, sft_reward=0.0)["verdict"] == "ppo"
    mixed = [_pt("dpo", b, s, r, k) for s in range(3) for b, r, k in ((0.1, 0.9, 2.5), (1.0, 0.45, 0.5))]
    verdict = dominance(ppo + mixed, sft_reward=0.0)
    assert verdict["verdict"] == "crossing" and {g["kl"] for g in verdict["gaps"]} == {0.5, 2.0, 2.5}


def test_train_dpo_on_human_pairs_resumes_with_more_steps(tmp_path):
    """The stage end to end from an SFT run's folder: VADER's human pairs kept in pairs.json, more --steps on resume."""
    from transformer_catalog.data.tokenizer import train_bpe
    from transformer_catalog.rlhf.pairs import preference_pairs
    from transformer_catalog.train.checkpoint import save_checkpoint

    try:
        texts = [t for p in preference_pairs(0)["train"][:200] for t in (p.chosen.text, p.rejected.text)]
    except TcatError as e:
        pytest.skip(str(e))
    tok = train_bpe(texts, 400)
    torch.manual_seed(0)
    cfg = ModelConfig.from_dict(
        {
            "arch": "decoder",
            "d_model": 32,
            "n_encoder_layers": 0,
            "n_decoder_layers": 1,
            "dropout": 0.0,
            "attention": {"n_heads": 2},
            "position": {"kind": "learned", "max_len": 64},
            "ffn": {"d_ff": 64},
            "embedding": {"vocab_size": tok.vocab_size, "pad_id": tok.pad_id},
        }
    )
    save_checkpoint(tmp_path / "sft" / "checkpoint", build_model(cfg), {"task": {"name": "rlhf-sft", "seed": 0}}, tok)
    run = DPOConfig(pairs="human", human_pairs=24, batch_pairs=8, steps=2)
    first = train_dpo(tmp_path / "sft", tmp_path / "dpo", run, progress=False)
    assert first["pairs"] == 24 and first["steps"] == 2 and "eval" not in first  # no reward model: no evaluation
    assert len(json.loads((tmp_path / "dpo" / "pairs.json").read_text())) == 24
    more = train_dpo(tmp_path / "sft", tmp_path / "dpo", dataclasses.replace(run, steps=3), resume=True, progress=False)
    assert more["steps"] == 3
    with pytest.raises(TcatError, match="checkpoint is for task"):  # another beta is another run
        train_dpo(tmp_path / "sft", tmp_path / "dpo", dataclasses.replace(run, steps=4, beta=0.5), resume=True)
