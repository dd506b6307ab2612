"""Decoding commands: translate, generate (streaming), evaluate. The decoding flags are generated
from `Decoding`, so each is written once with its default and range."""

from __future__ import annotations

import json
import sys

from ..errors import TcatError
from .common import add_json, add_threads, check_output_file, read_inputs, set_threads, write_json
from .options import add_fields, field_defaults, given, help_text, number


def decoding(args, defaults: dict):
    """The decoding options given, over the command's defaults; sampling filters need sampling."""
    from .sampling import Decoding

    values = given(args, Decoding)
    d = Decoding(**{**field_defaults(Decoding), **defaults, **values})
    if d.temperature == 0:
        for name in ("top_k", "top_p"):
            if name in values:
                raise TcatError(f"--{name.replace('_', '-')} filters sampling, which --temperature > 0 turns on")
    return d


def run_kind(meta: dict, cfg) -> str:
    """What a checkpoint is, in words: 'a run trained with --task mlm (encoder)', ..."""
    task = meta.get("task")
    if not isinstance(task, dict):
        return (
            "a model built by tcat build (no training run)" if "built_from" in meta else "a checkpoint without a task"
        )
    objective = task.get("objective")
    arch = cfg.arch
    return f"a run trained with --task {objective or task.get('name', '?')} ({arch})"


ENCODER_COMMANDS = "tcat classify --model {p}, tcat index --encoder {p} (contrastive runs) or tcat train --init {p}"


def refuse_encoder(path, meta: dict, cfg, command: str) -> None:
    """generate / evaluate need a decoder: an encoder run is told what it is and what works on it."""
    if cfg.arch not in ("decoder", "encoder-decoder"):
        raise TcatError(
            f"{path}: {run_kind(meta, cfg)} does not generate text, so tcat {command} does not apply; "
            f"use it with {ENCODER_COMMANDS.format(p=path)}"
        )


def encode_source(model, tok, text: str, eos_id: int) -> list[int]:
    ids = tok.encode(text) + [eos_id]
    limit = model.config.position.max_len
    if len(ids) > limit:
        raise TcatError(f"input of {len(ids)} tokens is longer than the model's limit of {limit}: {text[:40]!r}...")
    return ids


def cmd_translate(args) -> None:
    d = decoding(args, {"beam": 4})
    set_threads(args.threads)
    import torch

    from ..generate import SamplingConfig, beam_search, generate, strip_after_eos
    from ..nn.model import EncoderDecoderModel
    from ..train.checkpoint import load_model, read_config

    _, meta, cfg = read_config(args.checkpoint)
    if cfg.arch != "encoder-decoder":
        raise TcatError(
            f"{args.checkpoint}: translate needs an encoder-decoder checkpoint; this is "
            f"{run_kind(meta, cfg)}"
            + ("" if cfg.arch == "decoder" else f"; use it with {ENCODER_COMMANDS.format(p=args.checkpoint)}")
        )
    model, meta, tok = load_model(args.checkpoint)
    if not isinstance(model, EncoderDecoderModel) or tok is None:
        raise TcatError(f"{args.checkpoint}: translate needs an encoder-decoder checkpoint with a tokenizer")
    for text in read_inputs(args.text):
        src = torch.tensor([encode_source(model, tok, text, tok.eos_id)])
        start = torch.tensor([[tok.bos_id]])
        max_new = min(d.max_new_tokens, src.size(1) + 50, model.config.position.max_len)  # paper: input + 50
        if d.temperature > 0 or d.beam <= 1:
            s = SamplingConfig(d.temperature, d.top_k, d.top_p)
            ids = generate(
                model, start, max_new, src=src, eos_id=tok.eos_id, sampling=s, no_repeat_ngram=d.no_repeat_ngram
            )[0].tolist()
        else:
            ids = beam_search(
                model, start, max_new, d.beam, d.alpha, src=src, eos_id=tok.eos_id, no_repeat_ngram=d.no_repeat_ngram
            )[0]
        print(tok.decode(strip_after_eos(ids, tok.eos_id)))


def cmd_generate(args) -> None:
    """Stream tokens as they are produced (decoder-only: continue the prompt; encoder-decoder:
    decode from the prompt as source); with --beam N, print the best beam when it is found."""
    d = decoding(args, {})
    if d.beam > 1 and d.temperature > 0:
        raise TcatError("--beam searches and --temperature samples: choose one")
    if d.beam > 1 and args.compile:
        raise TcatError("--compile decodes greedily or by sampling, not with --beam")
    set_threads(args.threads)
    from ..train.checkpoint import read_config

    _, meta, cfg = read_config(args.checkpoint)
    refuse_encoder(args.checkpoint, meta, cfg, "generate")
    import torch

    from ..generate import SamplingConfig, beam_search, stream_text, strip_after_eos
    from ..nn.model import EncoderDecoderModel
    from ..train.checkpoint import load_model

    model, meta, tok = load_model(args.checkpoint)
    if tok is None:
        raise TcatError(f"{args.checkpoint}: checkpoint has no tokenizer.json, so text cannot be encoded")
    if args.int8:
        from ..nn.quant import quantize_int8

        quantize_int8(model)
    if args.seed is not None:
        torch.manual_seed(args.seed)
    s = SamplingConfig(d.temperature, d.top_k, d.top_p)
    for text in read_inputs([args.prompt] if args.prompt is not None else []):
        if isinstance(model, EncoderDecoderModel):
            src = torch.tensor([encode_source(model, tok, text, tok.eos_id)])
            start = torch.tensor([[tok.bos_id]])
        else:
            src = None
            start = torch.tensor([encode_source(model, tok, text, tok.eos_id)[:-1]])
            sys.stdout.write(text)
        room = model.config.position.max_len - (start.size(1) if src is None else 0)
        if room <= 0:
            raise TcatError(f"the prompt fills the model's context of {model.config.position.max_len} tokens")
        if d.beam > 1:
            ids = beam_search(
                model,
                start,
                min(d.max_new_tokens, room),
                d.beam,
                d.alpha,
                src=src,
                eos_id=tok.eos_id,
                no_repeat_ngram=d.no_repeat_ngram,
            )[0]
            sys.stdout.write(tok.decode(strip_after_eos(ids, tok.eos_id)))
        else:
            for piece in stream_text(
                model,
                tok,
                start,
                min(d.max_new_tokens, room),
                src=src,
                sampling=s,
                compile=args.compile,
                no_repeat_ngram=d.no_repeat_ngram,
            ):
                sys.stdout.write(piece)
                sys.stdout.flush()
        sys.stdout.write("\n")


def cmd_evaluate(args) -> None:
    """Translation runs: BLEU/chrF on held-out books; causal language-model runs: held-out perplexity + samples;
    copy-task runs: exact match on held-out sequences, with examples."""
    d = decoding(args, {"beam": 4})
    check_output_file(args.json)
    set_threads(args.threads)
    from ..train.checkpoint import read_config

    _, meta, cfg = read_config(args.checkpoint)
    task = meta.get("task") if isinstance(meta.get("task"), dict) else {}
    if task.get("objective") == "clm":
        from ..apps.language_model import evaluate_lm
        from .sampling import Decoding

        # the translation options: refused rather than silently unused on a language model
        unused = [f"--{k.replace('_', '-')}" for k in given(args, Decoding)]
        unused += ["--data"] if args.data is not None else []
        unused += ["--limit"] if args.limit else []
        if unused:
            raise TcatError(
                f"{args.checkpoint}: {' '.join(unused)} evaluate{'s' if len(unused) == 1 else ''} translation runs; "
                "a language-model run is evaluated on its held-out text with sampled continuations of --prompt"
            )

        result = evaluate_lm(
            args.checkpoint, args.prompt or ["ROMEO:", "First Citizen:\nBefore we proceed"], int8=args.int8
        )
    elif task.get("name") == "copy":
        from ..apps.copy_eval import evaluate_copy
        from .sampling import Decoding

        if args.int8 or args.prompt or args.data is not None or given(args, Decoding):
            raise TcatError(f"{args.checkpoint}: a copy-task run is evaluated by greedy decoding only (no options)")
        result = evaluate_copy(args.checkpoint, n=args.limit or 200)
    else:
        if args.int8:
            raise TcatError(
                f"{args.checkpoint}: --int8 evaluates language-model runs (tcat train --task clm), not translation"
            )
        refuse_encoder(args.checkpoint, meta, cfg, "evaluate")
        if task.get("name") != "translate" or cfg.arch != "encoder-decoder":
            raise TcatError(
                f"{args.checkpoint}: {run_kind(meta, cfg)}; tcat evaluate measures translation runs "
                f"(BLEU, chrF) and causal language-model runs (--task clm); "
                f"tcat generate {args.checkpoint} samples from it"
            )
        if args.prompt:
            raise TcatError("--prompt samples from language-model runs (tcat train --task clm), not translation")
        from ..apps.translation import evaluate_translation

        result = evaluate_translation(
            args.checkpoint,
            args.data,
            args.split,
            d.beam,
            d.alpha,
            args.limit,
            progress=not args.quiet,
            no_repeat_ngram=d.no_repeat_ngram,
        )
    print(json.dumps(result, indent=2))
    write_json(args.json, result)


class _Intermixed:
    """A parser whose options may come between its positionals (`tcat translate RUN --threads 2
    "text"`): argparse's parse_known_intermixed_args, used where argparse parses a subcommand
    (parse_known_args). That function calls parse_known_args itself, for the plain parse."""

    _mixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._mixing:
            return super().parse_known_args(args, namespace)
        self._mixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._mixing = False


def _intermixed(sp) -> None:
    if not getattr(sp, "skipped", False):
        sp.__class__ = type("IntermixedParser", (_Intermixed, type(sp)), {})


def _decoding_fields(sp, **kw) -> None:
    if not getattr(sp, "skipped", False):
        from .sampling import Decoding

        add_fields(sp, Decoding, **kw)


def register(sub, add) -> None:
    sp = add("translate", cmd_translate, "translate text (arguments or stdin lines) with an encoder-decoder checkpoint")
    sp.add_argument("checkpoint", help="a run folder (tcat train --out) or checkpoint folder")
    sp.add_argument("text", nargs="*", help="texts to translate (default: the lines of standard input)")
    _intermixed(sp)  # a checkpoint, then options and texts in any order
    _decoding_fields(sp, defaults={"beam": 4})
    add_threads(sp)

    sp = add("generate", cmd_generate, "generate text from a checkpoint, streaming tokens as they come")
    sp.add_argument("checkpoint", help="a run folder (tcat train --out) or checkpoint folder")
    sp.add_argument("prompt", nargs="?", help="the prompt (default: each line of standard input)")
    seed = number(int, 0, 2**63 - 1)
    sp.add_argument(
        "--seed",
        type=seed,
        default=None,
        metavar="N",
        help=help_text("sampling seed", None, seed, default_text="random"),
    )
    sp.add_argument(
        "--int8", action="store_true", help="weight-only int8 Linears: faster decoding of large models (default off)"
    )
    sp.add_argument(
        "--compile",
        action="store_true",
        help="decode through a static KV cache with a compiled step (decoder-only; ~30 s to compile, "
        "then ~1.3x faster per token at batch 1; default off)",
    )
    _decoding_fields(sp)
    add_threads(sp)

    sp = add(
        "evaluate",
        cmd_evaluate,
        "translation: BLEU and chrF on held-out books; language model: held-out perplexity and samples",
    )
    sp.add_argument("checkpoint", help="a run folder (tcat train --out) or checkpoint folder")
    sp.add_argument("--data", default=None, help="translation data (default: the dataset the run was trained on)")
    sp.add_argument("--split", default="test", choices=["valid", "test"], help="held-out split (default test)")
    _decoding_fields(sp, include=("beam", "alpha", "no_repeat_ngram"), defaults={"beam": 4})
    limit = number(int, 0, 10**9)
    sp.add_argument(
        "--limit",
        type=limit,
        default=0,
        metavar="N",
        help=help_text("evaluate on the first N pairs only (0 = all)", 0, limit),
    )
    sp.add_argument(
        "--prompt",
        action="append",
        default=[],
        help="language models: sample a continuation of this (repeatable; default: two Shakespeare openings)",
    )
    sp.add_argument(
        "--int8", action="store_true", help="language models: evaluate with weight-only int8 Linears (default off)"
    )
    add_json(sp)
    sp.add_argument("--quiet", action="store_true", help="no progress output (default off)")
    add_threads(sp)
