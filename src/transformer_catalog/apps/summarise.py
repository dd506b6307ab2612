"""Summarisation: a tcat encoder-decoder learns a function's one-line docstring summary from the
docstring's body (data/docstrings.py: CPython's standard library, split by module), trained by the
one trainer (train/trainer.py) with the translation objective (objectives/seq2seq.py); scored by
ROUGE-L F1 (rouge-score, Porter stemming) beside the lead-sentence baseline (the body's first
sentence as its own summary), with a paired bootstrap interval on the difference.

A body longer than the model's context is cut to its first max_len - 1 tokens (the encoder's </s>
takes the last position): summaries are mostly about a docstring's beginning, and dropping long
bodies would drop the pairs with the most to summarise. A target that does not fit is dropped.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from ..errors import TcatError

DATA = "docstrings"


def make_summary_task(vocab_size: int, max_len: int, tokenizer=None, root: str | None = None):
    """A Task (train/tasks.py) over the docstring pairs' train and valid splits, one BPE vocabulary
    learned from the training split's bodies and summaries."""
    from ..data.docstrings import load_pairs, split_pairs
    from ..train.tasks import pair_task

    meta = {"name": "summarise", "data": DATA, "python": ".".join(map(str, sys.version_info[:3]))}
    if root is not None:
        meta["root"] = str(root)
    splits = split_pairs(load_pairs(root))
    return pair_task("summarise", splits, vocab_size, max_len, tokenizer, truncate_source=True, meta=meta)


def make_pretrain_task(vocab_size: int, max_len: int, tokenizer=None, root: str | None = None):
    """BART's denoising (objectives/denoising.py: text infilling + paragraph permutation) over every
    docstring of the training modules (data/docstrings.docstring_documents; valid modules for the held-out
    loss, test modules never read), with the BPE vocabulary the summariser then keeps."""
    from ..data.docstrings import docstring_documents
    from ..data.tokenizer import objective_specials, train_bpe
    from ..objectives import make_objective
    from ..objectives.base import Vocab
    from ..train.tasks import Task, chunk

    docs = docstring_documents(root)
    if tokenizer is None:
        texts = [p for d in docs["train"] for p in d]
        tokenizer = train_bpe(texts, vocab_size, extra_specials=objective_specials(0))

    def encode(items):
        return [piece for doc in items for piece in chunk(tokenizer.encode_batch(doc), max_len - 1)]

    meta = {"name": "summarise-pretrain", "data": DATA, "python": ".".join(map(str, sys.version_info[:3]))}
    if root is not None:
        meta["root"] = str(root)
    return Task(
        name="summarise-pretrain",
        objective=make_objective("denoise", Vocab.from_tokenizer(tokenizer), max_len=max_len),
        train=encode(docs["train"]),
        valid=encode(docs["valid"]),
        pad_id=tokenizer.pad_id,
        vocab_size=tokenizer.vocab_size,
        tokenizer=tokenizer,
        meta=meta,
    )


TASKS = {"summarise": make_summary_task, "summarise-pretrain": make_pretrain_task}


def train_summariser(
    out: str,
    model: str = "transformer-tiny",
    train: dict | None = None,
    vocab: int = 4000,
    max_len: int = 128,
    resume: bool = False,
    root: str | None = None,
    progress: bool = True,
    pretrain: bool = False,
    init: str | None = None,
) -> dict:
    """Train (or with `resume`, continue) a summariser into `out`; `train`: TrainConfig fields.
    `pretrain`: BART-style denoising of the training modules' docstrings instead (make_pretrain_task);
    `init`: start from such a run's weights and vocabulary. Returns the final state: step, CPU
    seconds, validation loss, checkpoint folder."""
    import torch

    from ..catalog.specs import resolve
    from ..files import output_dir
    from ..nn.model import build_model
    from ..train.checkpoint import read_config
    from ..train.setup import check_out, train_config
    from ..train.trainer import Trainer

    cpu0 = time.process_time()
    ckpt = Path(out) / "checkpoint"
    if resume:
        from ..data.tokenizer import Tokenizer

        if not (ckpt / "trainer_state.json").is_file():
            raise TcatError(f"{out}: nothing to resume (no checkpoint/trainer_state.json); drop --resume to start")
        folder, meta, model_cfg = read_config(ckpt)
        name = meta.get("task", {}).get("name")
        if name not in TASKS:
            raise TcatError(f"{folder}: not a summariser run (task {name!r})")
        values = {**meta["train"], **(train or {})}
        cfg = train_config(values, model_cfg)
        tok = Tokenizer.load(folder / "tokenizer.json")
        task = TASKS[name](model_cfg.embedding.vocab_size, model_cfg.position.max_len, tok, meta["task"].get("root"))
        start = None
    else:
        check_out(Path(out))
        start, tok = None, None
        if init is not None:  # weights and vocabulary of a pretraining run
            from ..train.checkpoint import load_model

            start, init_meta, tok = load_model(init)
            if init_meta.get("task", {}).get("name") != "summarise-pretrain" or tok is None:
                raise TcatError(f"--init {init}: not a summariser pretraining run (tcat summarise pretrain)")
            base, root = start.config, init_meta["task"].get("root", root)
            max_len = base.position.max_len
        else:
            base = resolve(model).config
            if base.arch != "encoder-decoder":
                raise TcatError(f"--model {model}: summarisation needs an encoder-decoder, not {base.arch}")
            base = base.replace(**{"position.max_len": max(max_len, 8)})
        task = (make_pretrain_task if pretrain else make_summary_task)(vocab, max_len, tok, root)
        model_cfg = base.replace(**{"embedding.vocab_size": task.vocab_size, "embedding.pad_id": task.pad_id})
        cfg = train_config({"bf16": "off", **(train or {})}, model_cfg)
    torch.manual_seed(cfg.seed)
    net = build_model(model_cfg)
    if start is not None:
        net.load_state_dict(start.state_dict())
    trainer = Trainer(
        net, task, cfg, out, progress=progress, run_meta={"model": model, "max_len": max_len, "init": init}
    )
    if resume:
        trainer.resume()
    else:
        output_dir(Path(out))
    state = trainer.fit()
    result = {
        "step": state["step"],
        "train_pairs": len(task.train),
        "valid_pairs": len(task.valid),
        "elapsed_s": round(state["elapsed"], 1),
        "cpu_s": round(time.process_time() - cpu0, 1),
        "valid_loss": round(trainer.evaluate(), 4),
        "checkpoint": str(trainer.ckpt),
    }
    _record(Path(out), result, resume)
    return result


def _record(out: Path, result: dict, resume: bool) -> None:
    """out/train_result.json: every invocation's result and the CPU seconds of all of them together
    (the trainer's state counts wall time only; on a shared machine CPU time is the honest cost)."""
    from ..files import write_json

    path, runs = out / "train_result.json", []
    if resume and path.is_file():
        try:
            runs = list(json.loads(path.read_text(encoding="utf-8")).get("invocations", []))
        except (OSError, ValueError, AttributeError):
            runs = []  # unreadable record: start it again rather than refuse to train
    runs.append(result)
    write_json(path, {"invocations": runs, "cpu_s": round(sum(r.get("cpu_s", 0) for r in runs), 1)})


def rouge_l(hyps: list[str], refs: list[str]) -> list[float]:
    """ROUGE-L F1 per pair (rouge-score, Porter stemmer), x100."""
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise TcatError("ROUGE needs rouge-score: pip install 'transformer-catalog[apps]' (or rouge-score)") from None
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [100 * scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs)]


def paired_bootstrap(a: list[float], b: list[float], n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% interval of mean(a) - mean(b) over resamples of the same pairs."""
    rng = random.Random(seed)
    k = len(a)
    diffs = sorted(sum(a[i] - b[i] for i in (rng.randrange(k) for _ in range(k))) / k for _ in range(n))
    return round(diffs[int(0.025 * n)], 2), round(diffs[int(0.975 * n) - 1], 2)


def summarise_texts(
    model, tok, texts: list[str], beam: int = 1, max_new_tokens: int = 48, no_repeat_ngram: int = 0
) -> list[str]:
    """One summary per text (sources beyond the model's context are cut: see the module docstring);
    no_repeat_ngram > 0 forbids any n-gram of tokens twice (a small model's loops, "is is is")."""
    from .translation import translate_batch

    return translate_batch(model, tok, texts, beam, 0.6, max_new_tokens=max_new_tokens, no_repeat_ngram=no_repeat_ngram)


def _training_record(run: str) -> dict:
    """A run's trainer state (steps, tokens, wall seconds) and, where recorded, its CPU seconds."""
    from ..train.checkpoint import resolve

    try:
        folder = resolve(run)
    except TcatError:
        return {}  # the pretraining run was moved or deleted: the evaluation still stands
    state_file, record = folder / "trainer_state.json", folder.parent / "train_result.json"
    training = json.loads(state_file.read_text(encoding="utf-8")) if state_file.is_file() else {}
    training.pop("optimizer_param_groups", None)
    if record.is_file():
        training["cpu_s"] = json.loads(record.read_text(encoding="utf-8")).get("cpu_s")
    return training


def evaluate_summariser(
    checkpoint: str,
    split: str = "test",
    beam: int = 1,
    limit: int = 0,
    batch_size: int = 32,
    root: str | None = None,
    progress: bool = True,
    no_repeat_ngram: int = 0,
) -> dict:
    """ROUGE-L of the model's summaries and of the lead sentence on a split, every hypothesis kept."""
    import torch

    from ..data.docstrings import lead_sentence, load_pairs, split_pairs
    from ..train.checkpoint import load_model

    model, meta, tok = load_model(checkpoint)
    if tok is None or model.config.arch != "encoder-decoder" or meta.get("task", {}).get("name") != "summarise":
        raise TcatError(f"{checkpoint}: not a summariser checkpoint (train one with tcat summarise train)")
    pairs = split_pairs(load_pairs(root or meta["task"].get("root")))[split]
    if limit:
        pairs = pairs[:limit]
    if not pairs:
        raise TcatError(f"the {split} split of the docstring pairs is empty")
    cpu0, order = time.process_time(), sorted(range(len(pairs)), key=lambda i: len(pairs[i].src))
    hyps = [""] * len(pairs)
    from rich.progress import Progress

    with Progress(disable=not progress) as bar, torch.no_grad():
        job = bar.add_task(f"summarising {len(pairs)} {split} docstrings", total=len(pairs))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            for i, h in zip(
                idx, summarise_texts(model, tok, [pairs[i].src for i in idx], beam, no_repeat_ngram=no_repeat_ngram)
            ):
                hyps[i] = h
            bar.advance(job, len(idx))
    refs = [p.tgt for p in pairs]
    leads = [lead_sentence(p.src) for p in pairs]
    ours, base = rouge_l(hyps, refs), rouge_l(leads, refs)
    training = _training_record(checkpoint)
    init = (meta.get("run") or {}).get("init")
    cfg = model.config
    return {
        "pretraining": _training_record(init) if init else None,
        "model": {
            "params": sum(p.numel() for p in model.parameters()),
            "d_model": cfg.d_model,
            "layers": [cfg.n_encoder_layers, cfg.n_decoder_layers],
            "vocab": cfg.embedding.vocab_size,
            "max_len": cfg.position.max_len,
        },
        "training": training,
        "python": meta["task"].get("python"),
        "split": split,
        "pairs": len(pairs),
        "beam": beam,
        "no_repeat_ngram": no_repeat_ngram,
        "rouge_l": round(sum(ours) / len(ours), 2),
        "lead_rouge_l": round(sum(base) / len(base), 2),
        "difference_ci95": paired_bootstrap(ours, base),
        "decode_cpu_s": round(time.process_time() - cpu0, 1),
        "examples": [
            {"ref": p.ref, "body": p.src[:300], "summary": p.tgt, "model": h, "lead": lead}
            for p, h, lead in list(zip(pairs, hyps, leads))[:8]
        ],
        "hypotheses": hyps,
    }


__all__ = [
    "evaluate_summariser",
    "make_summary_task",
    "paired_bootstrap",
    "rouge_l",
    "summarise_texts",
    "train_summariser",
]
