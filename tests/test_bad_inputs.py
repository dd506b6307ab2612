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

from transformer_catalog.cli import main

BAD_UTF8 = b"caf\xe9 \xff\xfe".decode("utf-8", "surrogateescape")  # how Python hands over non-UTF-8 argv


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
        assert main(["train", "--data", "bible-sample", "--model", "transformer-tiny", "--out", "run", "--vocab", "300",
                     "--max-tokens", "1000", "--set", "position.max_len=64", *common]) == 0
        assert main(["train", "--task", "mlm", "--data", "bible-sample", "--model", "BERT", "--scale", "tiny",
                     "--out", "mlm", "--vocab", "300", "--max-len", "32", "--max-tokens", "256", *common]) == 0
        # a contrastive run's checkpoint: an encoder whose task is the contrastive objective
        enc = build_model(get_config("transformer-tiny", N=1, vocab_size=30).replace(arch="encoder"))
        save_checkpoint(root / "contrastive" / "checkpoint", enc,
                        {"task": {"name": "objective", "objective": "contrastive", "data": "pairs.tsv"}, "train": {}})
        dec = build_model(get_config("transformer-tiny", N=1, vocab_size=30).replace(arch="decoder"))
        save_checkpoint(root / "lm" / "checkpoint", dec, {"task": {"name": "objective", "objective": "clm",
                                                                   "data": "bible-sample"}, "train": {}})
        save_checkpoint(root / "copyrun" / "checkpoint", build_model(get_config("transformer-tiny", N=1, vocab_size=30)),
                        {"task": {"name": "copy", "n_symbols": 10, "length": 10}, "train": {}})
        save_checkpoint(root / "built", build_model(get_config("transformer-tiny", N=1, vocab_size=30)),
                        {"built_from": {"name": "transformer-tiny"}})
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
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_size if not os.path.isdir(p) else 0, st.st_mtime_ns,
                                             os.readlink(p) if os.path.islink(p) else None)
    return out


# (id, argv, expected message regex[, env, stdin bytes]); paths are relative to the sandbox
CASES = [
    # -- usage: commands and subcommands ----------------------------------------------------------------
    ("no-such-command", ["nonsense"], r"invalid choice: 'nonsense'"),
    ("site-no-subcommand", ["site"], r"tcat site: error: the following arguments are required: COMMAND"),
    ("catalog-no-subcommand", ["catalog"], r"tcat catalog: error: the following arguments are required: COMMAND"),
    ("list-unknown-flag", ["list", "--bogus"], r"unrecognized arguments: --bogus"),
    ("configs-extra-argument", ["configs", "x"], r"unrecognized arguments: x"),
    ("train-without-out", ["train"], r"required: --out"),
    ("export-format", ["export", "--format", "yaml"], r"argument --format: invalid choice: 'yaml'"),
    ("list-sort", ["list", "--sort", "size"], r"argument --sort: invalid choice: 'size'"),
    ("evaluate-split", ["evaluate", "run", "--split", "train"], r"argument --split: invalid choice"),
    ("vision-data", ["vision", "--data", "mnist"], r"argument --data: invalid choice: 'mnist'"),
    ("vision-model", ["vision", "--model", "rnn"], r"argument --model: invalid choice: 'rnn'"),
    ("build-scale", ["build", "BERT", "--scale", "huge"], r"argument --scale: invalid choice: 'huge'"),
    ("train-scale", ["train", "--out", "o", "--scale", "huge"], r"argument --scale: invalid choice: 'huge'"),
    ("train-optimizer", ["train", "--out", "o", "--optimizer", "sgd"], r"argument --optimizer: invalid choice"),
    ("train-schedule", ["train", "--out", "o", "--schedule", "linear"], r"argument --schedule: invalid choice"),
    ("train-bf16", ["train", "--out", "o", "--bf16", "maybe"], r"argument --bf16: invalid choice: 'maybe'"),
    # -- numeric ranges: training ----------------------------------------------------------------------
    *[(f"train{flag}={value}", ["train", "--out", "o", flag, value], rf"argument {flag}: .*{expect}")
      for flag, value, expect in [
          ("--steps", "0", r"out of range: must be an integer in \[1,"), ("--steps", "-1", "out of range"),
          ("--steps", "abc", "'abc' is not an integer"), ("--steps", "1.5", "'1.5' is not an integer"),
          ("--steps", "1e400", "is not an integer"),
          ("--minutes", "-1", r"out of range: must be a number in \[0,"), ("--minutes", "nan", "not a finite number"),
          ("--minutes", "inf", "not a finite number"), ("--max-tokens", "0", "out of range"),
          ("--lr-scale", "0", r"must be a number in \(0,"), ("--warmup", "0", r"must be an integer in \[1,"),
          ("--warmup", "-5", "out of range"), ("--beta1", "1", r"\[0, 1\)"), ("--beta2", "-0.1", "out of range"),
          ("--eps", "0", r"\(0, 1\)"), ("--label-smoothing", "2", r"\[0, 1\)"), ("--label-smoothing", "1", r"\[0, 1\)"),
          ("--clip", "-1", "out of range"), ("--weight-decay", "-1", "out of range"), ("--lr", "-1", r"\(0, 10\]"),
          ("--lr", "0", r"\(0, 10\]"), ("--min-lr", "2", r"\[0, 1\]"), ("--grad-accum", "0", "out of range"),
          ("--eval-every", "-1", "out of range"), ("--save-every", "-5", "out of range"),
          ("--seed", "-1", "out of range"), ("--seed", "1e3", "is not an integer"), ("--max-len", "-1", "out of range"),
          ("--vocab", "-1", "out of range"), ("--dropout", "1", r"\[0, 1\)"), ("--dropout", "-0.5", "out of range"),
          ("--threads", "512", r"out of range: must be an integer in \[0, \d+\]"), ("--threads", "-1", "out of range"),
      ]],
    # -- numeric ranges: decoding and the applications --------------------------------------------------
    *[(f"{cmd}{flag}={value}", [cmd, *pos, flag, value], rf"argument {flag}: .*{expect}")
      for cmd, pos in (("translate", ["run", "hello"]), ("generate", ["run", "hello"]))
      for flag, value, expect in [
          ("--beam", "0", r"\[1, 64\]"), ("--beam", "65", r"\[1, 64\]"), ("--alpha", "-1", "out of range"),
          ("--alpha", "nan", "not a finite number"), ("--temperature", "-1", "out of range"),
          ("--top-k", "-1", "out of range"), ("--top-p", "0", r"\(0, 1\]"), ("--top-p", "2", r"\(0, 1\]"),
          ("--max-new-tokens", "0", "out of range"), ("--threads", "512", "out of range"),
      ]],
    ("generate-seed", ["generate", "run", "x", "--seed", "-1"], r"argument --seed: .*out of range"),
    ("evaluate-beam", ["evaluate", "run", "--beam", "0"], r"argument --beam: .*out of range"),
    ("evaluate-limit", ["evaluate", "run", "--limit", "-1"], r"argument --limit: .*out of range"),
    ("vision-epochs", ["vision", "--epochs", "0"], r"argument --epochs: .*\(0, "),
    ("vision-batch", ["vision", "--batch", "0"], r"argument --batch: .*out of range"),
    ("vision-lr", ["vision", "--lr", "0"], r"argument --lr: .*out of range"),
    ("vision-minutes", ["vision", "--minutes", "-1"], r"argument --minutes: .*out of range"),
    ("vision-seed", ["vision", "--seed", "-3"], r"argument --seed: .*out of range"),
    ("classify-epochs", ["classify", "--epochs", "-1"], r"argument --epochs: .*out of range"),
    ("classify-lr", ["classify", "--lr", "-1"], r"argument --lr: .*out of range"),
    ("classify-max-len", ["classify", "--max-len", "0"], r"argument --max-len: .*out of range"),
    ("classify-max-len-huge", ["classify", "--max-len", "100000"], r"argument --max-len: .*out of range"),
    ("classify-threads", ["classify", "--threads", "512"], r"argument --threads: .*out of range"),
    ("search-k-0", ["search", "x", "--k", "0"], r"argument --k: .*out of range"),
    ("search-k-huge", ["search", "x", "--k", "5000"], r"argument --k: .*out of range"),
    ("index-threads", ["index", "--threads", "-2"], r"argument --threads: .*out of range"),
    ("params-vocab", ["params", "--vocab", "-1"], r"argument --vocab: .*out of range"),
    ("build-seed", ["build", "BERT", "--seed", "-1"], r"argument --seed: .*out of range"),
    ("serve-port-huge", ["site", "serve", "--port", "99999"], r"argument --port: .*\[0, 65535\]"),
    ("serve-port-negative", ["site", "serve", "--port", "-1"], r"argument --port: .*out of range"),
    ("serve-port-text", ["site", "serve", "--port", "http"], r"argument --port: 'http' is not an integer"),
    ("list-min-params-overflow", ["list", "--min-params", "1e400"], r"argument --min-params: .*too large"),
    ("list-max-params-overflow", ["list", "--max-params", "1e999"], r"argument --max-params: .*too large"),
    ("list-min-params-text", ["list", "--min-params", "lots"], r"argument --min-params: .*expected a number"),
    # -- catalog values --------------------------------------------------------------------------------
    ("list-after", ["list", "--after", "20"], r"--after '20': expected a year"),
    ("list-before-month", ["list", "--before", "2020-13"], r"--before '2020-13': expected a year"),
    ("list-arch", ["list", "--arch", "recurrent"], r"--arch 'recurrent': use one of"),
    ("list-license", ["list", "--license", "free"], r"--license 'free': use one of"),
    ("timeline-after", ["timeline", "--after", "soon"], r"--after 'soon'"),
    ("show-unknown", ["show", "BRET"], r"unknown model 'BRET'; did you mean 'BERT'"),
    ("verify-unknown", ["verify", "GTP-9"], r"unknown model 'GTP-9'"),
    ("verify-no-spec", ["verify", "GPT-4"], r"GPT-4 has no architecture spec"),
    ("params-unknown", ["params", "transformer-bse"], r"unknown model config 'transformer-bse'"),
    ("lint-missing-folder", ["catalog", "lint", "--models", "nowhere"], r"--models nowhere: no such folder"),
    ("lint-file", ["catalog", "lint", "--models", "file.txt"], r"--models file.txt: not a folder"),
    ("lint-empty-folder", ["catalog", "lint", "--models", "empty"], r"--models empty: no entry files"),
    # -- output paths ----------------------------------------------------------------------------------
    ("export-out-proc", ["export", "--out", "/proc/x"], r"/proc/x: cannot write"),
    ("export-out-in-file", ["export", "--out", "file.txt/x"], r"file.txt/x: cannot write, file.txt is not a folder"),
    ("export-out-dot", ["export", "--out", "."], r"exists and is a folder"),
    ("export-out-folder", ["export", "--out", "user"], r"user: exists and is a folder"),
    ("export-out-symlink", ["export", "--out", "link"], r"link: exists and is a symbolic link"),
    ("export-out-fifo", ["export", "--out", "fifo"], r"fifo: exists and is a fifo"),
    ("export-out-missing-dir", ["export", "--out", "nowhere/x.json"], r"nowhere does not exist"),
    ("site-build-user-folder", ["site", "build", "user"], r"user is a non-empty folder tcat did not create.*--force"),
    ("site-build-onto-file", ["site", "build", "file.txt"], r"file.txt: exists and is not a folder"),
    ("site-build-in-file", ["site", "build", "file.txt/site"], r"file.txt/site: cannot create folder"),
    ("site-build-proc", ["site", "build", "/proc/site"], r"/proc/site: cannot create folder"),
    ("site-serve-user-folder", ["site", "serve", "user"], r"user is a non-empty folder tcat did not create"),
    ("site-serve-file", ["site", "serve", "file.txt"], r"file.txt: exists and is not a folder"),
    ("pictures-onto-file", ["pictures", "--out", "file.txt"], r"file.txt: exists and is not a folder"),
    ("pictures-user-folder", ["pictures", "--out", "user"], r"user is a non-empty folder tcat did not create"),
    ("build-out-file", ["build", "transformer-tiny", "--out", "file.txt"], r"file.txt: exists and is not a folder"),
    ("build-out-user-folder", ["build", "transformer-tiny", "--out", "user"], r"user is a non-empty folder.*--force"),
    ("build-out-in-file", ["build", "transformer-tiny", "--out", "file.txt/m"], r"file.txt/m: cannot create folder"),
    ("verify-json-dir", ["verify", "BERT", "--json", "user"], r"user: exists and is not a regular file"),
    ("verify-json-missing-dir", ["verify", "BERT", "--json", "nowhere/v.json"], r"nowhere is not an existing folder"),
    ("verify-json-link", ["verify", "BERT", "--json", "link"], r"link: exists and is not a regular file"),
    ("evaluate-json-dir", ["evaluate", "run", "--json", "user"], r"user: exists and is not a regular file"),
    ("classify-json-in-file", ["classify", "--json", "file.txt/r.json"], r"file.txt is not an existing folder"),
    ("vision-json-fifo", ["vision", "--json", "fifo"], r"fifo: exists and is not a regular file"),
    ("index-json-dir", ["index", "--json", "empty", "--evaluate"], r"empty: exists and is not a regular file"),
    ("index-uri-suffix", ["index", "--uri", "kjv.txt"], r"--uri kjv.txt: a Milvus Lite file must end in .db"),
    ("index-uri-in-file", ["index", "--uri", "file.txt/kjv.db"], r"file.txt is a file, not a folder"),
    ("index-uri-folder", ["index", "--uri", "user"], r"--uri user: a Milvus Lite file must end in .db"),
    ("index-tfidf-needs-evaluate", ["index", "--encoder", "tfidf"], r"--encoder tfidf is an evaluation baseline"),
    ("train-out-file", ["train", "--task", "copy", "--out", "file.txt"], r"--out file.txt: exists and is not a folder"),
    ("train-out-in-file", ["train", "--task", "copy", "--out", "file.txt/run"], r"file.txt is a file, not a folder"),
    ("train-out-user-folder", ["train", "--task", "copy", "--out", "user"], r"non-empty folder tcat did not create"),
    ("train-out-existing-run", ["train", "--task", "copy", "--out", "run"], r"already holds a checkpoint.*--resume"),
    ("train-out-proc", ["train", "--task", "copy", "--model", "transformer-tiny", "--steps", "1", "--out", "/proc/run"],
     r"/proc/run: cannot create folder"),
    # -- models and tasks ------------------------------------------------------------------------------
    ("build-unknown", ["build", "transformer-bse"], r"unknown model config 'transformer-bse'.*transformer-base"),
    ("build-no-spec", ["build", "GPT-4"], r"GPT-4 has no architecture spec"),
    ("build-bad-variant", ["build", "BERT", "--variant", "huge"], r"BERT has no variant 'huge'; choose from"),
    ("build-colon-variant", ["build", "BERT:huge"], r"BERT has no variant 'huge'"),
    ("build-colon-empty", ["build", "BERT:"], r"'BERT:': expected NAME or NAME:VARIANT"),
    ("build-two-variants", ["build", "BERT:base", "--variant", "large"], r"names variant 'base' but --variant is"),
    ("build-config-variant", ["build", "transformer-base:big"], r"transformer-base is a named config and has no"),
    ("build-huge-out", ["build", "PaLM", "--variant", "540B", "--out", "palm"], r"needs about [\d,.]+ GiB .* free"),
    ("train-unknown-model", ["train", "--model", "transformer-bse", "--out", "o"], r"did you mean 'transformer-base'"),
    ("train-unknown-variant", ["train", "--model", "GPT-2:giant", "--out", "o"], r"GPT-2 has no variant 'giant'"),
    ("train-heads", ["train", "--task", "copy", "--model", "transformer-tiny", "--out", "o", "--set",
                     "attention.n_heads=5"], r"not divisible by n_heads=5"),
    ("train-set-field", ["train", "--task", "copy", "--out", "o", "--set", "attention.n_head=4"], r"no such field"),
    ("train-set-syntax", ["train", "--task", "copy", "--out", "o", "--set", "d_model"], r"expected FIELD=VALUE"),
    ("train-set-huge", ["train", "--task", "copy", "--out", "o", "--set", "d_model=65536", "--set", "ffn.d_ff=1048576"],
     r"training transformer-small needs about [\d,.]+ GiB"),
    ("train-init-and-model", ["train", "--init", "minilm", "--model", "BERT", "--out", "o"], r"give one of them"),
    ("train-init-missing", ["train", "--task", "mlm", "--init", "nothere", "--out", "o"], r"nothere: not an encoder"),
    ("train-init-truncated", ["train", "--task", "mlm", "--init", "initbad", "--out", "o"],
     r"initbad/config.json: unreadable JSON"),
    ("train-task-arch", ["train", "--task", "mlm", "--model", "GPT-2", "--scale", "tiny", "--out", "o"],
     r"--task mlm trains a model of architecture encoder; --model is decoder"),
    ("train-unknown-task", ["train", "--task", "summarize", "--out", "o"], r"unknown task or objective 'summarize'"),
    ("train-unknown-data", ["train", "--data", "wmt14", "--out", "o"], r"unknown dataset 'wmt14'"),
    ("train-max-len", ["train", "--task", "clm", "--model", "GPT-2", "--scale", "tiny", "--max-len", "4096", "--out", "o"],
     r"--max-len 4096 is longer than the model's context"),
    ("train-fsdp", ["train", "--task", "clm", "--model", "GPT-2", "--scale", "tiny", "--fsdp", "--out", "o"],
     r"--fsdp shards the model across processes"),
    ("train-ragged-tsv", ["train", "--data", "ragged.tsv", "--out", "o"], r"ragged.tsv:2:"),
    ("train-latin1-tsv", ["train", "--data", "latin1.tsv", "--out", "o"], r"latin1.tsv:2: not UTF-8"),
    ("train-too-few", ["train", "--task", "clm", "--model", "GPT-2", "--scale", "tiny", "--data", "few.txt", "--out", "o"],
     r"too few to split"),
    ("train-jsonl-number", ["train", "--task", "clm", "--model", "GPT-2", "--scale", "tiny", "--data", "number.jsonl",
                            "--out", "o"], r"number.jsonl:1: expected a JSON object"),
    ("train-jsonl-text-number", ["train", "--task", "clm", "--model", "GPT-2", "--scale", "tiny", "--data",
                                 "numtext.jsonl", "--out", "o"], r'numtext.jsonl:1: "text" is a number'),
    # -- resume: every flag honoured or refused ----------------------------------------------------------
    ("resume-nothing", ["train", "--resume", "--out", "empty"], r"nothing to resume"),
    ("resume-model", ["train", "--resume", "--out", "run", "--model", "LLaMA"],
     r"--model LLaMA: this run was trained with 'transformer-tiny'; a resumed run keeps its model"),
    ("resume-set", ["train", "--resume", "--out", "run", "--set", "d_model=32"], r"--set d_model=32: this run was"),
    ("resume-task", ["train", "--resume", "--out", "run", "--task", "mlm"], r"--task mlm: this run was trained with 'translate'"),
    ("resume-data", ["train", "--resume", "--out", "run", "--data", "bible-en-es"], r"--data bible-en-es: this run"),
    ("resume-scale", ["train", "--resume", "--out", "run", "--scale", "tiny"], r"--scale tiny: this run"),
    ("resume-vocab", ["train", "--resume", "--out", "run", "--vocab", "1000"], r"--vocab 1000: this run"),
    ("resume-init", ["train", "--resume", "--out", "run", "--init", "minilm"], r"--init minilm: this run"),
    ("resume-lr", ["train", "--resume", "--out", "run", "--lr", "0.1"], r"--lr 0.1: this run was trained with 0.0003; "
                                                                          r"on --resume only --steps, --minutes"),
    ("resume-warmup", ["train", "--resume", "--out", "run", "--warmup", "7"], r"--warmup 7: this run was trained with 4000"),
    ("resume-seed", ["train", "--resume", "--out", "run", "--seed", "3"], r"--seed 3: this run"),
    ("resume-optimizer", ["train", "--resume", "--out", "run", "--optimizer", "adamw"], r"--optimizer adamw: this run"),
    ("resume-max-tokens", ["train", "--resume", "--out", "run", "--max-tokens", "64"], r"--max-tokens 64: this run"),
    ("resume-grad-accum", ["train", "--resume", "--out", "run", "--grad-accum", "3"],
     r"--grad-accum 3 on 1 process\(es\) makes 3 micro-batches per step; this run takes 1"),
    ("resume-steps-back", ["train", "--resume", "--out", "run", "--steps", "1", "--set", "d_model=8"], r"--set d_model=8"),
    ("resume-mlm-as-clm", ["train", "--resume", "--out", "mlm", "--task", "clm"], r"--task clm: this run was trained with 'mlm'"),
    ("resume-built", ["train", "--resume", "--out", "built"], r"nothing to resume"),
    ("resume-into-file", ["train", "--resume", "--out", "file.txt"], r"nothing to resume"),
    # -- checkpoints and what kind of run they are -------------------------------------------------------
    ("translate-missing", ["translate", "nowhere", "hi"], r"nowhere: no such checkpoint folder"),
    ("translate-pickle", ["translate", "model.bin", "hi"], r"refusing to load a pickle"),
    ("translate-corrupt", ["translate", "corrupt", "hi"], r"corrupt or not a safetensors file"),
    ("translate-not-checkpoint", ["translate", "user", "hi"], r"not a checkpoint folder"),
    ("translate-mlm", ["translate", "mlm", "hi"], r"translate needs an encoder-decoder checkpoint; this is a run trained with --task mlm \(encoder\); use it with tcat classify"),
    ("translate-too-long", ["translate", "run", "word " * 200], r"longer than the model's limit of 64"),
    ("generate-mlm", ["generate", "mlm", "hi"], r"mlm: a run trained with --task mlm \(encoder\) does not generate text.*tcat classify "
                                               r"--model mlm.*tcat train --init mlm"),
    ("generate-contrastive", ["generate", "contrastive", "hi"], r"a run trained with --task contrastive \(encoder\) does not generate text"),
    ("generate-beam-and-temperature", ["generate", "run", "x", "--beam", "2", "--temperature", "0.5"],
     r"--beam searches and --temperature samples: choose one"),
    ("generate-beam-compile", ["generate", "run", "x", "--beam", "2", "--compile"], r"--compile decodes greedily"),
    ("generate-top-k-greedy", ["generate", "run", "x", "--top-k", "5"], r"--top-k filters sampling"),
    ("generate-top-p-greedy", ["generate", "run", "x", "--top-p", "0.5"], r"--top-p filters sampling"),
    ("translate-top-k-greedy", ["translate", "run", "x", "--top-k", "5"], r"--top-k filters sampling"),
    ("evaluate-mlm", ["evaluate", "mlm"], r"a run trained with --task mlm \(encoder\) does not generate text, so tcat evaluate"),
    ("evaluate-contrastive", ["evaluate", "contrastive"], r"--task contrastive \(encoder\) does not generate text"),
    ("evaluate-built", ["evaluate", "built"], r"a model built by tcat build \(no training run\); tcat evaluate "
                                              r"measures translation runs"),
    ("evaluate-int8-translation", ["evaluate", "run", "--int8"], r"--int8 evaluates language-model runs"),
    ("evaluate-prompt-translation", ["evaluate", "run", "--prompt", "x"], r"--prompt samples from language-model runs"),
    ("evaluate-corrupt", ["evaluate", "corrupt"], r"."),
    # -- text that is not UTF-8 ------------------------------------------------------------------------
    ("argv-not-utf8-list", ["list", BAD_UTF8], r"tcat: error: argument 2 .* is not valid UTF-8"),
    ("argv-not-utf8-out", ["export", "--out", BAD_UTF8], r"argument 3 .* is not valid UTF-8"),
    ("argv-not-utf8-translate", ["translate", "run", BAD_UTF8], r"argument 3 .* is not valid UTF-8"),
    ("argv-not-utf8-command", [BAD_UTF8], r"argument 1 .* is not valid UTF-8"),
    ("stdin-not-utf8-translate", ["translate", "run"], r"standard input is not UTF-8", {}, b"caf\xe9\n"),
    ("stdin-not-utf8-generate", ["generate", "run"], r"standard input is not UTF-8", {}, b"\xff\xfe\n"),
    ("stdin-not-utf8-search", ["search", "--uri", "index.db"], r"standard input is not UTF-8", {}, b"\x80\n"),
    ("stdin-empty-translate", ["translate", "run"], r"empty input", {}, b""),
    ("stdin-blank-generate", ["generate", "run"], r"empty input", {}, b"  \n\n"),
    ("stdin-empty-search", ["search", "--uri", "index.db"], r"empty input", {}, b""),
    ("translate-decoder", ["translate", "lm", "hi"], r"this is a run trained with --task clm \(decoder\)$"),
    ("evaluate-copy", ["evaluate", "copyrun"], r"a run trained with --task copy \(encoder-decoder\); tcat evaluate "
                                               r"measures translation runs"),
    # -- catalog views ---------------------------------------------------------------------------------
    ("tree-unknown-root", ["tree", "NOPE"], r"tcat tree: error: unknown model 'NOPE'"),
    ("taxonomy-extra-argument", ["taxonomy", "x"], r"unrecognized arguments: x"),
    ("show-no-name", ["show"], r"required: name"),
    # -- experiments -----------------------------------------------------------------------------------
    ("experiments-no-subcommand", ["experiments"], r"tcat experiments: error: the following arguments are required"),
    ("experiments-unknown", ["experiments", "run", "grokking-2"], r"unknown experiment 'grokking-2'; known: "),
    ("experiments-out-file", ["experiments", "run", "copy", "--tiny", "--out", "file.txt"],
     r"file.txt: exists and is not a folder"),
    ("experiments-out-user", ["experiments", "run", "copy", "--out", "user"], r"user is a non-empty folder"),
    ("experiments-threads", ["experiments", "run", "copy", "--threads", "999"], r"argument --threads: .*out of range"),
]


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


# -- what the refusals above leave possible ------------------------------------------------------------
def test_force_writes_into_a_users_folder_and_deletes_nothing(tmp_path, capsys):
    from transformer_catalog.train.checkpoint import load_model

    user = tmp_path / "user"
    user.mkdir()
    (user / "thesis.tex").write_text("mine")
    assert main(["build", "transformer-tiny", "--out", str(user)]) == 2
    assert main(["build", "transformer-tiny", "--out", str(user), "--force"]) == 0
    model, _, _ = load_model(user)  # the checkpoint went into user/checkpoint
    assert model.config.d_model == 128
    assert main(["build", "transformer-tiny", "--out", str(user), "--seed", "1"]) == 0  # a checkpoint tcat wrote: replaced
    assert (user / "thesis.tex").read_text() == "mine"
    site = tmp_path / "site"
    site.mkdir()
    (site / "notes.txt").write_text("mine too")
    assert main(["site", "build", str(site)]) == 2
    assert main(["site", "build", str(site), "--force"]) == 0
    assert (site / "index.html").is_file() and (site / "notes.txt").read_text() == "mine too"
    capsys.readouterr()


def test_experiments_list_shows_each_claim(capsys):
    from transformer_catalog.experiments import registry

    assert main(["experiments", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(registry())
    assert all(len(line.split(maxsplit=1)[1]) > 20 for line in out)


def test_experiments_run_writes_into_the_folder_it_is_given(tmp_path, capsys, monkeypatch):
    """The command's plumbing (the experiments themselves are tested at their tiny setting in
    tests/test_experiments.py): --tiny reaches the experiment, its folder is created and marked."""
    from types import SimpleNamespace

    from transformer_catalog.cli import experiments as cli_experiments
    from transformer_catalog.experiments import Experiment
    from transformer_catalog.files import MARKER, write_json

    seen = {}

    def run(cfg, out):
        seen["cfg"] = cfg
        results = {"metrics": {"exact_match": 1.0}, "claim_holds": True, "control_fails": True}
        write_json(out / "results.json", results)
        return results

    config = SimpleNamespace(tiny=lambda: "tiny setting")
    module = SimpleNamespace(run=run, Config=lambda: "full setting")
    module.Config.tiny = config.tiny
    fake = Experiment("fake", "A claim that is long enough to read.", "A control.", module)
    monkeypatch.setattr(cli_experiments, "_registry", lambda: {"fake": fake})
    out = tmp_path / "exp"
    assert main(["experiments", "run", "fake", "--tiny", "--out", str(out), "--threads", "1"]) == 0
    assert seen["cfg"] == "tiny setting" and (out / MARKER).is_file() and (out / "results.json").is_file()
    said = capsys.readouterr().out
    assert "fake: the claim holds, the control fails as it should" in said
