"""`tcat rlhf`: the refusals the issue names (one line, exit 2, nothing written) that need runs of their own
(two policies with different tokenizers, a DPO run resumed as PPO, a one-class preference file), and
the pipeline sft -> reward -> ppo -> ppo --resume from the command line at a tiny setting."""

from __future__ import annotations

import json
import os

import pytest
import torch

from transformer_catalog.cli import main
from transformer_catalog.families import get_config
from transformer_catalog.nn import build_model
from transformer_catalog.rlhf.pairs import folder as vader_folder
from transformer_catalog.train.checkpoint import save_checkpoint


def _policy_run(path, tok, stage="rlhf-sft", training=False):
    cfg = get_config("transformer-tiny", N=1, vocab_size=tok.vocab_size).replace(arch="decoder")
    model = build_model(cfg)
    extra = {}
    if training:  # a training checkpoint: optimizer moments and trainer state, as DPO writes
        extra = {"optimizer": torch.optim.AdamW(model.parameters()), "trainer_state": {"step": 3}}
    save_checkpoint(path / "checkpoint", model, {"task": {"name": stage}, "train": {}}, tok, **extra)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    from transformer_catalog.data.tokenizer import train_bpe

    root = tmp_path_factory.mktemp("rlhf-cli")
    texts = [f"a film that is {w} {v}" for w in ("good", "bad", "long", "fun") for v in ("indeed", "sadly", "yes")]
    _policy_run(root / "sft_a", train_bpe(texts, 280))
    _policy_run(root / "sft_b", train_bpe([t.upper() for t in texts], 290))
    _policy_run(root / "dpo", train_bpe(texts, 280), stage="rlhf-dpo", training=True)
    rows = [{"chosen": "always this", "rejected": f"other {i}"} for i in range(20)]
    (root / "oneclass.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _snapshot(root) -> dict:
    return {
        os.path.relpath(os.path.join(d, n), root): os.lstat(os.path.join(d, n)).st_mtime_ns
        for d, dirs, names in os.walk(root)
        for n in dirs + names
    }


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ppo", "--sft", "sft_a", "--reference", "sft_b", "--reward", "rm", "--out", "o"], "tokenizer differs"),
        (["ppo", "--sft", "sft_a", "--reward", "rm", "--out", "dpo", "--resume"], "holds a rlhf-dpo run, not PPO"),
        (["ppo", "--sft", "sft_a", "--reward", "rm", "--out", "dpo"], "already holds a checkpoint"),
        (["reward", "--pairs", "oneclass.jsonl", "--out", "o"], "one-class preference set"),
        (["sft", "--out", "dpo", "--resume"], "holds a rlhf-dpo run, not SFT"),
        (["reward", "--out", "sft_a", "--resume"], "holds a rlhf-sft run, not a reward model"),
    ],
)
def test_refusals_write_nothing(sandbox, argv, message, capsys, monkeypatch):
    monkeypatch.chdir(sandbox)
    before = _snapshot(sandbox)
    assert main(["rlhf", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert _snapshot(sandbox) == before


@pytest.mark.skipif(
    not (vader_folder() / "vaderSentiment.py").is_file(), reason="python -m transformer_catalog.rlhf.pairs"
)
def test_pipeline_from_the_command_line(tmp_path, capsys):
    common = ["--quiet", "--threads", "1", "--seed", "0"]
    sft = ["rlhf", "sft", "--out", str(tmp_path / "sft"), "--steps", "3", "--layers", "1", "--d-model", "32"]
    assert main([*sft, "--vocab", "400", *common]) == 0
    assert (
        main(
            [
                "rlhf",
                "reward",
                "--out",
                str(tmp_path / "rm"),
                "--steps",
                "2",
                "--max-pairs",
                "32",
                "--eval-pairs",
                "16",
                *common,
            ]
        )
        == 0
    )
    rm = json.loads((tmp_path / "rm" / "reward.json").read_text())
    assert 0 <= rm["test_accuracy"] <= 1 and 0.5 < rm["rater_agreement"] < 1 and rm["test_pairs"] == 16
    ppo = [
        "rlhf",
        "ppo",
        "--sft",
        str(tmp_path / "sft"),
        "--reward",
        str(tmp_path / "rm"),
        "--out",
        str(tmp_path / "p"),
    ]
    small = ["--batch", "2", "--max-new-tokens", "4", "--eval-prompts", "2", *common]
    assert main([*ppo, "--steps", "1", *small]) == 0
    assert main([*ppo, "--steps", "2", "--resume", *small]) == 0
    rows = [json.loads(line) for line in (tmp_path / "p" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and {"reward", "kl", "kl_coef", "tokens_per_s"} <= set(rows[0])
    result = json.loads((tmp_path / "p" / "ppo.json").read_text())
    assert result["step"] == 2 and len(result["samples"]) == 2
    assert (tmp_path / "p" / "policy" / "model.safetensors").is_file()  # the tuned decoder, for tcat generate
    capsys.readouterr()
