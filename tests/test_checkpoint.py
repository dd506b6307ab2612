"""Checkpoints are safetensors folders, written atomically, refused when corrupt or pickled,
and resuming after a SIGKILL gives weights bit-identical to a run that was never stopped."""

import json
import os
import random
import shutil
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
from transformer_catalog.train.checkpoint import load_model, load_training_state, recover, resolve, save_checkpoint


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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no temporary or aside folder left


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
    return subprocess.Popen(
        [sys.executable, "-m", "transformer_catalog.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


COMMON = ["--steps", "40", "--eval-every", "0", "--save-every", "5", "--quiet", "--threads", "1"]
RUNS = {
    "copy": [
        "train",
        "--task",
        "copy",
        "--model",
        "transformer-tiny",
        "--max-tokens",
        "300",
        "--warmup",
        "20",
        *COMMON,
    ],
    # a pretraining objective (random masks per batch) with AdamW, cosine decay, gradient accumulation
    "mlm": [
        "train",
        "--task",
        "mlm",
        "--data",
        "bible-sample",
        "--model",
        "BERT",
        "--scale",
        "tiny",
        "--vocab",
        "600",
        "--max-tokens",
        "1024",
        "--optimizer",
        "adamw",
        "--schedule",
        "cosine",
        "--lr",
        "1e-3",
        "--warmup",
        "5",
        "--grad-accum",
        "2",
        *COMMON,
    ],
}


@pytest.mark.parametrize("run", sorted(RUNS))
def test_resume_after_sigkill_is_bit_identical(run, tmp_path):
    TRAIN = RUNS[run]
    full = _tcat(*TRAIN, "--out", str(tmp_path / "full"))
    assert full.wait(timeout=300) == 0, full.stderr.read()

    killed = tmp_path / "killed"
    proc = _tcat(*TRAIN, "--out", str(killed))
    stop_after = random.Random(f"sigkill-{run}").randint(5, 30)  # a seeded step past the first checkpoint
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
    recover(killed / "checkpoint")  # the kill may have landed between the two renames of a save
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
    steps = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 40, "metrics must not repeat or skip steps"


# -- a save stopped at any instant leaves a complete checkpoint (issue 11.2, issue 22) ----------------


def _training_save(folder, model, step):
    """A training checkpoint whose every file says `step`: weights filled with it, trainer state, meta."""
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float(step))
    opt = torch.optim.Adam(model.parameters())
    save_checkpoint(
        folder, model, {"task": {"name": "none"}, "step": step}, optimizer=opt, trainer_state={"step": step}
    )


def _check_complete(folder) -> int:
    """Load the checkpoint the way --resume does; every part must belong to the same save."""
    ck = resolve(folder)
    model, meta, _ = load_model(ck)
    state, opt = load_training_state(ck)
    values = {float(p.detach().flatten()[0]) for p in model.parameters()}
    assert values == {float(meta["step"])} and state["step"] == meta["step"]
    assert opt["param_groups"]
    return meta["step"]


_PATCHED = ("rename", "replace", "unlink", "rmdir", "fsync", "mkdir")


def _save_stopped_at(folder, model, k) -> int:
    """In a forked child, count the save's file-system calls and os._exit(7) at the k-th
    (k = 0: never). Returns the child's exit status; the child reports the count on a pipe."""
    import shutil

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no pytest machinery from here on, only os._exit
        try:
            calls = [0]

            def stop(fn):
                def wrapped(*a, **kw):
                    calls[0] += 1
                    if calls[0] == k:
                        os._exit(7)
                    return fn(*a, **kw)

                return wrapped

            for name in _PATCHED:
                setattr(os, name, stop(getattr(os, name)))
            shutil.rmtree = stop(shutil.rmtree)
            _training_save(folder, model, 2)
            os.write(w, str(calls[0]).encode())
            os._exit(0)
        except BaseException:
            os._exit(3)
    os.close(w)
    count = os.read(r, 64)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return int(count) if code == 0 else -code if code != 7 else 7


def test_save_stopped_at_every_step_leaves_a_complete_checkpoint(tmp_path):
    """Stop the save at each of its renames, removals, syncs and mkdirs in turn (deterministic, so
    the window between the two renames is hit every time): the checkpoint is then found and
    complete -- the old one or the new one -- and no temporary folder is left behind."""
    model = _tiny()
    run = tmp_path / "run"
    run.mkdir()
    ck = run / "checkpoint"
    _training_save(ck, model, 1)
    steps = _save_stopped_at(ck, model, 0)
    assert steps >= 10 and _check_complete(run) == 2
    seen = []
    for k in range(1, steps + 1):
        _training_save(ck, model, 1)
        assert _save_stopped_at(ck, model, k) == 7, f"the save did not reach step {k}"
        seen.append(_check_complete(run))  # through the run folder, as --resume and evaluate do
        assert sorted(p.name for p in run.iterdir()) == ["checkpoint"], f"leftovers after step {k}"
    assert 1 in seen and 2 in seen, seen
    # the window that lost the run before: both renamed copies exist, the checkpoint name does not
    _training_save(ck, model, 1)
    pid = 2**22 + 17  # above pid_max's default: a writer that is certainly dead
    os.rename(ck, run / f"checkpoint.tcat-old-{pid}")
    _training_save(run / f"checkpoint.tcat-tmp-{pid}", model, 2)
    assert _check_complete(run) == 1
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint"]
    # the same window as earlier versions named it (the report): the aside is restored
    shutil.rmtree(ck)
    _training_save(run / f"checkpoint.old-{pid}", model, 1)
    assert _check_complete(run) == 1


@pytest.mark.parametrize("seed", range(6))
def test_seeded_kills_during_saves_leave_a_complete_checkpoint(tmp_path, seed):
    """A child saves checkpoints back to back (so nearly every instant is inside a save) and is
    SIGKILLed at a seeded moment; the checkpoint found afterwards is whole and one of the saved steps."""
    model = _tiny()
    ck = tmp_path / "checkpoint"
    _training_save(ck, model, 0)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            step = 1
            _training_save(ck, model, step)
            os.write(w, b"x")  # the first save is done: kills may start
            while True:
                step += 1
                _training_save(ck, model, step)
        except BaseException:
            os._exit(3)
    os.close(w)
    assert os.read(r, 1) == b"x"
    os.close(r)
    time.sleep(random.Random(seed).uniform(0.0, 0.4))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == -signal.SIGKILL, "the saving child died on its own"
    assert _check_complete(ck) >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_save_never_replaces_a_folder_with_user_files(tmp_path):
    """A save replaces its folder whole: it refuses one holding anything but checkpoint files."""
    model = _tiny()
    user = tmp_path / "thesis"
    user.mkdir()
    (user / "thesis.tex").write_text("my thesis")
    with pytest.raises(TcatError, match=r"not part of a checkpoint \(thesis.tex\)"):
        save_checkpoint(user, model, {})
    assert sorted(p.name for p in user.iterdir()) == ["thesis.tex"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]  # no temporary folder left either
    # a file, or a link to a folder, is refused; the link's target is untouched
    (tmp_path / "file").write_text("x")
    with pytest.raises(TcatError, match="not a checkpoint folder"):
        save_checkpoint(tmp_path / "file", model, {})
    (tmp_path / "link").symlink_to(user)
    with pytest.raises(TcatError):
        save_checkpoint(tmp_path / "link", model, {})
    assert (tmp_path / "file").read_text() == "x" and (user / "thesis.tex").read_text() == "my thesis"
    # an empty folder and an earlier checkpoint are fine
    (tmp_path / "empty").mkdir()
    save_checkpoint(tmp_path / "empty", model, {"task": {"name": "none"}})
    save_checkpoint(
        tmp_path / "empty",
        model,
        {"task": {"name": "none"}},
        optimizer=torch.optim.Adam(model.parameters()),
        trainer_state={"step": 1},
    )
    assert load_model(tmp_path / "empty")[1]["task"] == {"name": "none"}


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_training_killed_at_a_seeded_moment_while_saving_every_step_resumes_exactly(tmp_path, seed):
    """A real run saving every step (so most instants are inside a save), SIGKILLed at a seeded
    moment after its first checkpoint: --resume finds a whole checkpoint and ends bit-identical."""
    train = list(RUNS["copy"])
    train[train.index("--save-every") + 1] = "1"
    full = _tcat(*train, "--out", str(tmp_path / "full"))
    assert full.wait(timeout=600) == 0, full.stderr.read()
    killed = tmp_path / "killed"
    proc = _tcat(*train, "--out", str(killed))
    deadline = time.time() + 300
    while not (killed / "checkpoint" / "trainer_state.json").exists() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(random.Random(seed).uniform(0.0, 1.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = _tcat("train", "--resume", "--out", str(killed), "--quiet", "--threads", "1")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    a = load_file(str(tmp_path / "full" / "checkpoint" / "model.safetensors"))
    b = load_file(str(killed / "checkpoint" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert sorted(p.name for p in killed.iterdir() if p.name.startswith("checkpoint")) == ["checkpoint"]
