"""Checkpoints are safetensors folders, written atomically, refused when corrupt or pickled,
and resuming after a SIGKILL gives weights bit-identical to a run that was never stopped."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from transformer_catalog.errors import TcatError
from transformer_catalog.families import get_config
from transformer_catalog.nn import build_model
from transformer_catalog.train.checkpoint import load_model, save_checkpoint


def _tiny():
    return build_model(get_config("transformer-tiny", N=1, d_model=32, d_ff=64, h=4, vocab_size=50))


def test_round_trip_keeps_tied_weights(tmp_path):
    model = _tiny().eval()
    save_checkpoint(tmp_path / "ck", model, {"task": {"name": "none"}})
    files = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert files == ["config.json", "model.safetensors"]
    loaded, meta, tok = load_model(tmp_path / "ck")
    assert loaded.head.weight is loaded.src_embed.tokens.weight is loaded.tgt_embed.tokens.weight
    src, tgt = torch.randint(1, 50, (2, 5)), torch.randint(1, 50, (2, 4))
    assert torch.equal(model(src, tgt), loaded(src, tgt))
    assert not list(tmp_path.glob("ck.tmp-*")) and not list(tmp_path.glob("ck.old-*"))


def test_corrupt_and_pickle_checkpoints_are_refused(tmp_path):
    model = _tiny()
    ck = save_checkpoint(tmp_path / "ck", model, {})
    (ck / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(TcatError, match="corrupt or not a safetensors file"):
        load_model(ck)
    pickle = tmp_path / "weights.pt"
    torch.save(model.state_dict(), pickle)
    with pytest.raises(TcatError, match="refusing to load a pickle"):
        load_model(pickle)
    with pytest.raises(TcatError, match="not a checkpoint folder"):
        load_model(tmp_path)


def test_missing_and_mismatched_tensors_are_named(tmp_path):
    from safetensors.torch import save_file

    ck = save_checkpoint(tmp_path / "ck", _tiny(), {})
    tensors = load_file(str(ck / "model.safetensors"))
    name = "encoder.blocks.0.ffn.up.weight"
    save_file({k: v for k, v in tensors.items() if k != name}, str(ck / "model.safetensors"))
    with pytest.raises(TcatError, match=f"tensor {name} is missing"):
        load_model(ck)
    tensors[name] = torch.zeros(3, 3)
    save_file(tensors, str(ck / "model.safetensors"))
    with pytest.raises(TcatError, match=f"tensor {name} has shape"):
        load_model(ck)


def _tcat(*args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    return subprocess.Popen([sys.executable, "-m", "transformer_catalog.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


COMMON = ["--steps", "40", "--eval-every", "0", "--save-every", "5", "--quiet", "--threads", "1"]
RUNS = {
    "copy": ["train", "--task", "copy", "--model", "transformer-tiny", "--max-tokens", "300", "--warmup", "20", *COMMON],
    # a pretraining objective (random masks per batch) with AdamW, cosine decay, gradient accumulation
    "mlm": ["train", "--task", "mlm", "--data", "bible-sample", "--model", "BERT", "--scale", "tiny", "--vocab", "600",
            "--max-tokens", "1024", "--optimizer", "adamw", "--schedule", "cosine", "--lr", "1e-3", "--warmup", "5",
            "--grad-accum", "2", *COMMON],
}


@pytest.mark.parametrize("run", sorted(RUNS))
def test_resume_after_sigkill_is_bit_identical(run, tmp_path):
    TRAIN = RUNS[run]
    full = _tcat(*TRAIN, "--out", str(tmp_path / "full"))
    assert full.wait(timeout=300) == 0, full.stderr.read()

    killed = tmp_path / "killed"
    proc = _tcat(*TRAIN, "--out", str(killed))
    stop_after = random.Random().randint(5, 30)  # a random step past the first checkpoint
    state = killed / "checkpoint" / "trainer_state.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if state.exists():
            try:
                if json.loads(state.read_text())["step"] >= stop_after:
                    break
            except (json.JSONDecodeError, FileNotFoundError):
                pass  # caught between rename steps: look again
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step_at_kill = json.loads(state.read_text())["step"]
    assert step_at_kill < 40, "training finished before it could be killed"

    resumed = _tcat("train", "--resume", "--out", str(killed), "--quiet", "--threads", "1")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"at step {step_at_kill}" in out

    a = load_file(str(tmp_path / "full" / "checkpoint" / "model.safetensors"))
    b = load_file(str(killed / "checkpoint" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume from step {step_at_kill}"
    steps = [json.loads(l)["step"] for l in (killed / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 40, "metrics must not repeat or skip steps"
