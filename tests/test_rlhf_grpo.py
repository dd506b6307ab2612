"""GRPO on three-digit additions (rlhf/additions.py, rlhf/grpo.py): the data, the supervised task, GRPO raising its
reward on a tiny setting, exact resume through the one trainer, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from transformer_catalog.errors import TcatError
from transformer_catalog.nn import build_model
from transformer_catalog.rlhf import additions as add
from transformer_catalog.rlhf.grpo import GRPOConfig, GRPOTask, StatsTrainer, check_grpo, train_grpo
from transformer_catalog.train.trainer import TrainConfig


def test_tokenizer_and_sums():
    tok = add.tokenizer()
    assert tok.decode(tok.encode("123+456=579")) == "123+456=579"
    assert len(set(tok.encode("0123456789+="))) == 12
    train, test = add.split_sums(3000, 500, seed=3)
    assert len(set(train)) == 3000 and len(set(test)) == 500 and not set(train) & set(test)
    assert all(100 <= a <= 999 and 100 <= b <= 999 for a, b in train + test)
    assert add.prompt_ids(tok, test).shape == (500, add.PROMPT_LEN)  # one length: no padding
    assert add.split_sums(3000, 500, seed=3) == (train, test)
    with pytest.raises(TcatError, match="distinct pairs"):
        add.split_sums(810_000, 1)


def test_reward_is_exact_match_with_eos():
    tok = add.tokenizer()
    right = add.answer_ids(tok, 999, 999)
    assert tok.decode(right) == "1998"
    no_eos, wrong = right[:-1], add.answer_ids(tok, 999, 998)
    r = add.rewards(tok, [(999, 999)] * 3, [right, no_eos, wrong])
    assert r.tolist() == [1.0, 0.0, 0.0]


def test_supervised_task_trains_only_on_the_answer():
    tok = add.tokenizer()
    task = add.make_task(add.AdditionsConfig(n_train=10, n_test=5, steps=1))
    prompt, answer = task.train[0]
    batch = task.collate(task.train[:2])
    ids, labels = batch["ids"], batch["labels"]
    assert labels[0, : len(prompt) - 1].eq(add.IGNORE).all()  # the prompt is given, not learnt
    # position t predicts token t + 1: the labels are the answer, read off the ids one step ahead
    assert labels[0, len(prompt) - 1 : len(prompt) - 1 + len(answer)].tolist() == answer
    assert ids[0, len(prompt) : len(prompt) + len(answer)].tolist() == answer
    assert answer[-1] == tok.eos_id


def _tiny_policy(seed: int = 0):
    torch.manual_seed(seed)
    cfg = add.AdditionsConfig(d_model=32, layers=1, heads=2)
    return build_model(add.model_config(cfg, add.tokenizer().vocab_size))


def _starts_with_one(tok, pairs, responses):
    """A reward a random model can learn in a few steps: the answer begins with the digit 1."""
    one = tok.encode("1")[0]
    return torch.tensor([float(bool(r) and r[0] == one) for r in responses])


def _grpo(out: Path, steps: int, resume: bool = False, beta: float = 0.0):
    tok = add.tokenizer()
    policy = _tiny_policy()
    reference = _tiny_policy().eval().requires_grad_(False)
    train, _ = add.split_sums(64, 1, seed=0)
    task = GRPOTask(
        name="grpo",
        objective=None,
        train=train,
        valid=[],
        pad_id=tok.pad_id,
        vocab_size=tok.vocab_size,
        tokenizer=tok,
        meta={"name": "grpo-test"},
        group_size=8,
        beta=beta,
        prompts_per_step=8,
        reference=reference,
        reward_fn=_starts_with_one,
    )
    cfg = TrainConfig(
        steps=steps,
        optimizer="adamw",
        schedule="cosine",
        lr=1e-2,
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
    return policy, trainer


def _reward_rate(model) -> float:
    from transformer_catalog.generate import SamplingConfig, generate

    tok = add.tokenizer()
    pairs = add.split_sums(256, 1, seed=1)[0]
    out = generate(
        model,
        add.prompt_ids(tok, pairs),
        add.MAX_ANSWER,
        eos_id=tok.eos_id,
        sampling=SamplingConfig(temperature=1.0),
        generator=torch.Generator().manual_seed(0),
    )
    return float(_starts_with_one(tok, pairs, out.tolist()).mean())


def test_grpo_raises_the_reward_and_records_reward_and_kl(tmp_path):
    before = _reward_rate(_tiny_policy())
    policy, trainer = _grpo(tmp_path / "run", steps=30)
    after = _reward_rate(policy)
    assert before < 0.3 and after > 0.8, (before, after)  # from near chance to most answers
    curve = [r for r in trainer.history if "reward" in r]
    assert len(curve) == 3 and all("kl" in r for r in curve)
    assert curve[-1]["kl"] > 1.0  # moving away from the reference costs KL (nats per answer)


def test_grpo_resumes_exactly(tmp_path):
    whole, _ = _grpo(tmp_path / "whole", steps=6)
    _grpo(tmp_path / "parts", steps=3)
    resumed, _ = _grpo(tmp_path / "parts", steps=6, resume=True)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize(
    "change,message",
    [
        ({"group_size": 1}, "group size must be at least 2"),
        ({"beta": -0.1}, "beta must be >= 0"),
        ({"clip": 0.0}, "clip"),
        ({"temperature": 0.0}, "temperature"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, change, message):
    import dataclasses

    cfg = dataclasses.replace(GRPOConfig(), **change)
    with pytest.raises(TcatError, match=message):
        check_grpo(cfg)
    with pytest.raises(TcatError, match=message):
        train_grpo(tmp_path / "out", cfg, progress=False)
    assert not (tmp_path / "out").exists()


def test_train_grpo_trains_the_sft_stage_then_resumes_with_more_steps(tmp_path):
    sums = add.AdditionsConfig(n_train=200, n_test=20, d_model=32, layers=1, heads=2, steps=5, batch_size=16)
    cfg = GRPOConfig(steps=2, prompts_per_step=4, group_size=4, additions=sums)
    first = train_grpo(tmp_path / "run", cfg, progress=False)
    assert first["steps"] == 2 and first["held_out"] == 20
    assert (tmp_path / "run" / "sft" / "checkpoint").is_dir() and (tmp_path / "run" / "grpo.json").is_file()
    more = train_grpo(tmp_path / "run", GRPOConfig(steps=3, prompts_per_step=4, group_size=4, additions=sums),
                      resume=True, progress=False)  # fmt: skip
    assert more["steps"] == 3 and more["sft_exact"] == first["sft_exact"]
    with pytest.raises(TcatError, match="already holds a checkpoint"):
        train_grpo(tmp_path / "run", cfg, progress=False)  # a finished run is not overwritten without --resume
    with pytest.raises(TcatError, match="checkpoint is for task"):  # another group size is another run
        train_grpo(tmp_path / "run", GRPOConfig(steps=4, prompts_per_step=4, group_size=2, additions=sums),
                   resume=True, progress=False)  # fmt: skip


def test_cli_defaults_are_the_configs():
    """`tcat rlhf grpo` without options trains with GRPOConfig's settings (its --lr once said 5e-5 while the
    config, and the shipped run, used 2e-4)."""
    from transformer_catalog.cli import parser

    args = parser("rlhf").parse_args(["rlhf", "grpo", "--out", "x"])
    cfg = GRPOConfig()
    assert (args.lr, args.beta, args.group_size) == (cfg.lr, cfg.beta, cfg.group_size)
