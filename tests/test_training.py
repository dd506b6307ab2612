import math

import pytest
import torch

from transformer_catalog.data import bible
from transformer_catalog.data.batching import collate_seq2seq, length_grouped_batches
from transformer_catalog.data.tokenizer import Tokenizer, train_bpe
from transformer_catalog.families import get_config
from transformer_catalog.nn import build_model
from transformer_catalog.train.tasks import make_translation_task
from transformer_catalog.train.trainer import TrainConfig, Trainer, inverse_sqrt_lr


def test_inverse_sqrt_schedule_is_the_papers_equation_3():
    d, warmup = 512, 4000
    # Linear warmup, peak at step = warmup, then step^-0.5 decay.
    assert inverse_sqrt_lr(1, d, warmup) == pytest.approx(d**-0.5 * warmup**-1.5)
    assert inverse_sqrt_lr(warmup, d, warmup) == pytest.approx(d**-0.5 * warmup**-0.5)
    assert inverse_sqrt_lr(4 * warmup, d, warmup) == pytest.approx(inverse_sqrt_lr(warmup, d, warmup) / 2)
    peak = max(range(1, 20000, 7), key=lambda s: inverse_sqrt_lr(s, d, warmup))
    assert abs(peak - warmup) <= 7


def test_trainer_uses_adam_with_the_papers_betas_and_eps(tmp_path):
    task = make_translation_task("bible-sample", vocab_size=400, max_len=128)
    model = build_model(get_config("transformer-tiny", N=1, vocab_size=task.vocab_size))
    opt = Trainer(model, task, TrainConfig(), tmp_path, progress=False).optimizer
    assert isinstance(opt, torch.optim.Adam)
    assert opt.param_groups[0]["betas"] == (0.9, 0.98) and opt.param_groups[0]["eps"] == 1e-9
    assert TrainConfig().label_smoothing == 0.1


def test_label_smoothing_changes_the_target_distribution():
    task = make_translation_task("bible-sample", vocab_size=400, max_len=128)
    model = build_model(get_config("transformer-tiny", N=1, dropout=0.0, vocab_size=task.vocab_size)).eval()
    batch = task.collate(task.train[:4])
    plain, n = task.loss(model, batch, 0.0)
    smooth, _ = task.loss(model, batch, 0.1)
    logits = model(batch["src"], batch["tgt_in"]).view(-1, task.vocab_size)
    keep = batch["labels"].view(-1) != task.pad_id
    logp = logits[keep].log_softmax(-1)
    expected = 0.9 * plain + 0.1 * (-logp.mean(-1)).mean()
    assert smooth.item() == pytest.approx(expected.item(), rel=1e-5)
    assert n == int(keep.sum())


def test_length_grouped_batches_are_deterministic_and_grouped():
    rng = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 60, (2000,), generator=rng).tolist()
    examples = [([1] * n, [1] * n) for n in lengths]
    a = length_grouped_batches(examples, 512, seed=1, epoch=0)
    assert a == length_grouped_batches(examples, 512, seed=1, epoch=0)
    assert a != length_grouped_batches(examples, 512, seed=1, epoch=1)
    assert sorted(i for b in a for i in b) == list(range(2000))
    for b in a:
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 512
    # Grouping: padding is far below what random batches of the same sizes would need.
    waste = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in a)
    assert waste < 0.1 * sum(lengths)


def test_collate_shifts_the_target_by_one():
    batch = collate_seq2seq([([5, 6], [7, 8, 9]), ([5], [7])], pad_id=0, bos_id=1, eos_id=2)
    assert batch["src"].tolist() == [[5, 6, 2], [5, 2, 0]]
    assert batch["tgt_in"].tolist() == [[1, 7, 8, 9], [1, 7, 0, 0]]
    assert batch["labels"].tolist() == [[7, 8, 9, 2], [7, 2, 0, 0]]


def test_shared_bpe_round_trips_both_languages(tmp_path):
    pairs = bible.load_sample()
    tok = train_bpe([p.src for p in pairs] + [p.tgt for p in pairs], 600)
    assert (tok.pad_id, tok.bos_id, tok.eos_id) == (0, 1, 2)
    for text in (pairs[0].src, pairs[0].tgt, "¿Qué dijo? ¡Ñandú!"):
        assert tok.decode(tok.encode(text)) == text
    tok.save(tmp_path / "tokenizer.json")
    assert Tokenizer.load(tmp_path / "tokenizer.json").encode(pairs[1].tgt) == tok.encode(pairs[1].tgt)


def test_sample_splits_hold_out_whole_books():
    splits = bible.split_by_book(bible.load_sample())
    books = {k: {p.book for p in v} for k, v in splits.items()}
    assert books["test"] == set(bible.TEST_BOOKS) and books["valid"] == set(bible.VALID_BOOKS)
    assert not books["train"] & (books["test"] | books["valid"])
    john = [p for p in bible.load_sample() if p.ref == "John 1:1"][0]
    assert john.src.startswith("In the beginning was the Word") and john.tgt.startswith("EN el principio era el Verbo")


def test_translation_loss_falls_on_real_verses(tmp_path):
    torch.manual_seed(0)
    task = make_translation_task("bible-sample", vocab_size=500, max_len=160)
    model = build_model(get_config("transformer-tiny", N=1, d_model=64, d_ff=128, h=4, vocab_size=task.vocab_size))
    trainer = Trainer(
        model,
        task,
        TrainConfig(steps=60, max_tokens=1500, warmup=30, eval_every=0, save_every=0),
        tmp_path,
        progress=False,
    )
    before = trainer.evaluate()
    trainer.fit()
    after = trainer.evaluate()
    assert after < before - 0.5, (before, after)
    assert math.isfinite(after)


def test_cosine_schedule_warms_up_then_decays_to_the_floor():
    from transformer_catalog.train.trainer import cosine_lr

    cfg = TrainConfig(steps=1000, warmup=100, lr=1e-3, min_lr=0.1, schedule="cosine")
    assert cosine_lr(50, cfg) == pytest.approx(5e-4)
    assert cosine_lr(100, cfg) == pytest.approx(1e-3)
    assert cosine_lr(550, cfg) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))
    assert cosine_lr(1000, cfg) == pytest.approx(1e-4)
    lrs = [cosine_lr(s, cfg) for s in range(100, 1001)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_gradient_accumulation_averages_micro_batches(tmp_path):
    """Two micro-batches per step: the optimizer sees the gradient of their mean loss (checked before
    the step, since Adam's update hardly depends on the gradient's scale) and the log shows that mean."""
    import json

    from transformer_catalog.nn import ModelConfig
    from transformer_catalog.train.tasks import make_objective_task

    task = make_objective_task("clm", "bible-sample", vocab_size=400, max_len=32)
    cfg = get_config("transformer-tiny", N=1, vocab_size=task.vocab_size)
    dec = ModelConfig.from_dict({**cfg.to_dict(), "arch": "decoder", "n_encoder_layers": 0, "dropout": 0.0})
    torch.manual_seed(0)
    model = build_model(dec)
    ref = build_model(dec)
    ref.load_state_dict(model.state_dict())
    tc = TrainConfig(
        steps=1, grad_accum=2, optimizer="adamw", schedule="cosine", warmup=1, max_tokens=64, eval_every=0, save_every=0
    )
    trainer = Trainer(model, task, tc, tmp_path, progress=False)
    seen = {}
    step = trainer.optimizer.step
    trainer.optimizer.step = lambda: (seen.update({n: p.grad.clone() for n, p in model.named_parameters()}), step())[1]
    trainer.fit()

    batches = task.batches(task.train, 64, 0, 0)
    loss = sum(task.loss(ref, task.collate([task.train[j] for j in batches[i]], key=i))[0] for i in range(2)) / 2
    loss.backward()
    for n, p in ref.named_parameters():
        assert torch.allclose(p.grad, seen[n], atol=1e-6), n
    logged = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])["loss"]
    assert logged == pytest.approx(loss.item(), abs=1e-4)


# -- tcat train --resume: what it honours (the refusals are rows of tests/test_bad_inputs.py) -------------
def _copy_run(tmp_path, *extra):
    """A 2-step copy-task run, trained in-process through tcat's main()."""
    from transformer_catalog.cli import main

    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--task",
                "copy",
                "--model",
                "transformer-tiny",
                "--out",
                str(out),
                "--steps",
                "2",
                "--max-tokens",
                "400",
                "--eval-every",
                "0",
                "--quiet",
                "--threads",
                "1",
                *extra,
            ]
        )
        == 0
    )
    return out


def _edit_json(path, change):
    import json

    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_resume_minutes_is_this_invocations_budget(tmp_path, capsys):
    """--minutes on --resume counts this invocation's time only: a run that already spent 3 hours
    still trains its steps within a new 1-minute budget (it used to stop after one step)."""
    import json

    from transformer_catalog.cli import main

    out = _copy_run(tmp_path)
    _edit_json(out / "checkpoint" / "trainer_state.json", lambda s: s.update(elapsed=3 * 3600.0))
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(out), "--steps", "5", "--minutes", "1", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["step"] == 5
    meta = json.loads((out / "checkpoint" / "config.json").read_text())
    assert meta["train"]["max_minutes"] == 1 and meta["train"]["steps"] == 5


def test_resume_accepts_the_same_model_and_task_and_honours_steps(tmp_path, capsys):
    import json

    from transformer_catalog.cli import main

    out = _copy_run(tmp_path)
    capsys.readouterr()
    assert (
        main(
            [
                "train",
                "--resume",
                "--out",
                str(out),
                "--model",
                "transformer-tiny",
                "--task",
                "copy",
                "--steps",
                "3",
                "--eval-every",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == f"resuming {out} at step 2"
    assert json.loads(lines[-1])["step"] == 3


def test_resume_on_fewer_processes_keeps_the_global_batch(tmp_path, capsys):
    """A run of 2 processes x 2 micro-batches resumed on 1 process accumulates 4 micro-batches, so
    every step still sees the same global batch (it used to see half of it)."""
    import json

    from transformer_catalog.cli import main
    from transformer_catalog.errors import TcatError
    from transformer_catalog.train.setup import global_batch_accum

    out = _copy_run(tmp_path, "--grad-accum", "2")

    def two_processes(meta):
        meta["run"]["world"] = 2

    _edit_json(out / "checkpoint" / "config.json", two_processes)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(out), "--steps", "3", "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "resuming a 2-process run on 1: --grad-accum 2 -> 4 keeps the global batch of 4 micro-batches" in said
    meta = json.loads((out / "checkpoint" / "config.json").read_text())
    assert meta["train"]["grad_accum"] == 4 and meta["run"]["world"] == 1

    run = {"run": {"world": 2}, "train": {"grad_accum": 3}}
    assert global_batch_accum(run, None, 1) == (
        6,
        "resuming a 2-process run on 1: --grad-accum 3 -> 6 keeps the global batch of 6 micro-batches",
    )
    assert global_batch_accum(run, None, 3)[0] == 2
    assert global_batch_accum(run, 6, 1) == (6, "")
    with pytest.raises(TcatError, match="cannot be split over 4 processes"):
        global_batch_accum(run, None, 4)
    with pytest.raises(TcatError, match="--grad-accum 2 on 1 process"):
        global_batch_accum(run, 2, 1)


def test_train_flags_come_from_the_dataclasses():
    """Each training option is written once (train/config.py): every TrainConfig and RunOptions field is a
    `tcat train` flag with its default and range in the help, and the parsed values fill the dataclass."""
    import dataclasses

    from transformer_catalog.cli import parser
    from transformer_catalog.cli.options import given
    from transformer_catalog.train.config import RunOptions

    p = parser("train")
    args = p.parse_args(
        [
            "train",
            "--out",
            "o",
            "--minutes",
            "2.5",
            "--grad-accum",
            "3",
            "--bf16",
            "--set",
            "a=1",
            "--set",
            "b=2",
            "--dropout",
            "0.25",
        ]
    )
    assert given(args, TrainConfig) == {"max_minutes": 2.5, "grad_accum": 3, "bf16": "on"}
    assert given(args, RunOptions) == {"out": "o", "set": ["a=1", "b=2"], "dropout": 0.25}
    help_text = p._subparsers._group_actions[0].choices["train"].format_help()
    for f in dataclasses.fields(TrainConfig) + dataclasses.fields(RunOptions):
        flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
        assert flag in help_text, flag
    assert "--warmup N" in help_text and "(default 4000; range [1, 1e9]" in " ".join(help_text.split())
