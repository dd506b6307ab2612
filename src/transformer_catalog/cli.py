"""`tcat`: the command line. Heavy imports (torch) happen inside the commands that need them,
so `tcat --help` answers instantly. User errors print one line and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import TcatError


def _write_json(path, obj) -> None:
    """--json: also write a command's result to a file (atomically)."""
    if path:
        from pathlib import Path

        from .data.cache import write_json_atomic

        write_json_atomic(Path(path), obj)


def _threads(n: int) -> None:
    from .runtime import set_threads

    set_threads(n)


# -- commands ------------------------------------------------------------------------------------------
def cmd_configs(args) -> None:
    from .families import config_names

    for name in config_names():
        print(name)


def cmd_params(args) -> None:
    from rich.console import Console
    from rich.table import Table

    from .families import get_config, transformer
    from .nn.count import count_parameters, parameter_breakdown

    table = Table(title="Parameters on the meta device (tied embeddings once; sinusoidal table is no parameter)")
    for col in ("config", "vocab", "embeddings", "attention", "feed-forward", "norms", "total", "paper", "Δ%",
                "vocab matching paper"):
        table.add_column(col, justify="right" if col != "config" else "left")
    for name in args.names:
        overrides = {"vocab_size": args.vocab} if args.vocab else {}
        cfg = get_config(name, **overrides)
        parts = parameter_breakdown(cfg)
        total = count_parameters(cfg)
        paper = transformer.PAPER_PARAMS.get(name)
        delta = f"{100 * (total - paper) / paper:+.1f}" if paper else "-"
        # The vocabulary size at which this count would equal the paper's rounded figure.
        match = f"{(paper - total + parts['embeddings']) / cfg.d_model:,.0f}" if paper else "-"
        table.add_row(
            name, f"{cfg.embedding.vocab_size:,}", *(f"{parts.get(k, 0) / 1e6:.2f}M" for k in
                                                     ("embeddings", "attention", "feed-forward", "norms")),
            f"{total / 1e6:.2f}M", f"{paper / 1e6:.0f}M" if paper else "-", delta, match,
        )
    console = Console()
    console.width = max(console.width, 120)
    console.print(table)


def cmd_train(args) -> None:
    _threads(args.threads)
    import torch

    from .runtime import use_bf16
    from .train.distributed import init_from_env

    rank, world = init_from_env()  # under torchrun: one process per rank, data parallel
    if args.fsdp and world == 1:
        raise TcatError("--fsdp shards the model across processes: launch with torchrun --nproc_per_node=N")
    say = print if rank == 0 else (lambda *a, **k: None)

    from .families import get_config
    from .nn.model import build_model
    from .train.checkpoint import read_config
    from .train.tasks import make_task
    from .train.trainer import Trainer, TrainConfig

    from pathlib import Path

    out = Path(args.out)
    ckpt = out / "checkpoint"
    tokenizer, init_state = None, None
    if args.resume:
        if not (ckpt / "trainer_state.json").is_file():
            raise TcatError(f"{out}: nothing to resume (no checkpoint/trainer_state.json); drop --resume to start")
        folder, meta, model_cfg = read_config(ckpt)
        from .data.tokenizer import Tokenizer

        if (folder / "tokenizer.json").is_file():
            tokenizer = Tokenizer.load(folder / "tokenizer.json")
        train_cfg = TrainConfig(**{**meta["train"], "steps": args.steps or meta["train"]["steps"],
                                   "compile": args.compile or meta["train"].get("compile", False),
                                   "max_minutes": args.minutes if args.minutes is not None else 0.0})
        task = make_task(meta["task"].get("objective", meta["task"]["name"]), meta["task"].get("data"), model_cfg.embedding.vocab_size,
                         model_cfg.position.max_len, tokenizer)
    else:
        if (ckpt / "config.json").exists():
            raise TcatError(f"{out} already holds a checkpoint; pass --resume to continue it or choose another --out")
        overrides = _overrides(args.set)
        if args.dropout is not None:
            overrides["dropout"] = args.dropout
        if args.init:  # start from pretrained weights, with their tokenizer (e.g. --init minilm)
            from .apps.embeddings import load_encoder, resolve_encoder

            core, tokenizer, _ = load_encoder(resolve_encoder(args.init))
            base, init_state = core.config.replace(**overrides), core.state_dict()
        else:
            base = model_config(args.model, args.scale).replace(**overrides)  # validates before any data work
        _check_task_fits(args.task, base)
        if args.max_len > base.position.max_len:
            raise TcatError(f"--max-len {args.max_len} is longer than the model's context (position.max_len="
                            f"{base.position.max_len}); lower it or --set position.max_len=...")
        max_len = args.max_len or base.position.max_len
        task = make_task(args.task, args.data, args.vocab or min(base.embedding.vocab_size, 32000), max_len, tokenizer)
        model_cfg = base.replace(**{"embedding.vocab_size": task.vocab_size, "embedding.pad_id": task.pad_id})
        train_cfg = TrainConfig(
            steps=args.steps or 2000, max_minutes=args.minutes or 0.0, max_tokens=args.max_tokens,
            lr_scale=args.lr_scale, warmup=args.warmup, label_smoothing=args.label_smoothing,
            eval_every=args.eval_every, save_every=args.save_every, seed=args.seed, bf16=use_bf16(args.bf16),
            optimizer=args.optimizer, weight_decay=args.weight_decay, schedule=args.schedule, lr=args.lr,
            grad_accum=args.grad_accum, clip=args.clip, compile=args.compile,
        )
    torch.manual_seed(train_cfg.seed)
    model = build_model(model_cfg)
    if init_state is not None:
        model.load_state_dict(init_state)
    if hasattr(task, "objective"):
        model = task.objective.wrap(model)  # heads the objective needs (MLM head, ELECTRA's generator)
    trainer = Trainer(model, task, train_cfg, out, progress=not args.quiet, fsdp=args.fsdp)
    if args.resume:
        trainer.resume()
        say(f"resuming {out} at step {trainer.state['step']}")
    else:
        n = sum(p.numel() for p in model.parameters())
        say(f"training {args.init or args.model} ({n / 1e6:.2f}M parameters) on {task.name}: "
            f"{len(task.train):,} train / {len(task.valid):,} valid examples -> {out}"
            + (f" on {world} processes ({'FSDP2' if args.fsdp else 'DDP'})" if world > 1 else ""))
    state = trainer.fit()
    say(json.dumps({"step": state["step"], "tokens": state["tokens"], "elapsed_s": round(state["elapsed"], 1),
                      "valid_loss": round(trainer.evaluate(), 4), "checkpoint": str(ckpt)}))


def model_config(name: str, scale: str = "full"):
    """A named config (tcat configs), or a catalog entry's spec: NAME (its first variant) or NAME:VARIANT."""
    from .catalog.verify import build_config, tiny_config
    from .families import config_names, get_config

    if scale not in ("full", "tiny"):
        raise TcatError(f"--scale {scale!r}: use full or tiny")
    if name in config_names():
        cfg = get_config(name)
    else:
        entry_name, _, variant = name.partition(":")
        entry = _catalog().find(entry_name)
        if entry is None:
            return get_config(name)  # the unknown-name error, with suggestions
        if not entry.spec:
            raise TcatError(f"{entry.name} has no architecture spec" + (f": {entry.not_buildable}" if entry.not_buildable else ""))
        spec = entry.spec.to_dict()
        variant = variant or next(iter(spec["variants"]))
        if variant not in spec["variants"]:
            raise TcatError(f"{entry.name} has no variant {variant!r}; choose from {', '.join(spec['variants'])}")
        cfg = build_config(spec, variant)
    return tiny_config(cfg) if scale == "tiny" else cfg


def _check_task_fits(task: str, cfg) -> None:
    from .objectives import OBJECTIVES, describe

    need = "encoder-decoder" if task in ("translate", "copy") else None
    if task in OBJECTIVES:
        need = describe(task).arch
    if need and getattr(cfg, "arch", None) != need:
        raise TcatError(f"--task {task} trains a model of architecture {need}; --model is {cfg.arch}")


def cmd_vision(args) -> None:
    """Train an image classifier (ViT from the core, or the CNN baseline) and report test accuracy."""
    _threads(args.threads)
    import dataclasses

    import torch

    from .apps.vision import make_classifier, train_classifier
    from .data.images import load_images

    data = load_images(args.data)
    torch.manual_seed(args.seed)
    x = data["train"][0]
    model = make_classifier(args.model, x.shape[-1], len(data["classes"]))
    print(f"{args.model} ({sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters) on {args.data}: "
          f"{len(x):,} train / {len(data['test'][1]):,} test images")
    result = train_classifier(model, data, args.epochs, args.minutes, args.batch, args.lr, args.seed, progress=not args.quiet)
    out = dataclasses.asdict(result) | {"data": args.data, "threads": torch.get_num_threads()}
    print(json.dumps(out))
    _write_json(args.json, out)


def cmd_classify(args) -> None:
    """Sentiment classification: a fine-tuned encoder or a baseline; accuracy and macro-F1 on the test split."""
    _threads(args.threads)
    from .apps.classify import classify
    from .data.sentiment import load_sentiment

    result = classify(load_sentiment(args.data), args.model, args.epochs, args.lr, args.max_len, args.seed,
                      progress=not args.quiet)
    result = {"data": args.data, **result}
    print(json.dumps(result))
    _write_json(args.json, result)


def cmd_index(args) -> None:
    """Embed a corpus, index it in Milvus, and (--evaluate) measure retrieval on held-out queries."""
    _threads(args.threads)
    import time

    from .apps.search import build_index, embed, load_corpus, retrieval_metrics, search, tfidf_rank

    corpus = load_corpus(args.data)
    started = time.perf_counter()
    if args.encoder == "tfidf":
        if not args.evaluate:
            raise TcatError("--encoder tfidf is an evaluation baseline (exhaustive, no Milvus index): add --evaluate")
        ranked = tfidf_rank(corpus)
    else:
        vectors = embed(args.encoder, corpus.texts)
        build_index(args.uri, vectors, corpus, args.encoder)
        print(f"indexed {len(corpus.texts):,} documents from {args.data} with {args.encoder} in {args.uri} "
              f"({time.perf_counter() - started:.0f} s)")
        if not args.evaluate:
            return
        hits = search(args.uri, embed(args.encoder, corpus.queries), k=10)
        ranked = [[h["id"] for h in row] for row in hits]
    result = {"encoder": args.encoder, "data": args.data, **retrieval_metrics(ranked, corpus.answers),
              "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(result))
    _write_json(args.json, result)


def cmd_search(args) -> None:
    """Answer a query from an index built by tcat index."""
    _threads(args.threads)
    from .apps.search import embed, index_encoder, search

    text = " ".join(_read_inputs(args.text))
    encoder = args.encoder or index_encoder(args.uri)
    for rank, hit in enumerate(search(args.uri, embed(encoder, [text]), k=args.k)[0], 1):
        print(f"{rank:>2}. {hit['score']:.3f}  {hit['ref']}  {hit['text']}")


def _overrides(items: list[str]) -> dict:
    """--set a.b=value pairs; values are read as JSON (numbers, true/false) or else as strings."""
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise TcatError(f"--set {item!r}: expected FIELD=VALUE, e.g. --set attention.n_heads=8")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _read_inputs(texts: list[str]) -> list[str]:
    lines = texts or [line.rstrip("\n") for line in sys.stdin]
    if not lines or not any(t.strip() for t in lines):
        raise TcatError("empty input: give the text as an argument or on standard input")
    return lines


def _encode_source(model, tok, text: str, eos_id: int) -> list[int]:
    ids = tok.encode(text) + [eos_id]
    limit = model.config.position.max_len
    if len(ids) > limit:
        raise TcatError(f"input of {len(ids)} tokens is longer than the model's limit of {limit}: {text[:40]!r}...")
    return ids


def cmd_translate(args) -> None:
    _threads(args.threads)
    import torch

    from .generate import SamplingConfig, beam_search, generate, strip_after_eos
    from .nn.model import EncoderDecoderModel
    from .train.checkpoint import load_model

    model, meta, tok = load_model(args.checkpoint)
    if not isinstance(model, EncoderDecoderModel) or tok is None:
        raise TcatError(f"{args.checkpoint}: translate needs an encoder-decoder checkpoint with a tokenizer")
    for text in _read_inputs(args.text):
        src = torch.tensor([_encode_source(model, tok, text, tok.eos_id)])
        start = torch.tensor([[tok.bos_id]])
        max_new = min(args.max_new_tokens, src.size(1) + 50, model.config.position.max_len)  # paper: input + 50
        if args.temperature > 0 or args.beam <= 1:
            s = SamplingConfig(args.temperature, args.top_k, args.top_p)
            ids = generate(model, start, max_new, src=src, eos_id=tok.eos_id, sampling=s)[0].tolist()
        else:
            ids = beam_search(model, start, max_new, args.beam, args.alpha, src=src, eos_id=tok.eos_id)[0]
        print(tok.decode(strip_after_eos(ids, tok.eos_id)))


def cmd_generate(args) -> None:
    """Stream tokens as they are produced (decoder-only: continue the prompt; encoder-decoder:
    decode from the prompt as source)."""
    _threads(args.threads)
    import torch

    from .generate import SamplingConfig, iter_tokens
    from .nn.model import EncoderDecoderModel
    from .train.checkpoint import load_model

    model, meta, tok = load_model(args.checkpoint)
    if tok is None:
        raise TcatError(f"{args.checkpoint}: checkpoint has no tokenizer.json, so text cannot be encoded")
    if args.int8:
        from .nn.quant import quantize_int8

        quantize_int8(model)
    if args.seed is not None:
        torch.manual_seed(args.seed)
    s = SamplingConfig(args.temperature, args.top_k, args.top_p)
    for text in _read_inputs([args.prompt] if args.prompt is not None else []):
        if isinstance(model, EncoderDecoderModel):
            kw = dict(src=torch.tensor([_encode_source(model, tok, text, tok.eos_id)]))
            start = torch.tensor([[tok.bos_id]])
        else:
            kw = {}
            start = torch.tensor([_encode_source(model, tok, text, tok.eos_id)[:-1]])
            sys.stdout.write(text)
        room = model.config.position.max_len - (start.size(1) if not kw else 0)
        ids: list[int] = []
        shown = ""
        for nxt, _ in iter_tokens(model, start, min(args.max_new_tokens, room), eos_id=tok.eos_id, sampling=s,
                                  compile=args.compile, **kw):
            if nxt.item() == tok.eos_id:
                break
            ids.append(nxt.item())
            text_now = tok.decode(ids)
            sys.stdout.write(text_now[len(shown):])  # byte-level BPE: print what is decodable so far
            sys.stdout.flush()
            shown = text_now
        sys.stdout.write("\n")


def cmd_evaluate(args) -> None:
    """Translation runs: BLEU/chrF on held-out books; language-model runs: held-out perplexity + samples."""
    _threads(args.threads)
    from .train.checkpoint import read_config

    _, meta, _ = read_config(args.checkpoint)
    if meta.get("task", {}).get("name") == "objective":
        from .apps.language_model import evaluate_lm

        result = evaluate_lm(args.checkpoint, args.prompt or ["ROMEO:", "First Citizen:\nBefore we proceed"], int8=args.int8)
    else:
        if args.int8:
            raise TcatError(f"{args.checkpoint}: --int8 evaluates language-model runs (tcat train --task clm), not translation")
        from .apps.translation import evaluate_translation

        result = evaluate_translation(args.checkpoint, args.data, args.split, args.beam, args.alpha, args.limit,
                                      progress=not args.quiet)
    print(json.dumps(result, indent=2))
    _write_json(args.json, result)


def _console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)  # piped output: do not squeeze tables to 80 columns
    return console


def _catalog():
    from .catalog.load import load_catalog

    return load_catalog()


def cmd_list(args) -> None:
    from .catalog.query import select
    from .catalog.views import list_table

    entries = select(_catalog(), family=args.family, arch=args.arch, task=args.task, lab=args.lab, license=args.license,
                     after=args.after, before=args.before, min_params=args.min_params, max_params=args.max_params,
                     search=" ".join(args.search) or None, sort=args.sort, reverse=args.reverse)
    if args.names:
        print("\n".join(e.name for e in entries))
    else:
        _console().print(list_table(entries))


def cmd_show(args) -> None:
    from .catalog.breakdown import breakdown
    from .catalog.views import show

    catalog = _catalog()
    entry = catalog.get(args.name)
    # The breakdown needs torch the first time for an entry (meta-device builds); then it is cached.
    computed = breakdown(entry, compute=not args.no_computed)
    _console().print(show(catalog, entry, computed))


def cmd_tree(args) -> None:
    from .catalog.views import tree

    _console().print(tree(_catalog(), args.root))


def cmd_timeline(args) -> None:
    from .catalog.query import select
    from .catalog.views import timeline

    _console().print(timeline(select(_catalog(), after=args.after, before=args.before)))


def cmd_taxonomy(args) -> None:
    from .catalog.views import taxonomy

    _console().print(taxonomy(_catalog().entries))


def cmd_export(args) -> None:
    from .catalog.export import FORMATS, json_schema
    from .catalog.query import select

    if args.schema:
        text = json.dumps(json_schema(), indent=2) + "\n"
    else:
        text = FORMATS[args.format](select(_catalog(), sort="date"))
    if args.out:
        from pathlib import Path

        path = Path(args.out)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        print(f"wrote {path}")
    else:
        sys.stdout.write(text)


def cmd_site_build(args) -> None:
    import time

    from .catalog.site import build_site

    t = time.perf_counter()
    out = build_site(_catalog(), args.out)
    print(f"built {out} ({len(list(out.rglob('*.html')))} pages) in {time.perf_counter() - t:.2f} s")


def cmd_site_serve(args) -> None:
    from pathlib import Path

    from .catalog.site import build_site, serve

    folder = Path(args.folder)
    if not (folder / "index.html").exists():
        build_site(_catalog(), folder)
    try:
        serve(folder, args.port)
    except OSError as e:
        raise TcatError(f"cannot serve on port {args.port}: {e.strerror}; pick another with --port") from None


def cmd_pictures(args) -> None:
    from pathlib import Path

    from .catalog.pictures import family_tree_svg, sizes_svg, timeline_svg

    catalog = _catalog()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, svg in (("tree", family_tree_svg(catalog)), ("timeline", timeline_svg(catalog.entries)),
                      ("sizes", sizes_svg(catalog.entries))):
        (out / f"{name}.svg").write_text(svg, encoding="utf-8")
        print(out / f"{name}.svg")


def cmd_verify(args) -> None:
    from rich.table import Table

    from .catalog.query import human
    from .catalog.verify import TOLERANCE, verify

    import time

    t = time.perf_counter()
    catalog = _catalog()
    checks = verify(catalog, args.names or None)
    if args.markdown:
        from .catalog.verify import markdown

        print(markdown(checks), end="")
        return
    table = Table(title=f"published vs computed parameters (meta device, tolerance {TOLERANCE:.0%})")
    for col in ("entry", "variant", "published", "computed", "Δ%", "status", "why"):
        table.add_column(col, justify="right" if col in ("published", "computed", "Δ%") else "left")
    style = {"ok": "green", "explained": "yellow", "FAIL": "bold red", "error": "bold red"}
    for c in checks:
        delta = "" if c.delta is None else f"{100 * c.delta:+.1f}"
        table.add_row(c.entry, c.variant, human(c.published), human(c.computed) if c.computed else "-", delta,
                      f"[{style[c.status]}]{c.status}[/]", c.note)
    console = _console()
    console.print(table)
    counts = {s: sum(c.status == s for c in checks) for s in ("ok", "explained", "FAIL", "error")}
    entries = len({c.entry for c in checks})
    console.print(f"{entries} entries, {len(checks)} sizes: {counts['ok']} within {TOLERANCE:.0%}, "
                  f"{counts['explained']} explained, {counts['FAIL']} unexplained, {counts['error']} not buildable "
                  f"({time.perf_counter() - t:.2f} s)")
    _write_json(args.json, [c.__dict__ | {"delta": c.delta} for c in checks])
    if counts["FAIL"] or counts["error"]:
        raise TcatError(f"{counts['FAIL'] + counts['error']} size(s) differ from the published count without explanation")


def cmd_build(args) -> None:
    """Build a catalog entry (or named config) with random weights; optionally save it."""
    _threads(0)
    import torch

    from .catalog.query import human
    from .catalog.verify import build_config, tiny_config
    from .nn.count import parameter_breakdown
    from .nn.model import build_model

    catalog = _catalog()
    entry = catalog.find(args.name)
    if entry is not None and entry.spec:
        spec = entry.spec.to_dict()
        variants = list(spec["variants"])
        variant = args.variant or variants[0]
        if variant not in variants:
            raise TcatError(f"{entry.name} has no variant {variant!r}; choose from {', '.join(variants)}")
        cfg = build_config(spec, variant)
        label = f"{entry.name} {variant}"
    elif entry is not None:
        raise TcatError(f"{entry.name} has no architecture spec" + (f": {entry.not_buildable}" if entry.not_buildable else ""))
    else:
        from .families import get_config

        cfg, label = get_config(args.name), args.name
    if args.scale == "tiny":
        cfg = tiny_config(cfg)
    elif args.scale != "full":
        raise TcatError(f"--scale {args.scale!r}: use full or tiny")
    parts = parameter_breakdown(cfg)
    total = sum(parts.values())
    if args.out and total > 2e9:
        raise TcatError(f"{label} has {human(total)} parameters: too large to build with weights here; use --scale tiny")
    torch.manual_seed(args.seed)
    # Without --out nothing needs values: large models are built on the meta device (shapes only).
    model = build_model(cfg, device="meta" if not args.out and total > 2e8 else None)
    print(f"{label} ({args.scale}): {cfg.arch}, {human(total)} parameters " +
          ", ".join(f"{k} {human(v)}" for k, v in parts.items()))
    if args.out:
        from .train.checkpoint import save_checkpoint

        folder = save_checkpoint(args.out, model, {"built_from": {"name": args.name, "variant": args.variant, "scale": args.scale}})
        print(f"saved randomly initialised weights to {folder}")


def cmd_catalog_lint(args) -> None:
    from pathlib import Path

    from .catalog.lint import lint
    from .catalog.load import LINEAGE, MODELS

    models = Path(args.models) if args.models else MODELS
    problems = lint(models, LINEAGE)
    for p in problems:
        print(p)
    n = len(list(models.glob("*.yaml")))
    if problems:
        raise TcatError(f"{len(problems)} problem(s) in {n} entries")
    print(f"{n} entries, no problems")


# -- argument parsing ----------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """Usage mistakes get one line (and --help for the rest), like every other error of tcat."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tcat", description="transformer-catalog: the Transformer catalog, made executable.")
    p.add_argument("--version", action="version", version=f"tcat {__import__('transformer_catalog').__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, fn, help):
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(fn=fn)
        return sp

    def threads(sp):
        sp.add_argument("--threads", type=int, default=0, help="CPU threads (default: the cores that are free)")

    sp = add("list", cmd_list, "the catalog as a table, filtered and sorted")
    sp.add_argument("search", nargs="*", help="free-text search over names, descriptions, corpus, labs")
    for flag, helptext in (("--family", "e.g. BERT, GPT, T5"), ("--arch", "encoder, decoder or encoder-decoder"),
                           ("--task", "pretraining task: LM, causal LM, prefix LM, MLM, PLM, DAE, RTD, NSP, SOP, contrastive, other"),
                           ("--lab", "e.g. Google, Meta, OpenAI"), ("--license", "open, open-restricted, non-commercial, api, closed, code-only, unknown"),
                           ("--after", "from this year or month (2020, 2020-05)"), ("--before", "up to this year or month"),
                           ("--min-params", "largest size at least this (350M, 1.5B)"), ("--max-params", "smallest size at most this")):
        sp.add_argument(flag, default=None, help=helptext)
    sp.add_argument("--sort", default="date", help="date (default), name, params or family")
    sp.add_argument("--reverse", action="store_true")
    sp.add_argument("--names", action="store_true", help="print names only, one per line")

    sp = add("show", cmd_show, "every fact of one model, its lineage and its sources")
    sp.add_argument("name")
    sp.add_argument("--no-computed", action="store_true",
                    help="skip the computed parameter breakdown and FLOPs (computing them needs torch once)")

    sp = add("tree", cmd_tree, "the family tree, from the pre-Transformer roots or from ROOT")
    sp.add_argument("root", nargs="?")

    sp = add("timeline", cmd_timeline, "models by month of first publication")
    sp.add_argument("--after", default=None)
    sp.add_argument("--before", default=None)

    add("taxonomy", cmd_taxonomy, "pretraining architecture × pretraining task")

    sp = add("export", cmd_export, "the catalog as JSON, CSV, Markdown, BibTeX or LaTeX")
    sp.add_argument("--format", default="json", choices=["json", "csv", "markdown", "bibtex", "latex"])
    sp.add_argument("--schema", action="store_true", help="print the JSON Schema of the JSON export instead")
    sp.add_argument("--out", default=None, help="write to this file (atomically) instead of standard output")

    site = sub.add_parser("site", help="build or serve the static website", description="build or serve the static website")
    sitesub = site.add_subparsers(dest="site_command", metavar="COMMAND")
    sp = sitesub.add_parser("build", help="write the offline site into OUT")
    sp.add_argument("out")
    sp.set_defaults(fn=cmd_site_build)
    sp = sitesub.add_parser("serve", help="serve the site on 127.0.0.1 (building it first if needed)")
    sp.add_argument("folder", nargs="?", default="site")
    sp.add_argument("--port", type=int, default=8000)
    sp.set_defaults(fn=cmd_site_serve)

    sp = add("pictures", cmd_pictures, "write the family tree, timeline and size chart as SVG files")
    sp.add_argument("--out", default="pictures")

    sp = add("build", cmd_build, "build a catalog entry (or named config) with random weights; --out saves it")
    sp.add_argument("name")
    sp.add_argument("--variant", default=None, help="size variant (default: the first in the entry's spec)")
    sp.add_argument("--scale", default="full", help="full (the published shape) or tiny (2 layers, width 64)")
    sp.add_argument("--out", default=None, help="save the model as a checkpoint folder")
    sp.add_argument("--seed", type=int, default=0)

    sp = add("verify", cmd_verify, "build each catalog entry's architecture and check its published parameter counts")
    sp.add_argument("names", nargs="*", help="entries to verify (default: every entry with a spec)")
    sp.add_argument("--json", default=None, help="also write the checks to this file")
    sp.add_argument("--markdown", action="store_true", help="print the checks as a Markdown table (for the README)")

    add("configs", cmd_configs, "list the named model configurations")

    cat = sub.add_parser("catalog", help="check the catalog data", description="check the catalog data")
    catsub = cat.add_subparsers(dest="catalog_command", metavar="COMMAND")
    sp = catsub.add_parser("lint", help="validate every entry: schema and consistency, as file:line: field: message")
    sp.add_argument("--models", default=None, help="folder of entry YAML files (default: the shipped catalog)")
    sp.set_defaults(fn=cmd_catalog_lint)

    sp = add("params", cmd_params, "count parameters of named configs against the paper's Table 3")
    sp.add_argument("names", nargs="*", default=["transformer-base", "transformer-big"])
    sp.add_argument("--vocab", type=int, default=0, help="vocabulary size (default: the config's)")

    sp = add("train", cmd_train, "train a model on a task, with checkpoints and exact --resume")
    sp.add_argument("--task", default="translate",
                    help="translate (default), copy, or a pretraining objective: clm, prefix-lm, plm, mlm, mlm-wwm, "
                         "mlm-nsp, mlm-sop, rtd, span, denoise, contrastive")
    sp.add_argument("--data", default=None, help="translate: bible-en-es, bible-sample or a .tsv file; objectives: "
                    "bible-sample, kjv, web, shakespeare, bible-kjv-web (pairs), or a .txt/.jsonl/.tsv file")
    sp.add_argument("--model", default="transformer-small",
                    help="named config (tcat configs) or catalog entry (NAME or NAME:VARIANT, see --scale)")
    sp.add_argument("--scale", default="full", help="for a catalog entry: full or tiny (2 layers, width 64)")
    sp.add_argument("--init", default=None, help="start from pretrained weights and their tokenizer: minilm, a Hugging "
                    "Face folder, or a tcat run (replaces --model)")
    sp.add_argument("--max-len", type=int, default=0, help="objectives: longest sequence (default: the model's context)")
    sp.add_argument("--out", required=True, help="run folder: checkpoint/ and metrics.jsonl go here")
    sp.add_argument("--steps", type=int, default=0, help="total optimizer steps (default 2000)")
    sp.add_argument("--minutes", type=float, default=None, help="stop and checkpoint after this many minutes")
    sp.add_argument("--max-tokens", type=int, default=4096, help="tokens per batch (padded, longer side)")
    sp.add_argument("--vocab", type=int, default=0, help="BPE vocabulary size (default: the config's)")
    sp.add_argument("--lr-scale", type=float, default=1.0, help="multiplier on the paper's learning-rate schedule")
    sp.add_argument("--warmup", type=int, default=4000)
    sp.add_argument("--optimizer", default="adam", choices=["adam", "adamw"], help="adam (the paper) or adamw")
    sp.add_argument("--weight-decay", type=float, default=0.0)
    sp.add_argument("--schedule", default="inverse-sqrt", choices=["inverse-sqrt", "cosine"],
                    help="inverse-sqrt (the paper) or cosine (peak --lr)")
    sp.add_argument("--lr", type=float, default=3e-4, help="peak learning rate of the cosine schedule")
    sp.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step (per process)")
    sp.add_argument("--clip", type=float, default=0.0, help="gradient-norm clipping (0 = off)")
    sp.add_argument("--label-smoothing", type=float, default=0.1)
    sp.add_argument("--dropout", type=float, default=None)
    sp.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a model config field, e.g. --set d_model=384 --set attention.n_heads=6")
    sp.add_argument("--eval-every", type=int, default=250)
    sp.add_argument("--save-every", type=int, default=250)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--bf16", nargs="?", const="on", default="auto", choices=["auto", "on", "off"],
                    help="bf16 autocast; auto (default): on where the CPU has AMX, where it is faster than fp32")
    sp.add_argument("--compile", action="store_true",
                    help="torch.compile each block (measured no faster in fp32 on a CPU without AMX; see BENCHMARKS.md)")
    sp.add_argument("--fsdp", action="store_true",
                    help="under torchrun: shard weights, gradients and optimizer state (FSDP2) instead of DDP")
    sp.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    threads(sp)

    def results(sp):  # the options of commands that train or evaluate and report a result
        sp.add_argument("--json", default=None, help="also write the result to this file")
        sp.add_argument("--quiet", action="store_true", help="no progress output")
        threads(sp)

    sp = add("classify", cmd_classify, "sentiment classification: fine-tune an encoder, or a TF-IDF / BiLSTM baseline")
    sp.add_argument("--data", default="vader-movies", help="vader-movies (python -m transformer_catalog.data.sentiment)")
    sp.add_argument("--model", default="minilm", help="tfidf, bilstm, minilm, a Hugging Face folder or a tcat encoder run")
    sp.add_argument("--epochs", type=float, default=3.0)
    sp.add_argument("--lr", type=float, default=0.0, help="default: 5e-5 for encoders, 2e-3 for the BiLSTM")
    sp.add_argument("--max-len", type=int, default=128)
    sp.add_argument("--seed", type=int, default=0)
    results(sp)

    sp = add("index", cmd_index, "embed a corpus into a Milvus index (Milvus Lite file by default) and evaluate retrieval")
    sp.add_argument("--encoder", default="minilm", help="minilm, a Hugging Face folder, a tcat contrastive run, or tfidf")
    sp.add_argument("--data", default="bible-kjv-web", help="bible-kjv-web (Debian sword-text-kjv/-web), bible-sample, "
                    "or a query<TAB>document .tsv file")
    sp.add_argument("--uri", default="runs/search/kjv.db", help="a Milvus Lite file, or http://host:19530")
    sp.add_argument("--evaluate", action="store_true", help="query the held-out verses: recall@1, recall@10, MRR@10")
    sp.add_argument("--json", default=None, help="also write the evaluation here")
    threads(sp)

    sp = add("search", cmd_search, "semantic search: the closest documents of an index to a text")
    sp.add_argument("text", nargs="*", help="the query (default: standard input)")
    sp.add_argument("--uri", default="runs/search/kjv.db")
    sp.add_argument("--encoder", default=None, help="default: the one the index was built with")
    sp.add_argument("--k", type=int, default=5)
    threads(sp)

    sp = add("vision", cmd_vision, "train a ViT (or the CNN baseline) on images and report test accuracy")
    sp.add_argument("--data", default="fashion-mnist", help="fashion-mnist (Debian dataset-fashion-mnist) or digits (scikit-learn)")
    sp.add_argument("--model", default="vit", help="vit or cnn")
    sp.add_argument("--epochs", type=float, default=5.0)
    sp.add_argument("--minutes", type=float, default=0.0, help="stop after this long (0 = run all epochs)")
    sp.add_argument("--batch", type=int, default=128)
    sp.add_argument("--lr", type=float, default=2e-3)
    sp.add_argument("--seed", type=int, default=0)
    results(sp)

    def decoding(sp, beam_default):
        sp.add_argument("--beam", type=int, default=beam_default, help="beam size (1 = greedy)")
        sp.add_argument("--alpha", type=float, default=0.6, help="length penalty (paper: 0.6)")
        sp.add_argument("--temperature", type=float, default=0.0, help="> 0 samples instead of searching")
        sp.add_argument("--top-k", type=int, default=0)
        sp.add_argument("--top-p", type=float, default=1.0)
        sp.add_argument("--max-new-tokens", type=int, default=200)
        threads(sp)

    sp = add("translate", cmd_translate, "translate text (arguments or stdin lines) with an encoder-decoder checkpoint")
    sp.add_argument("checkpoint")
    sp.add_argument("text", nargs="*")
    decoding(sp, beam_default=4)

    sp = add("generate", cmd_generate, "generate text from a checkpoint, streaming tokens as they come")
    sp.add_argument("checkpoint")
    sp.add_argument("prompt", nargs="?")
    sp.add_argument("--seed", type=int, default=None)
    sp.add_argument("--int8", action="store_true", help="weight-only int8 Linears: faster decoding of large models")
    sp.add_argument("--compile", action="store_true",
                    help="decode through a static KV cache with a compiled step (decoder-only; ~30 s to compile, "
                         "then ~1.3x faster per token at batch 1)")
    decoding(sp, beam_default=1)

    sp = add("evaluate", cmd_evaluate, "translation: BLEU and chrF on held-out books; language model: held-out "
                                       "perplexity and samples")
    sp.add_argument("checkpoint")
    sp.add_argument("--data", default=None, help="default: the dataset the checkpoint was trained on")
    sp.add_argument("--split", default="test", choices=["valid", "test"])
    sp.add_argument("--beam", type=int, default=4)
    sp.add_argument("--alpha", type=float, default=0.6)
    sp.add_argument("--limit", type=int, default=0, help="evaluate on the first N pairs only")
    sp.add_argument("--prompt", action="append", default=[], help="language models: sample a continuation of this")
    sp.add_argument("--int8", action="store_true", help="language models: evaluate with weight-only int8 Linears")
    results(sp)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return 0
    import warnings

    # a warning is one line, as an error is (not the file, line and source that Python adds)
    warnings.formatwarning = lambda message, category, *_, **__: f"tcat {args.command}: warning: {message}\n"
    try:
        args.fn(args)
    except TcatError as e:
        print(f"tcat {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tcat {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
