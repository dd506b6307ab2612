"""The SFT policy: a tcat GPT trained as a causal LM on the training split's snippets of VADER's four rated
sets, through the one trainer (train/trainer.py: checkpoints, metrics.jsonl, exact resume).

Each snippet is one example, <s> text </s>, cut to the model's context. Prompts for the later stages
are the first 2-5 words of held-out snippets (`prompts`), never seen in SFT training.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from ..errors import TcatError
from .pairs import Snippet, load_snippets, split_snippets

STAGE = "rlhf-sft"  # the task name recorded in a checkpoint: what a later stage checks it resumes or starts from


@dataclass
class SFTConfig:
    model: str = "gpt2-6x256"  # a named config or catalog entry (a decoder)
    vocab: int = 4096
    max_len: int = 64
    steps: int = 1200
    batch: int = 32  # snippets per step
    lr: float = 1e-3
    warmup: int = 100
    seed: int = 0
    layers: int = 0  # 0 = the model's; else n_decoder_layers
    d_model: int = 0  # 0 = the model's; else d_model (and 4x d_ff)


def documents(snippets: list[Snippet], tok, max_len: int) -> list[list[list[int]]]:
    """Each snippet as one document of one sentence: <s> ids </s>, at most max_len + 1 tokens (the
    objective shifts by one)."""
    return [[[tok.bos_id, *ids][:max_len] + [tok.eos_id]] for ids in tok.encode_batch([s.text for s in snippets])]


def make_task(cfg: SFTConfig, tokenizer=None, snippets: dict | None = None):
    """The SFT Task (train/tasks.py) over the split's train (and valid) snippets; the BPE vocabulary is
    learned from the training snippets unless `tokenizer` is given (resume)."""
    from ..data.tokenizer import train_bpe
    from ..objectives import Vocab, make_objective
    from ..train.tasks import Task

    splits = snippets if snippets is not None else split_snippets(load_snippets(), cfg.seed)
    if not splits["train"]:
        raise TcatError("SFT: no training snippets")
    tok = tokenizer or train_bpe([s.text for s in splits["train"]], cfg.vocab)
    vocab = Vocab(tok.vocab_size, pad=tok.pad_id, bos=tok.bos_id, eos=tok.eos_id)
    return Task(
        name=STAGE,
        objective=make_objective("clm", vocab, max_len=cfg.max_len),
        train=documents(splits["train"], tok, cfg.max_len),
        valid=documents(splits["valid"], tok, cfg.max_len),
        pad_id=tok.pad_id,
        vocab_size=tok.vocab_size,
        tokenizer=tok,
        meta={"name": STAGE, "data": "vader", "seed": cfg.seed, "max_len": cfg.max_len},
    )


def check_model(name: str):
    """The named config or catalog entry, refused unless it is a decoder (before any data work)."""
    from ..catalog.specs import resolve

    base = resolve(name).config
    if base.arch != "decoder":
        raise TcatError(f"--model {name}: SFT trains a decoder (a policy that generates); {name} is {base.arch}")
    return base


def model_config(cfg: SFTConfig, task):
    base = check_model(cfg.model)
    changes = {
        "embedding.vocab_size": task.vocab_size,
        "embedding.pad_id": task.pad_id,
        "position.max_len": cfg.max_len,
        "dropout": 0.0,
        "attention.dropout": 0.0,
    }
    if cfg.layers:
        changes["n_decoder_layers"] = cfg.layers
    if cfg.d_model:
        changes.update({"d_model": cfg.d_model, "ffn.d_ff": 4 * cfg.d_model})
    return base.replace(**changes)


def train_config(cfg: SFTConfig, steps: int | None = None, minutes: float = 0.0):
    from ..train.config import TrainConfig

    return TrainConfig(
        steps=steps or cfg.steps,
        max_minutes=minutes,
        max_tokens=cfg.batch * cfg.max_len,
        warmup=cfg.warmup,
        optimizer="adamw",
        schedule="cosine",
        lr=cfg.lr,
        weight_decay=0.01,
        beta2=0.99,
        eps=1e-8,
        label_smoothing=0.0,
        clip=1.0,
        eval_every=0,
        save_every=200,
        seed=cfg.seed,
    )


def trainer(cfg: SFTConfig, out: str | Path, progress: bool = True, resume: bool = False, minutes: float = 0.0):
    """A Trainer for the SFT run in `out`: fresh, or resumed from out/checkpoint (same config)."""
    import torch

    from ..data.tokenizer import Tokenizer
    from ..nn.model import build_model
    from ..train.trainer import Trainer

    out = Path(out)
    tok = None
    if resume:
        from ..train.checkpoint import read_config

        folder, meta, _ = read_config(out / "checkpoint")
        if meta.get("task", {}).get("name") != STAGE:
            raise TcatError(f"{out}: not an SFT run (its task is {meta.get('task', {}).get('name')!r})")
        tok = Tokenizer.load(folder / "tokenizer.json")
    task = make_task(cfg, tok)
    torch.manual_seed(cfg.seed)
    model = build_model(model_config(cfg, task))
    run = Trainer(model, task, train_config(cfg, minutes=minutes), out, progress=progress, run_meta={"sft": vars(cfg)})
    if resume:
        run.resume()
    return run


def prompts(snippets: list[Snippet], n: int, seed: int = 0) -> list[str]:
    """The first 2-5 words (drawn per snippet) of `n` snippets with more words than that, in a seeded order."""
    rng = random.Random(seed)
    order = list(snippets)
    rng.shuffle(order)
    out = []
    for s in order:
        words = s.text.split()
        k = rng.randint(2, 5)
        if len(words) > k:
            out.append(" ".join(words[:k]))
        if len(out) == n:
            break
    return out
