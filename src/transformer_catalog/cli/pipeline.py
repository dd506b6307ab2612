"""`tcat pipeline TASK [TEXT ...]`: apps/pipeline.py from the command line (one JSON answer per text);
`--evaluate` on zero-shot-classification scores VADER's four rated sets with no labelled data.
`tcat summarise train | evaluate`: the docstring summariser (apps/summarise.py)."""

from __future__ import annotations

import json

from ..errors import TcatError
from .common import add_json, add_threads, check_output_file, read_inputs, set_threads, write_json
from .options import help_text, number

BATCH = number(int, 1, 4096)
BEAM = number(int, 1, 64)
TOKENS = number(int, 0, 4096)
MAX_LEN = number(int, 8, 4096)
VOCAB = number(int, 300, 32000)
STEPS = number(int, 1, 10**7)
MINUTES = number(float, 0, 10**7)
LR = number(float, 0, 10, "(]")
LIMIT = number(int, 0, 10**7)


def _descriptions(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        label, sep, text = item.partition("=")
        if not sep or not label.strip() or not text.strip():
            raise TcatError(f"--describe {item!r}: expected LABEL=DESCRIPTION, e.g. --describe tweets='a tweet'")
        out.setdefault(label.strip(), []).append(text.strip())
    return out


def _machine() -> dict:
    from ..experiments.base import machine

    return machine()


def cmd_pipeline(args) -> None:
    from ..apps.pipeline import canonical_task

    task = canonical_task(args.task)
    check_output_file(args.json)
    if args.evaluate:
        if task != "zero-shot-classification":
            raise TcatError("--evaluate scores zero-shot-classification on VADER's four rated sets; drop it")
        set_threads(args.threads)
        from ..apps.zero_shot import zero_shot_benchmark

        result = zero_shot_benchmark(args.model or "minilm", sample=args.sample, progress=not args.quiet)
        flags = (f" --model {args.model}" if args.model else "") + (" --sample" if args.sample else "")
        result |= {"command": f"tcat pipeline zero-shot-classification --evaluate{flags}", "machine": _machine()}
        print(json.dumps({k: v for k, v in result.items() if k != "descriptions"}))
        write_json(args.json, result)
        return
    texts = read_inputs(args.text)
    options = {}
    if task in ("text-classification", "zero-shot-classification"):
        if args.labels:
            options["labels"] = [x.strip() for x in args.labels.split(",") if x.strip()]
        if args.describe:
            options["descriptions"] = _descriptions(args.describe)
        options["template"] = args.template
    if task == "ner":
        options["aggregation"] = args.aggregation
    if task in ("summarization", "translation"):
        options.update(beam=args.beam, max_new_tokens=args.max_new_tokens)
    set_threads(args.threads)
    from ..apps.pipeline import pipeline

    pipe = pipeline(task, args.model, batch_size=args.batch_size, truncation=args.truncate, **options)
    answers = pipe(texts)
    for answer in answers:
        print(json.dumps(answer, ensure_ascii=False))
    write_json(args.json, answers)


def cmd_summarise_train(args) -> None:
    set_threads(args.threads)
    from ..apps.summarise import train_summariser

    train = {"steps": args.steps, "max_minutes": args.minutes, "max_tokens": args.max_tokens, "lr": args.lr}
    train |= {"warmup": args.warmup, "schedule": "cosine", "seed": args.seed}
    every = {"save_every": args.save_every, "eval_every": args.save_every}
    if args.resume:  # a resumed run keeps its optimisation: only its length and time budget may change
        train = {"steps": args.steps, "max_minutes": args.minutes}
    train |= every
    pretrain = args.summarise_command == "pretrain"
    init = None if pretrain else args.init
    if init and args.resume:
        raise TcatError("--init starts a new run from a pretraining run; --resume continues one: give one of them")
    result = train_summariser(
        args.out,
        args.model,
        train,
        args.vocab,
        args.max_len,
        resume=args.resume,
        progress=not args.quiet,
        pretrain=pretrain,
        init=init,
    )
    print(json.dumps(result))


def cmd_summarise_evaluate(args) -> None:
    check_output_file(args.json)
    set_threads(args.threads)
    from ..apps.summarise import evaluate_summariser

    result = evaluate_summariser(
        args.run, args.split, args.beam, args.limit, progress=not args.quiet, no_repeat_ngram=args.no_repeat_ngram
    )
    flags = f" --split {args.split}" if args.split != "test" else ""
    flags += f" --beam {args.beam}" if args.beam > 1 else ""
    flags += f" --no-repeat-ngram {args.no_repeat_ngram}" if args.no_repeat_ngram else ""
    result |= {"command": f"tcat summarise evaluate {args.run}{flags}", "machine": _machine()}
    shown = {k: v for k, v in result.items() if k not in ("hypotheses", "examples", "training")}
    print(json.dumps(shown))
    for ex in result["examples"][:3]:
        print(
            f"  {ex['ref']}\n    reference: {ex['summary']}\n    model:     {ex['model']}\n    lead:      {ex['lead']}"
        )
    write_json(args.json, result)


def register(sub, add) -> None:
    def num(sp, flag, rng, default, text):
        sp.add_argument(
            flag, type=rng, default=default, metavar="N" if rng.kind is int else "X", help=help_text(text, default, rng)
        )

    sp = add("pipeline", cmd_pipeline, "one call from text to an answer: classification, zero-shot, NER, summaries")
    if not getattr(sp, "skipped", False):
        sp.add_argument(
            "task",
            metavar="TASK",
            help="sentiment, text-classification, zero-shot-classification, feature-extraction, ner, "
            "summarization, translation (aliases: sentiment-analysis, token-classification, summarisation)",
        )
        sp.add_argument("text", nargs="*", help="the texts (default: standard input, one per line)")
        sp.add_argument(
            "--model",
            default=None,
            help="an encoder (minilm, a Hugging Face folder, a tcat encoder run) for the classification tasks "
            "and feature-extraction; a run folder for ner, summarization, translation (default minilm where "
            "an encoder is taken; required otherwise)",
        )
        sp.add_argument("--labels", default=None, help="candidate labels, comma-separated (default: none)")
        sp.add_argument(
            "--describe",
            action="append",
            default=[],
            metavar="LABEL=TEXT",
            help="a description of a label, embedded instead of its name (repeatable; default: the names)",
        )
        sp.add_argument("--template", default="{}", help="wraps each description, e.g. 'This text is {}.' (default {})")
        sp.add_argument(
            "--aggregation",
            default="simple",
            choices=["simple", "average", "max", "none"],
            help="ner: a word's tag from its first subword, the mean or most confident subword; none lists "
            "words (default simple)",
        )
        num(sp, "--beam", BEAM, 1, "summarization / translation: beam width (1 = greedy)")
        num(sp, "--max-new-tokens", TOKENS, 48, "summarization / translation: output tokens at most (0 = input + 50)")
        num(sp, "--batch-size", BATCH, 32, "texts per batch")
        sp.add_argument(
            "--truncate",
            action="store_true",
            help="keep the first tokens of a text over the model's maximum instead of refusing it (default off)",
        )
        sp.add_argument(
            "--evaluate",
            action="store_true",
            help="zero-shot-classification: score VADER's four rated sets (valid and test) and movie sentiment, "
            "no labelled data used (default off)",
        )
        sp.add_argument("--sample", action="store_true", help="--evaluate on the in-repo sample (default off)")
        sp.add_argument("--quiet", action="store_true", help="no progress output (default off)")
        add_json(sp, "the answers (or the evaluation)")
        add_threads(sp)

    group = add("summarise", None, "summarise docstrings: train a tcat encoder-decoder, score ROUGE-L vs lead sentence")
    if getattr(group, "skipped", False):
        return
    inner = group.add_subparsers(dest="summarise_command", metavar="COMMAND", required=True)
    for name, text in (
        ("train", "train a summariser on CPython's docstrings (body -> one-line summary), through the one trainer"),
        ("pretrain", "pretrain a summariser by denoising (BART) the training modules' docstrings; then train --init"),
    ):
        sp = inner.add_parser(name, help=text, description=text)
        sp.set_defaults(fn=cmd_summarise_train)
        sp.add_argument("--out", required=True, help="run folder (required; no default)")
        sp.add_argument(
            "--model", default="transformer-tiny", help="an encoder-decoder named config (default transformer-tiny)"
        )
        if name == "train":
            sp.add_argument(
                "--init",
                default=None,
                metavar="RUN",
                help="start from a tcat summarise pretrain run's weights and vocabulary (default: from scratch)",
            )
        num(sp, "--steps", STEPS, 2500, "optimizer steps")
        num(sp, "--minutes", MINUTES, 0.0, "stop and checkpoint after this many minutes (0 = no limit)")
        num(sp, "--max-tokens", number(int, 64, 10**6), 2048, "tokens per batch")
        num(sp, "--lr", LR, 1e-3, "peak learning rate (cosine schedule)")
        num(sp, "--warmup", number(int, 1, 10**6), 200, "warmup steps")
        num(sp, "--vocab", VOCAB, 4000, "BPE vocabulary size")
        num(sp, "--max-len", MAX_LEN, 128, "longest body in tokens (longer bodies keep their first tokens)")
        num(sp, "--seed", number(int, 0, 2**31 - 1), 0, "seed")
        num(sp, "--save-every", number(int, 0, 10**9), 250, "steps between checkpoints and validation losses (0 = end)")
        sp.add_argument("--resume", action="store_true", help="continue the run in --out (default off)")
        sp.add_argument("--quiet", action="store_true", help="no progress bar (default off)")
        add_threads(sp)
    text = "ROUGE-L of a summariser and of the lead-sentence baseline on held-out modules"
    sp = inner.add_parser("evaluate", help=text, description=text)
    sp.set_defaults(fn=cmd_summarise_evaluate)
    sp.add_argument("run", metavar="RUN", help="a folder written by tcat summarise train")
    sp.add_argument("--split", default="test", choices=["test", "valid"], help="test or valid (default test)")
    num(sp, "--beam", BEAM, 1, "beam width (1 = greedy)")
    num(sp, "--limit", LIMIT, 0, "score only the first N pairs (0 = all)")
    num(sp, "--no-repeat-ngram", number(int, 0, 100), 0, "forbid any n-gram of tokens twice in a summary (0 = off)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar (default off)")
    add_json(sp, "the evaluation, every summary included")
    add_threads(sp)
