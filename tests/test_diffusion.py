"""DiT training on Fashion-MNIST through the one trainer (diffusion/training.py): the loss falls on real
images, resume is exact, sampling writes a PNG grid, scoring uses the shared metrics, and the CLI's bad
inputs end in one line, exit 2, nothing written."""

import os

import pytest
import torch

from transformer_catalog.data.images import FASHION_ROOT
from transformer_catalog.diffusion.training import DataSetting, DiTSetting, load_split, train
from transformer_catalog.train.config import TrainConfig

pytestmark = pytest.mark.skipif(
    not (FASHION_ROOT / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST missing: apt-get install dataset-fashion-mnist",
)

TINY = DiTSetting(image_size=28, patch_size=7, d_model=32, depth=2, heads=2)
DATA = DataSetting(n_train=512)


@pytest.fixture(scope="module")
def split():
    return load_split(DATA)


def _tc(steps, **kw):
    base = dict(steps=steps, max_tokens=32 * 16, optimizer="adamw", schedule="cosine", lr=3e-3, warmup=5,
                beta2=0.999, eps=1e-8, eval_every=0, save_every=0, clip=1.0)  # fmt: skip
    return TrainConfig(**{**base, **kw})


def _valid_loss(model, split, data=DATA):
    from transformer_catalog.diffusion.training import make_task
    from transformer_catalog.train.trainer import held_out_loss

    return held_out_loss(model, make_task(data, model.config, 32 * 16, split), 32 * 16)


def test_tiny_dit_loss_falls_on_real_images(split, tmp_path):
    from transformer_catalog.diffusion.training import dit_config, load_dit
    from transformer_catalog.nn import build_model

    torch.manual_seed(0)
    before = _valid_loss(build_model(dit_config(TINY)), split)
    assert abs(before - 1.0) < 0.05  # adaLN-Zero starts by predicting 0: the loss is E[eps^2] = 1
    train(TINY, DATA, _tc(80), tmp_path / "run", progress=False, split=split)
    model, meta = load_dit(tmp_path / "run")
    after = _valid_loss(model, split)
    assert after < 0.5 * before, (before, after)
    assert meta["task"]["name"] == "diffusion" and meta["task"]["patches"] == 16
    assert (tmp_path / "run" / "loss.png").is_file() and (tmp_path / "run" / "metrics.jsonl").is_file()


def test_resume_ends_where_the_uninterrupted_run_ends(split, tmp_path):
    from safetensors.torch import load_file

    train(TINY, DATA, _tc(8), tmp_path / "straight", progress=False, split=split)
    train(TINY, DATA, _tc(4), tmp_path / "split", progress=False, split=split)
    train(DiTSetting(), DataSetting(), _tc(8), tmp_path / "split", resume=True, progress=False, split=split)
    a = load_file(tmp_path / "straight" / "checkpoint" / "model.safetensors")
    b = load_file(tmp_path / "split" / "checkpoint" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["final.out.weight"], torch.zeros_like(a["final.out.weight"]))  # it trained


def test_class_dropout_uses_the_null_class_and_batches_are_a_function_of_their_key(split):
    from transformer_catalog.data.batching import batch_rng
    from transformer_catalog.diffusion.training import dit_config, make_task

    cfg = dit_config(DiTSetting(patch_size=7, d_model=32, depth=1, heads=2, class_dropout=0.5))
    task = make_task(DATA, cfg, 16 * 64, split)
    batch = task.collate(list(range(64)), key=7)
    again = task.objective.batch(list(range(64)), batch_rng(7))
    assert all(torch.equal(batch[k], again[k]) for k in batch)
    dropped = (batch["y"] == 10).float().mean().item()
    assert 0.3 < dropped < 0.7  # about half replaced by the null class (row 10)
    assert torch.equal(batch["y"][batch["y"] != 10], split["train"][1][:64][batch["y"] != 10])


def test_cli_trains_samples_a_png_grid_and_refuses_bad_inputs(tmp_path, capsys):
    from transformer_catalog.cli import main

    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        common = ["--n-train", "64", "--d-model", "32", "--depth", "1", "--heads", "2", "--patch", "7", "--batch", "16"]
        assert main(["diffusion", "train", "--out", "r", "--steps", "2", "--quiet", "--threads", "1", *common]) == 0
        assert main(["diffusion", "sample", "r", "--out", "g.png", "--steps", "2", "--per-class", "2"]) == 0
        assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        capsys.readouterr()
        before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        for argv, message in (
            (["sample", "r", "--out", "x.png", "--classes", "3,10"], "class label out of range"),
            (["sample", "r", "--out", "x.png", "--guidance", "-1"], "argument --guidance: .*out of range"),
            (["sample", "r", "--out", "x.png", "--steps", "0"], "argument --steps: .*out of range"),
            (["sample", "r", "--out", "x.png", "--steps", "1001"], "between 1 and 1000"),
            (["sample", "r", "--out", "x.jpg"], "name a .png file"),
            (["train", "--out", "new", "--image-size", "28", "--patch", "3"], "dit.patch_size: 3 does not divide"),
            (["train", "--out", "r"], "already holds a run"),
            (["train", "--out", "r", "--resume", "--depth", "3"], "--depth 3 given with --resume: the run has 1"),
            (["evaluate", "r", "--samples", "15"], "multiple of 10"),
        ):
            assert main(["diffusion", *argv]) == 2, argv
            err = capsys.readouterr().err
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
            import re

            assert re.search(message, err), (argv, err)
        assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written
    finally:
        os.chdir(old)


def test_another_kind_of_checkpoint_is_refused(tmp_path):
    from transformer_catalog.diffusion.training import load_dit
    from transformer_catalog.errors import TcatError
    from transformer_catalog.families import get_config
    from transformer_catalog.nn import build_model
    from transformer_catalog.train.checkpoint import save_checkpoint

    model = build_model(get_config("transformer-tiny"))
    save_checkpoint(tmp_path / "gpt", model, {})
    with pytest.raises(TcatError, match="another kind of model, not a DiT"):
        load_dit(tmp_path / "gpt")


def test_scores_use_the_shared_metrics(split):
    from transformer_catalog.diffusion.evaluate import score, scorer, to_pixels
    from transformer_catalog.diffusion.schedules import Schedule
    from transformer_catalog.diffusion.training import dit_config
    from transformer_catalog.metrics.classifier import Setting
    from transformer_catalog.nn import build_model

    judge = scorer(Setting(n_train=2000, epochs=1))
    model = build_model(dit_config(TINY)).eval()  # untrained: predicts 0 noise, so x0 = x_T / 1 clipped
    r = score(model, Schedule("linear"), judge, 20, 2, 1.0)
    assert r["n_samples"] == 20 and r["images"].shape == (20, 1, 28, 28)
    real = to_pixels(split["valid"][0][:20])
    assert judge.score(real, split["valid"][1][:20])["fid_cnn"] < r["fid_cnn"]  # noise is far from real images
