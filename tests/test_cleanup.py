"""Cleanup items: runs that survive a kill mid-swap, atomic writes, terminal-safe catalog strings,
and the refusals and caches that used to trust their input."""

import json
import os

import pytest
import torch


def _dead_pid() -> int:
    """A process id that is not running (a writer that was killed)."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# -- a. a checkpoint swap killed between its two renames --------------------------------------------
def _copy_run(tmp_path):
    from transformer_catalog.cli import main

    out = tmp_path / "run"
    args = ["train", "--task", "copy", "--model", "transformer-tiny", "--out", str(out), "--steps", "2"]
    args += ["--max-tokens", "400", "--eval-every", "0", "--quiet", "--threads", "1"]
    assert main(args) == 0
    return out


def _kill_mid_swap(out):
    """What a save stopped after renaming the old checkpoint aside and before renaming the new one in
    leaves behind (files.swap_dir: F -> F.tcat-old-PID, then F.tcat-tmp-PID -> F)."""
    ckpt = out / "checkpoint"
    pid = _dead_pid()
    os.rename(ckpt, ckpt.with_name(f"checkpoint.tcat-old-{pid}"))
    (out / f"checkpoint.tcat-tmp-{pid}").mkdir()  # the half-written new version
    assert not ckpt.exists()


def test_resume_finds_a_checkpoint_left_aside_by_a_killed_swap(tmp_path, capsys):
    from transformer_catalog.cli import main

    out = _copy_run(tmp_path)
    _kill_mid_swap(out)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(out), "--steps", "3", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == f"resuming {out} at step 2"
    assert json.loads(lines[-1])["step"] == 3
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint")) == ["checkpoint"]


def test_a_fresh_run_is_refused_over_a_checkpoint_left_aside(tmp_path, capsys):
    from transformer_catalog.cli import main

    out = _copy_run(tmp_path)
    _kill_mid_swap(out)
    args = ["train", "--task", "copy", "--model", "transformer-tiny", "--out", str(out), "--steps", "2", "--quiet"]
    assert main(args) == 2
    assert "already holds a checkpoint" in capsys.readouterr().err
    assert json.loads((out / "checkpoint" / "trainer_state.json").read_text())["step"] == 2


# -- b. the metrics rewrite on --resume goes through files.write_text ---------------------------------
def test_resume_does_not_write_metrics_through_a_symlink(tmp_path, capsys):
    """The rewrite of metrics.jsonl on --resume is an atomic replace that refuses a path that is not a
    regular file; a plain write_text followed the link and overwrote the file it points at."""
    from transformer_catalog.cli import main

    out = _copy_run(tmp_path)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text('{"step": 1, "loss": 2.0}\n{"step": 9, "loss": 1.0}\n')
    (out / "metrics.jsonl").unlink()
    (out / "metrics.jsonl").symlink_to(elsewhere)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(out), "--steps", "3", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "metrics.jsonl" in err and len(err.strip().splitlines()) == 1
    assert elsewhere.read_text() == '{"step": 1, "loss": 2.0}\n{"step": 9, "loss": 1.0}\n'


# -- c. catalog strings on the terminal --------------------------------------------------------------
ESC_NAME = "ALBERT\x1b]0;pwned\x07\x1b[2J[bold]x[/bold]"


def _catalog_with_escapes():
    """The real catalog with one entry renamed to carry a window-title OSC, a clear-screen CSI and
    rich markup, as a hand-edited cache or a future field could deliver it."""
    from transformer_catalog.catalog.load import Catalog, Record, load_catalog

    cat = load_catalog()
    entry = next(e for e in cat.entries if e.name == "ALBERT")
    data = dict(entry._d, name=ESC_NAME)
    data["sizes"] = [dict(s._d if hasattr(s, "_d") else s, note="\x1b[31mred\x1b[0m") for s in entry._d["sizes"]]
    return Catalog(entries=[Record(data)], lineage=cat.lineage)


def test_list_names_strips_control_sequences(monkeypatch, capsys):
    from transformer_catalog.cli import catalog as cli_catalog
    from transformer_catalog.cli import main

    monkeypatch.setattr(cli_catalog, "catalog", _catalog_with_escapes)
    assert main(["list", "--names"]) == 0
    assert capsys.readouterr().out == "ALBERT[bold]x[/bold]\n"


@pytest.mark.parametrize("markdown", [False, True])
def test_verify_table_strips_control_sequences(monkeypatch, capsys, markdown):
    from transformer_catalog.cli import main
    from transformer_catalog.cli import models as cli_models

    monkeypatch.setattr(cli_models, "catalog", _catalog_with_escapes)
    assert main(["verify", *(["--markdown"] if markdown else [])]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    # the name is shown as written (markup included), not interpreted
    assert ("ALBERT\\[bold\\]x\\[/bold\\]" if markdown else "ALBERT[bold]x[/bold]") in out


# -- d. dispatch on explicit fields ---------------------------------------------------------------
def test_a_two_tower_checkpoint_is_refused_by_its_arch_field(tmp_path):
    """generate / evaluate refuse a CLIP-like checkpoint through DualEncoderConfig.arch (a class
    constant, never saved), not through a getattr default."""
    from dataclasses import asdict

    from transformer_catalog.cli.decode import refuse_encoder, run_kind
    from transformer_catalog.errors import TcatError
    from transformer_catalog.families.clip import config_from_hf

    cfg = config_from_hf({})
    assert cfg.arch == "dual encoder" and "arch" not in asdict(cfg)
    meta = {"task": {"name": "contrastive"}}
    assert run_kind(meta, cfg) == "a run trained with --task contrastive (dual encoder)"
    with pytest.raises(TcatError, match=r"\(dual encoder\) does not generate text"):
        refuse_encoder(tmp_path, meta, cfg, "generate")


def test_fsdp_and_ddp_are_told_apart_by_type():
    from transformer_catalog.train import distributed

    class LooksSharded(torch.nn.Linear):  # a module that merely has the methods is not FSDP/DDP
        def set_requires_gradient_sync(self, flag):
            raise AssertionError("called on a module that is not sharded")

        def no_sync(self):
            raise AssertionError("called on a module that is not DDP")

    m = LooksSharded(2, 2)
    assert not distributed.is_sharded(m)
    with distributed.no_sync(m, last=False):
        pass


# -- f. spec.layout is the only name ---------------------------------------------------------------
def test_spec_family_is_no_longer_an_alias_of_layout():
    from pydantic import ValidationError

    from transformer_catalog.catalog.schema import Spec
    from transformer_catalog.catalog.specs import build_config

    raw = {"layout": "config", "args": {"n_encoder_layers": 3}, "counting": "all", "variants": {"base": {}}}
    spec = Spec.model_validate(raw).model_dump(mode="json")
    assert "family" not in spec and spec["layout"] == "config"
    assert build_config(spec, "base").n_encoder_layers == 3  # read through spec["layout"]
    with pytest.raises(ValidationError, match="family"):
        Spec.model_validate({"family": "bert", "counting": "all"})


# -- g. streaming lives in generate.py -------------------------------------------------------------
def test_stream_text_yields_each_piece_once_it_decodes():
    """A piece is shown only when it becomes decodable (a tokenizer that needs two tokens per
    character, like byte-level BPE for non-ASCII), and the pieces add up to the greedy decode."""
    from types import SimpleNamespace

    from transformer_catalog.generate import generate, stream_text, strip_after_eos
    from transformer_catalog.nn import ModelConfig, build_model

    torch.manual_seed(0)
    cfg = ModelConfig(arch="decoder", d_model=32, n_decoder_layers=2, dropout=0.0)
    cfg = cfg.replace(**{"embedding.vocab_size": 40})
    model = build_model(cfg).eval()

    def decode(ids):  # two tokens make one character; a trailing odd token is not decodable yet
        return "".join(chr(0x3B1 + (a + b) % 20) for a, b in zip(ids[::2], ids[1::2]))

    start = torch.tensor([[5]])
    ids = strip_after_eos(generate(model, start, 12)[0].tolist(), None)
    assert len(ids) == 12
    eos = ids[-1] if ids[-1] not in ids[:-1] else None  # stop early when the last token is unique
    tok = SimpleNamespace(eos_id=eos, decode=decode)
    with torch.no_grad():
        pieces = list(stream_text(model, tok, start, 12))
    kept = strip_after_eos(ids, eos)
    assert "".join(pieces) == decode(kept)
    assert len(pieces) == len(kept) // 2 and all(len(p) == 1 for p in pieces)


# -- h. the lineage roots `tcat tree` prints are accepted as its ROOT --------------------------------
@pytest.mark.parametrize("root", ["RNN", "LSTM", "lstm"])
def test_tcat_tree_starts_at_a_lineage_root(capsys, root):
    from transformer_catalog.cli import main

    assert main(["tree", root]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == root.upper()
    assert any("Transformer 2017" in line for line in lines[1:3])  # the entries that grew from it
