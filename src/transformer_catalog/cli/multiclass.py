"""`tcat multiclass`: the course's multi-class classification benchmark (apps/multiclass.py): TF-IDF,
Word2Vec, BiLSTM, fine-tuned MiniLM and a tcat BERT pretrained here, on the sets of data/course.py;
macro-F1 with 95% bootstrap intervals on the same test split."""

from __future__ import annotations

import json
import shlex

from ..errors import TcatError
from .common import add_json, add_threads, check_output_file, set_threads, write_json
from .options import help_text, number

DATASETS = ("vader-domains", "austen", "kjv-genre", "fine-food")  # data/course.py's (kept torch-free here)
MODELS = ("tfidf", "word2vec", "bilstm", "minilm", "bert-mlm")


def _names(flag: str, text: str, allowed: tuple) -> list[str]:
    names = list(allowed) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise TcatError(f"{flag} {text!r}: use all or a comma-separated list of {', '.join(allowed)}")
    return list(dict.fromkeys(names))


def _command(args) -> str:
    parts = ["tcat", "multiclass", "--data", args.data, "--model", args.model, *(["--sample"] if args.sample else [])]
    for flag in ("max_train", "max_train_bilstm", "epochs", "max_len", "bert_steps", "bootstrap", "seed", "threads"):
        parts += ["--" + flag.replace("_", "-"), str(getattr(args, flag))]
    return shlex.join(parts)


def cmd_multiclass(args) -> None:
    """Train and score every model on every set asked for; print a table, and write it with --json."""
    user = args.data == "-" or args.data.endswith(".tsv")  # a user's label<TAB>text set
    datasets = [args.data] if user else _names("--data", args.data, DATASETS)
    models = _names("--model", args.model, MODELS)
    check_output_file(args.json)
    set_threads(args.threads)
    import time

    import torch

    from ..apps.multiclass import Settings, as_indices, benchmark
    from ..data.course import load_dataset
    from ..experiments.base import machine

    cpu, wall = time.process_time(), time.perf_counter()
    data = (
        {"standard input" if args.data == "-" else args.data: _user_set(args.data)}
        if user
        else {n: load_dataset(n, sample=args.sample) for n in datasets}
    )
    for name, splits in data.items():  # every set checked before the first model trains
        as_indices(splits, name)
    settings = Settings(max_train=args.max_train, max_train_bilstm=args.max_train_bilstm, epochs=args.epochs,
                        max_len=args.max_len, bert_steps=args.bert_steps, bootstrap=args.bootstrap,
                        seed=args.seed)  # fmt: skip
    with _Bar(len(datasets) * len(models), not args.quiet) as bar:
        result = benchmark(data, models, settings, progress=not args.quiet, log=bar.done)
    result = {"command": _command(args), "sample": args.sample, **result,
              "cpu_seconds": round(time.process_time() - cpu, 1), "wall_seconds": round(time.perf_counter() - wall, 1),
              "machine": machine(), "threads": torch.get_num_threads()}  # fmt: skip
    for name, r in result["datasets"].items():
        print(f"\n{name} ({len(r['labels'])} classes, {r['test']:,} test texts): macro-F1 [95% bootstrap interval]")
        for model, m in r["models"].items():
            best = "  <- best" if model == r["best"] else ""
            print(f"  {model:9s} {m['macro_f1']:.3f} [{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]  "
                  f"{m['cpu_s']:7.1f} CPU s  train {m['train']:,}{best}")  # fmt: skip
    if args.json:
        write_json(args.json, result)
    else:
        print(json.dumps({k: result[k] for k in ("command", "cpu_seconds")}))


def _user_set(path: str) -> dict:
    import sys

    from ..data.course import parse_labelled

    if path == "-":
        try:
            return parse_labelled(sys.stdin.read(), "standard input")
        except UnicodeDecodeError as e:
            raise TcatError(f"standard input is not UTF-8 text (byte {e.start}: {e.reason})") from None
    return parse_labelled(_read(path), path)


def _read(path: str) -> str:
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise TcatError(f"--data {path}: no such file (a label<TAB>text .tsv, - for standard input, or a set name)")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise TcatError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise TcatError(f"{path}: cannot read ({e.strerror})") from None


class _Bar:
    """A rich progress bar over the (set, model) runs: each finished run is printed above it."""

    def __init__(self, total: int, show: bool):
        self.total, self.show, self.bar = total, show, None

    def __enter__(self):
        if self.show:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("models"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            self.bar.start()
            self.task = self.bar.add_task("runs", total=self.total)
        return self

    def done(self, line: str) -> None:
        if self.bar:
            self.bar.console.print(line)
            self.bar.advance(self.task)

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()


def register(sub, add) -> None:
    sp = add("multiclass", cmd_multiclass, "multi-class classification benchmark: 5 models x the course's sets")
    sp.add_argument(
        "--data",
        default="all",
        help=f"all or a comma-separated list of {', '.join(DATASETS)} (Debian r-cran-janeaustenr / r-cran-modeldata, "
        "sword-text-kjv, python -m transformer_catalog.rlhf.pairs), or your own label<TAB>text .tsv file "
        "(- = standard input; a seeded tenth each is valid and test) (default all)",
    )
    sp.add_argument(
        "--model", default="all", help=f"all or a comma-separated list of {', '.join(MODELS)} (default all)"
    )
    sp.add_argument("--sample", action="store_true", help="the in-repo samples instead of the full sets (default off)")

    def num(flag, rng, default, text):
        sp.add_argument(
            flag, type=rng, default=default, metavar="N" if rng.kind is int else "X", help=help_text(text, default, rng)
        )

    num("--max-train", number(int, 0, 10**7), 0, "MiniLM and BERT fine-tune on a seeded subset of this many (0 = all)")
    num("--max-train-bilstm", number(int, 0, 10**7), 0, "the BiLSTM trains on a seeded subset of this many (0 = all)")
    num("--epochs", number(float, 0, 10**4, "(]"), 3.0, "fine-tuning epochs of the BiLSTM, MiniLM and BERT")
    num("--max-len", number(int, 8, 512), 128, "tokens per text for the neural models")
    num("--bert-steps", number(int, 1, 10**7), 400, "MLM pretraining steps of the tcat BERT")
    num("--bootstrap", number(int, 10, 10**6), 1000, "bootstrap resamples of the test split")
    num("--seed", number(int, 0, 2**31 - 1), 0, "seed of subsets, initialisation and resamples")
    add_json(sp, "the table, settings, command, CPU seconds and machine")
    sp.add_argument("--quiet", action="store_true", help="no progress output (default off)")
    add_threads(sp)
