"""bf16 training with fp32 master weights (train/precision.py), the bf16 cross-entropy
(objectives/causal.py) and --bf16 auto's measurement (runtime.py). No wall-clock assertions: the
speed is BENCHMARKS.md's business; here the numbers must be right."""

import json

import pytest
import torch
import torch.nn.functional as F

from transformer_catalog import runtime
from transformer_catalog.families import get_config
from transformer_catalog.nn import ModelConfig, build_model
from transformer_catalog.objectives.base import IGNORE
from transformer_catalog.objectives.causal import LowPrecisionCrossEntropy, causal_token_loss
from transformer_catalog.train.precision import MasterWeights
from transformer_catalog.train.tasks import make_objective_task
from transformer_catalog.train.trainer import TrainConfig, Trainer


@pytest.fixture(scope="module")
def task():
    return make_objective_task("clm", "bible-sample", vocab_size=300, max_len=32)


def _decoder(task, seed=0):
    cfg = get_config("transformer-tiny", N=2, d_model=64, d_ff=128, h=4, vocab_size=task.vocab_size)
    dec = ModelConfig.from_dict({**cfg.to_dict(), "arch": "decoder", "n_encoder_layers": 0, "dropout": 0.0})
    torch.manual_seed(seed)
    return build_model(dec)


def _cfg(**kw):
    base = dict(optimizer="adamw", schedule="cosine", lr=3e-3, warmup=5, max_tokens=256, eval_every=0, save_every=0)
    return TrainConfig(**{**base, **kw})


def _losses(out):
    return [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]


# -- the cross-entropy over bf16 logits ---------------------------------------------------------------
@pytest.mark.parametrize("vocab", [7, 50, 3000])
def test_bf16_cross_entropy_matches_fp32_cross_entropy_and_its_gradient(vocab, monkeypatch):
    monkeypatch.setattr(LowPrecisionCrossEntropy, "CHUNK_ELEMENTS", 4 * vocab)  # several chunks, a ragged last one
    torch.manual_seed(0)
    logits = (3 * torch.randn(2, 9, vocab)).to(torch.bfloat16).requires_grad_()
    labels = torch.randint(0, vocab, (2, 9))
    labels[0, :3] = IGNORE
    loss, n = causal_token_loss(logits, labels)
    assert n == 15
    ref_logits = logits.detach().float().requires_grad_()
    ref = F.cross_entropy(ref_logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=IGNORE)
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(ref.item(), rel=1e-5)
    (2 * loss).backward()
    (2 * ref).backward()
    assert logits.grad.dtype == torch.bfloat16
    assert torch.allclose(logits.grad.float(), ref_logits.grad, atol=1e-2 / 15, rtol=1e-2)
    assert logits.grad[0, :3].abs().max() == 0  # ignored rows get no gradient


def test_bf16_cross_entropy_of_no_labelled_rows_is_zero():
    logits = torch.randn(4, 11).to(torch.bfloat16).requires_grad_()
    loss = LowPrecisionCrossEntropy.apply(logits, torch.full((4,), IGNORE))
    loss.backward()
    assert loss.item() == 0 and logits.grad.abs().max() == 0


def test_fp32_logits_keep_the_plain_cross_entropy():
    logits, labels = torch.randn(3, 5, 13), torch.randint(0, 13, (3, 5))
    loss, _ = causal_token_loss(logits, labels)
    assert loss.item() == pytest.approx(F.cross_entropy(logits.reshape(-1, 13), labels.reshape(-1)).item(), rel=1e-6)


# -- the master weights -------------------------------------------------------------------------------------
def test_compute_copy_is_bf16_with_ties_and_grads_accumulate_in_fp32(task):
    model = _decoder(task)
    mixed = MasterWeights(model)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(p.dtype == torch.bfloat16 for p in mixed.compute.parameters())
    assert mixed.compute.head.weight is mixed.compute.embed.tokens.weight  # tying survives the copy
    ids = torch.randint(0, task.vocab_size, (2, 8))
    mixed.compute(ids).float().square().mean().backward()
    first = {id(m): c.grad.float().clone() for m, c in mixed.pairs}
    mixed.grads_to_master()
    mixed.compute(ids).float().square().mean().backward()
    mixed.grads_to_master()  # a second micro-batch adds to the fp32 gradient
    for m, c in mixed.pairs:
        assert c.grad is None and m.grad.dtype == torch.float32
        assert torch.allclose(m.grad, 2 * first[id(m)], rtol=1e-6, atol=1e-12)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    mixed.refresh()
    for m, c in mixed.pairs:
        assert torch.equal(c, m.to(torch.bfloat16))


def test_bf16_training_follows_the_fp32_loss_curve_with_fp32_masters(task, tmp_path):
    """A tiny run of 40 steps: every logged loss of the bf16 run is within bf16 noise of the fp32
    run's, while the masters and Adam's moments stay fp32."""
    runs = {}
    for bf16 in (False, True):
        out = tmp_path / str(bf16)
        trainer = Trainer(_decoder(task), task, _cfg(steps=40, bf16=bf16), out, progress=False)
        trainer.fit()
        runs[bf16] = (_losses(out), trainer)
    fp32, bf16 = runs[False][0], runs[True][0]
    assert len(fp32) == len(bf16) == 4 and fp32[-1] < fp32[0] - 0.5  # it learns
    for a, b in zip(fp32, bf16, strict=True):
        assert abs(a - b) < 0.02 * a, (fp32, bf16)
    trainer = runs[True][1]
    assert trainer.mixed is not None and trainer.step_module is trainer.mixed.compute
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    for state in trainer.optimizer.state.values():
        assert state["exp_avg"].dtype == state["exp_avg_sq"].dtype == torch.float32
    # the master weights moved in fp32: not all of them are representable in bf16
    assert any(not torch.equal(p, p.to(torch.bfloat16).float()) for p in trainer.model.parameters())


def test_bf16_run_resumes_bit_for_bit(task, tmp_path):
    whole = Trainer(_decoder(task), task, _cfg(steps=6, bf16=True, grad_accum=2), tmp_path / "whole", progress=False)
    whole.fit()
    first = Trainer(_decoder(task), task, _cfg(steps=3, bf16=True, grad_accum=2), tmp_path / "part", progress=False)
    first.fit()
    second = Trainer(_decoder(task), task, _cfg(steps=6, bf16=True, grad_accum=2), tmp_path / "part", progress=False)
    second.resume()
    second.fit()
    for (name, a), b in zip(whole.model.named_parameters(), second.model.parameters(), strict=True):
        assert torch.equal(a, b), name
    for a, b in zip(whole.mixed.compute.parameters(), second.mixed.compute.parameters(), strict=True):
        assert torch.equal(a, b)


# -- --bf16 auto -------------------------------------------------------------------------------------------
def test_bf16_auto_follows_the_measurement_on_the_runs_shape(monkeypatch):
    seen = []

    def probe(*shape):
        seen.append(shape)
        return answer

    monkeypatch.setattr(runtime, "bf16_matmul_pays", probe)
    for answer in (True, False):
        assert runtime.use_bf16("auto", (4096, 768, 3072)) is answer
    assert seen == [(4096, 768, 3072)] * 2
    answer = True
    assert not runtime.use_bf16("auto", (256, 32, 64))  # too small to time: fp32, not measured
    assert len(seen) == 2
    assert runtime.use_bf16("on", (256, 32, 64)) and not runtime.use_bf16("off", (4096, 768, 3072))


def test_train_config_probes_the_models_own_shape(monkeypatch):
    from transformer_catalog.train.setup import train_config

    seen = []
    monkeypatch.setattr(runtime, "use_bf16", lambda choice, probe=None: seen.append((choice, probe)) or True)
    cfg = get_config("transformer-tiny", N=1, d_model=512, d_ff=2048, h=8, vocab_size=100)
    assert train_config({"bf16": "auto", "max_tokens": 2048}, cfg).bf16 is True
    assert seen == [("auto", (2048, 512, 2048))]
    assert train_config({"bf16": False}, cfg).bf16 is False and len(seen) == 1


def test_bf16_probe_answers_a_bool():
    assert runtime.bf16_matmul_pays(64, 32, 32) in (True, False)


def test_tcat_train_says_it_trains_in_bf16_and_keeps_fp32_weights(tmp_path, capsys):
    from safetensors.torch import load_file

    from transformer_catalog.cli import main

    out = tmp_path / "run"
    args = ["train", "--task", "clm", "--data", "bible-sample", "--model", "GPT-2", "--scale", "tiny"]
    args += ["--out", str(out), "--steps", "2", "--max-tokens", "256", "--max-len", "64", "--eval-every", "0"]
    assert main([*args, "--bf16", "on", "--quiet", "--threads", "1"]) == 0
    assert "in bf16 (fp32 master weights)" in capsys.readouterr().out
    weights = load_file(str(out / "checkpoint" / "model.safetensors"))
    assert {t.dtype for t in weights.values()} == {torch.float32}  # the checkpoint holds the masters
