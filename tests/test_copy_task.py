"""The copy task: a small encoder-decoder trained here reaches 100% exact match on held-out data."""

import json

import torch

from transformer_catalog.data.synthetic import COPY_BOS, COPY_EOS, copy_examples
from transformer_catalog.families import get_config
from transformer_catalog.generate import generate
from transformer_catalog.nn import build_model
from transformer_catalog.train.tasks import make_copy_task
from transformer_catalog.train.trainer import TrainConfig, Trainer


def test_copy_task_reaches_exact_match(tmp_path):
    task = make_copy_task(n_symbols=10, length=10, n_train=20000, seed=0)
    cfg = get_config(
        "transformer-tiny", N=2, d_model=64, d_ff=128, h=4, dropout=0.0, vocab_size=task.vocab_size, max_len=32
    )
    model = build_model(cfg)
    # 600 steps reach 199/200 here (one sequence off, at 1 and 2 threads alike); 800 reach 200/200.
    train = TrainConfig(steps=800, max_tokens=640, warmup=100, label_smoothing=0.0, eval_every=0, save_every=0)
    Trainer(model, task, train, tmp_path, progress=False).fit()

    held_out = copy_examples(200, n_symbols=10, length=10, seed=12345)  # never seen in training
    assert not {tuple(s) for s, _ in held_out} & {tuple(s) for s, _ in task.train}
    src = torch.tensor([s + [COPY_EOS] for s, _ in held_out])
    out = generate(model.eval(), torch.full((200, 1), COPY_BOS), 11, src=src, eos_id=COPY_EOS)
    exact = sum(out[i, :10].tolist() == held_out[i][1] and out[i, 10].item() == COPY_EOS for i in range(200))
    assert exact == 200, f"exact match {exact}/200"

    # `tcat evaluate` on the run folder shows the same: every held-out sequence copied, with examples
    from transformer_catalog.cli import main

    assert main(["evaluate", str(tmp_path), "--json", str(tmp_path / "copy.json")]) == 0
    result = json.loads((tmp_path / "copy.json").read_text())
    assert result["exact_match"] == 1.0 and result["held_out_sequences"] == 200
    first = result["examples"][0]
    assert first["output"] == first["source"] + [COPY_EOS]
