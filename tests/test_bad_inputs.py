"""The bad-input suite (issue 11): a table of (command line, environment, standard input, expected
message), each run in-process through `tcat`'s main(). Every case must end in exactly one line on
stderr, `tcat ...: error: ...` matching the expected message, exit code 2, no traceback, and must
leave every file of its sandbox as it was (nothing created, changed or deleted). Keep growing it:
one row per new way to get tcat wrong."""

from __future__ import annotations

import io
import json
import os
import re
import warnings

import pytest
from bad_input_cases import CASES

from transformer_catalog.cli import main


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A folder with runs and files of every kind the cases point at; the cases run inside it."""
    import torch

    from transformer_catalog.families import get_config
    from transformer_catalog.nn import build_model
    from transformer_catalog.train.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("bad-inputs")
    old = os.getcwd()
    os.chdir(root)
    os.environ["TCAT_CACHE"] = str(root / "cache")
    try:
        common = ["--steps", "1", "--eval-every", "0", "--quiet", "--threads", "1"]
        assert (
            main(
                [
                    "train",
                    "--data",
                    "bible-sample",
                    "--model",
                    "transformer-tiny",
                    "--out",
                    "run",
                    "--vocab",
                    "300",
                    "--max-tokens",
                    "1000",
                    "--set",
                    "position.max_len=64",
                    *common,
                ]
            )
            == 0
        )
        assert (
            main(
                [
                    "train",
                    "--task",
                    "mlm",
                    "--data",
                    "bible-sample",
                    "--model",
                    "BERT",
                    "--scale",
                    "tiny",
                    "--out",
                    "mlm",
                    "--vocab",
                    "300",
                    "--max-len",
                    "32",
                    "--max-tokens",
                    "256",
                    *common,
                ]
            )
            == 0
        )
        # a contrastive run's checkpoint: an encoder whose task is the contrastive objective
        enc = build_model(get_config("transformer-tiny", N=1, vocab_size=30).replace(arch="encoder"))
        save_checkpoint(
            root / "contrastive" / "checkpoint",
            enc,
            {"task": {"name": "objective", "objective": "contrastive", "data": "pairs.tsv"}, "train": {}},
        )
        dec = build_model(get_config("transformer-tiny", N=1, vocab_size=30).replace(arch="decoder"))
        save_checkpoint(
            root / "lm" / "checkpoint",
            dec,
            {"task": {"name": "objective", "objective": "clm", "data": "bible-sample"}, "train": {}},
        )
        save_checkpoint(
            root / "copyrun" / "checkpoint",
            build_model(get_config("transformer-tiny", N=1, vocab_size=30)),
            {"task": {"name": "copy", "n_symbols": 10, "length": 10}, "train": {}},
        )
        save_checkpoint(
            root / "built",
            build_model(get_config("transformer-tiny", N=1, vocab_size=30)),
            {"built_from": {"name": "transformer-tiny"}},
        )
        corrupt = save_checkpoint(root / "corrupt", build_model(get_config("transformer-tiny", N=1, vocab_size=30)), {})
        (corrupt / "model.safetensors").write_bytes(b"not safetensors")
        torch.save({"w": torch.zeros(1)}, root / "model.bin")
        (root / "file.txt").write_text("a regular file\n")
        (root / "user").mkdir()
        (root / "user" / "thesis.tex").write_text("\\documentclass{article}\n")
        (root / "empty").mkdir()
        (root / "link").symlink_to(root / "file.txt")
        os.mkfifo(root / "fifo")
        (root / "latin1.tsv").write_bytes("one\tuno\ncaf\xe9\tcaf\xe9\n".encode("latin-1"))
        (root / "ragged.tsv").write_text("one\tuno\ntwo\tdos\tzwei\textra\n" + "three\ttres\n" * 20)
        (root / "few.txt").write_text("one line\n\nanother\n")
        (root / "number.jsonl").write_text("1\n2\n")
        (root / "numtext.jsonl").write_text('{"text": 5}\n')
        (root / "initbad").mkdir()
        (root / "initbad" / "config.json").write_text('{"model_type": "be')
        # config-only Hugging Face folders (no weights): each setting is refused before any tensor is read
        tiny = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
        sliding_linear = {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4}
        for name, hf in {
            "hfbad": {"model_type": "gemma3_text", "attn_logit_softcapping": 50.0},
            "hfbad-rope": {
                "model_type": "gemma3_text",
                "rope_parameters": {"full_attention": {"rope_type": "default"}, "sliding_attention": sliding_linear},
            },
            "hfbad-quant": {"model_type": "deepseek_v3", "quantization_config": {"quant_method": "fp8"}},
        }.items():
            (root / name).mkdir()
            (root / name / "config.json").write_text(json.dumps({**tiny, "num_key_value_heads": 1, **hf}))
        (root / "index.db").write_text("")
        yield root
    finally:
        os.chdir(old)
        os.environ.pop("TCAT_CACHE", None)


def snapshot(root) -> dict:
    """Every path under root with what would show a change: kind, size, modification time, link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (
                st.st_mode,
                st.st_size if not os.path.isdir(p) else 0,
                st.st_mtime_ns,
                os.readlink(p) if os.path.islink(p) else None,
            )
    return out


def _ids(case):
    return case[0]


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(case, sandbox, capsys, monkeypatch):
    name, argv, pattern, *rest = case
    env = rest[0] if rest else {}
    stdin = rest[1] if len(rest) > 1 else b""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # main() sets it; restored after
    before = snapshot(sandbox)
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert re.match(r"tcat( [a-z]+)*: error: ", lines[0]), lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    assert snapshot(sandbox) == before, "the sandbox changed"


def test_the_suite_covers_every_command():
    from transformer_catalog.cli import parser

    commands = set(parser()._subparsers._group_actions[0].choices)
    covered = {c[1][0] for c in CASES}
    assert commands - covered == set(), f"commands without a bad-input case: {commands - covered}"
    assert len(CASES) >= 150


def test_every_option_has_help_with_its_default():
    """Issue 11.11: every option says what it does and its default (and, if numeric, its range)."""
    import argparse

    from transformer_catalog.cli import parser

    def parsers(p):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield sub
                    yield from parsers(sub)

    missing = []
    for sp in parsers(parser()):
        for a in sp._actions:
            if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) or not a.option_strings:
                continue
            text = a.help or ""
            if "default" not in text and "required" not in text:
                missing.append(f"{sp.prog} {a.option_strings[0]}")
            if getattr(a.type, "describe", None) and "range" not in text and a.type.describe() not in text:
                missing.append(f"{sp.prog} {a.option_strings[0]} (range)")
    assert missing == []


def test_resume_reads_config_json(sandbox):
    """The fixture's run records what it was told (what --resume compares against)."""
    meta = json.loads((sandbox / "run" / "checkpoint" / "config.json").read_text())
    assert meta["run"]["model"] == "transformer-tiny" and meta["run"]["world"] == 1
