"""The RLHF stages on tiny settings: SFT's loss falls, the Bradley-Terry reward model learns which of two
texts is preferred (and its frozen-lower-layers shortcut computes the same function), PPO raises a reward
it can reach, its KL coefficient adapts in the right direction, and a resumed PPO run ends bit for bit
where an uninterrupted one does. (GAE's hand-computed case and whitening: tests/test_rlhf_losses.py.)"""

from __future__ import annotations

import copy
import dataclasses
import json
import random

import pytest
import torch

from transformer_catalog.errors import TcatError
from transformer_catalog.families import get_config
from transformer_catalog.nn import build_model
from transformer_catalog.rlhf import ppo as P
from transformer_catalog.rlhf import reward as R
from transformer_catalog.rlhf import sft as S
from transformer_catalog.rlhf.pairs import Snippet

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join("".join(rng.choices(LETTERS, k=rng.randint(1, 4))) for _ in range(rng.randint(3, 8))) for _ in range(n)
    ]


@pytest.fixture(scope="module")
def tok():
    from transformer_catalog.data.tokenizer import train_bpe

    return train_bpe(_texts(300), 300)


def _decoder(tok, seed: int = 0):
    torch.manual_seed(seed)
    cfg = get_config("transformer-tiny", N=1, vocab_size=tok.vocab_size).replace(
        **{"arch": "decoder", "dropout": 0.0, "attention.dropout": 0.0, "embedding.pad_id": tok.pad_id}
    )
    return build_model(cfg)


def _vowels(texts: list[str]) -> torch.Tensor:
    """A reward a policy can reach: the share of vowels among the letters of the text."""
    return torch.tensor([sum(c in "aeiou" for c in t) / max(1, sum(c.isalpha() for c in t)) for t in texts])


def _policy(tok, seed: int = 0):
    ref = _decoder(tok, seed)
    policy = P.ActorCritic(ref.config)
    policy.load_state_dict(ref.state_dict(), strict=False)
    return policy, ref


def test_adaptive_kl_coefficient_moves_toward_the_target():
    assert P.adapt_kl_coef(0.1, 8.0, 4.0, 32, 1000) == pytest.approx(0.1 * (1 + 0.2 * 32 / 1000))  # clipped at +0.2
    assert P.adapt_kl_coef(0.1, 3.6, 4.0, 32, 1000) == pytest.approx(0.1 * (1 - 0.1 * 32 / 1000))
    assert P.adapt_kl_coef(0.1, 0.0, 4.0, 32, 1000) == pytest.approx(0.1 * (1 - 0.2 * 32 / 1000))  # clipped at -0.2
    assert P.adapt_kl_coef(0.1, 100.0, 0.0, 32, 1000) == 0.1  # target 0: fixed
    with pytest.raises(TcatError, match="KL coefficient"):
        P.PPOConfig(kl_coef=-0.1).validate()


def test_ppo_raises_a_reachable_reward(tok):
    torch.manual_seed(0)
    policy, ref = _policy(tok)
    prompts = [" ".join(t.split()[:2]) for t in _texts(64, seed=1)]
    cfg = P.PPOConfig(steps=12, batch=16, minibatch=8, epochs=2, max_new=8, lr=3e-3, kl_coef=0.01, seed=0)
    before = P.evaluate(policy, ref, tok, _vowels, lambda t: _vowels(t).tolist(), prompts, 8, seed=5)
    run = P.PPO(policy, ref, tok, _vowels, prompts, cfg)
    for _ in range(cfg.steps):
        run.step()
    after = P.evaluate(policy, ref, tok, _vowels, lambda t: _vowels(t).tolist(), prompts, 8, seed=5)
    assert after["reward"] > before["reward"] + 0.1, (before["reward"], after["reward"])
    assert after["kl"] > before["kl"] == pytest.approx(0.0, abs=1e-6)  # it moved away from the reference
    first, last = run.history[0], run.history[-1]
    assert set(first) >= {"reward", "kl", "kl_coef", "pg_loss", "vf_loss", "tokens_per_s"}
    assert last["reward"] > first["reward"]


def test_ppo_resume_is_exact(tok, tmp_path):
    prompts = [" ".join(t.split()[:2]) for t in _texts(16, seed=2)]
    cfg = P.PPOConfig(steps=2, batch=4, minibatch=2, epochs=1, max_new=4, lr=1e-3, save_every=1, seed=3)

    def run(out, steps, resume=False):
        policy, ref = _policy(tok, seed=1)
        ppo = P.PPO(
            policy, ref, tok, _vowels, prompts, dataclasses.replace(cfg, steps=steps), out=out, meta={"test": 1}
        )
        if resume:
            ppo.resume()
        ppo.fit(progress=False)
        return ppo

    straight = run(tmp_path / "a", 2)
    run(tmp_path / "b", 1)
    resumed = run(tmp_path / "b", 2, resume=True)
    for (name, a), (_, b) in zip(straight.policy.state_dict().items(), resumed.policy.state_dict().items()):
        assert torch.equal(a, b), name
    assert straight.state["kl_coef"] == resumed.state["kl_coef"]

    def logged(folder):  # what the steps measured, without their timings
        rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed_s")} for r in rows]

    assert logged(tmp_path / "b") == logged(tmp_path / "a") and len(logged(tmp_path / "a")) == 2


def test_sft_loss_falls(tok, tmp_path):
    from transformer_catalog.nn.model import build_model as build
    from transformer_catalog.train.trainer import Trainer

    texts = [f"the film is {w} and {w}" for w in ("good", "bad", "fine", "dull") for _ in range(40)]
    snippets = {k: [Snippet("a", str(i), t, 0.0, (0,)) for i, t in enumerate(texts)] for k in ("train", "valid")}
    cfg = S.SFTConfig(steps=40, batch=16, max_len=16, lr=3e-3, warmup=5)
    task = S.make_task(cfg, tok, snippets)
    torch.manual_seed(0)
    model = build(get_config("transformer-tiny", N=1, vocab_size=tok.vocab_size).replace(arch="decoder"))
    run = Trainer(model, task, S.train_config(cfg), tmp_path / "sft", progress=False)
    before = run.evaluate()
    run.fit()
    assert run.evaluate() < 0.5 * before


def _encoder(vocab: int, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(get_config("transformer-tiny", N=2, vocab_size=vocab).replace(arch="encoder", dropout=0.0))


def test_frozen_lower_layers_compute_the_full_model():
    enc = _encoder(30)
    full, split = R.RewardModel(enc, frozen=0), R.RewardModel(copy.deepcopy(enc), frozen=1)
    split.head.load_state_dict(full.head.state_dict())
    ids = torch.tensor([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]])
    full.eval(), split.eval()
    assert torch.allclose(full(ids), split(ids), atol=1e-6)
    assert torch.allclose(split(ids), split(ids[[1, 0]])[[1, 0]], atol=1e-6)  # cached features, any order
    assert not any(p.requires_grad for p in split.encoder.embed.parameters())


def test_reward_model_learns_preferences_through_the_trainer(tmp_path):
    """Chosen texts hold token 7, rejected ones do not: after training, held-out pairs are ordered."""
    from transformer_catalog.train.config import TrainConfig
    from transformer_catalog.train.tasks import Task
    from transformer_catalog.train.trainer import Trainer

    rng = random.Random(0)

    def pair():
        base = [rng.randint(8, 29) for _ in range(rng.randint(3, 8))]
        good = list(base)
        good[rng.randrange(len(good))] = 7
        return [1, *good, 2], [1, *base, 2]

    train, test = [pair() for _ in range(256)], [pair() for _ in range(64)]
    model = R.RewardModel(_encoder(30), frozen=1)
    obj = R.PairObjective(pad=0, pairs_per_batch=16, max_len=12)
    task = Task("rlhf-reward", obj, train, test[:16], pad_id=0, vocab_size=30, meta={"name": "rlhf-reward"})
    cfg = TrainConfig(steps=60, warmup=5, optimizer="adamw", schedule="cosine", lr=3e-3, eval_every=0, save_every=0)
    run = Trainer(model, task, cfg, tmp_path / "rm", progress=False)
    loss_before = run.evaluate()
    run.fit()
    assert run.evaluate() < 0.5 * loss_before
    model.eval()
    with torch.no_grad():
        from transformer_catalog.objectives.base import pad

        a, b = model(pad([p[0] for p in test], 0)), model(pad([p[1] for p in test], 0))
    assert (a > b).float().mean() > 0.9


def test_kl_horizon_sets_how_fast_the_coefficient_moves(tok):
    """A PPO step adapts beta with the configured horizon (the shipped experiment shortens it so that beta catches a
    KL overshoot within tens of steps, not hundreds)."""
    prompts = [" ".join(t.split()[:2]) for t in _texts(16, seed=4)]
    betas = {}
    for horizon in (1000, 16):
        policy, ref = _policy(tok, seed=2)
        cfg = P.PPOConfig(steps=1, batch=4, minibatch=2, epochs=1, max_new=4, target_kl=4.0, horizon=horizon, seed=0)
        run = P.PPO(policy, ref, tok, _vowels, prompts, cfg)
        run.step()
        assert run.state["kl_coef"] == pytest.approx(P.adapt_kl_coef(0.1, run.history[0]["kl"], 4.0, 4, horizon))
        betas[horizon] = run.state["kl_coef"]
    assert betas[16] < betas[1000] < 0.1  # KL far below its target: beta falls, 62x faster on the short horizon


def test_rlhf_ppo_experiment_passes_its_ppo_settings_on():
    from transformer_catalog.experiments import rlhf_ppo as E

    cfg = E.Config(ppo_steps=7, ppo_batch=6, ppo_minibatch=3, ppo_epochs=5, max_new=9, kl_coef=0.3, target_kl=2.5,
                   kl_horizon=77, ppo_lr=3e-4, seed=4)  # fmt: skip
    got = E.ppo_config(cfg, shuffle=True)
    want = {"steps": 7, "batch": 6, "minibatch": 3, "epochs": 5, "max_new": 9, "kl_coef": 0.3, "target_kl": 2.5,
            "horizon": 77, "lr": 3e-4, "seed": 4, "shuffle_rewards": True, "save_every": 0}  # fmt: skip
    assert {k: getattr(got, k) for k in want} == want
    assert not E.ppo_config(cfg, shuffle=False).shuffle_rewards
