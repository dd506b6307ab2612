"""Three-digit additions (`123+456=579`): the data, a character tokenizer, and the supervised model GRPO starts from.

Operands run over 100..999, so every prompt `a+b=` is eight characters and a batch of prompts needs no padding;
the answer is the sum's three or four digits, then </s>. Train and held-out sums are disjoint sets of (a, b),
drawn from one seeded permutation of all 810,000 pairs. The supervised (SFT) model is a small tcat GPT trained
through the one trainer (checkpoints, exact resume) on the answer tokens only; `exact_match` scores greedy
answers through the KV cache.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import TcatError
from ..train.tasks import Task

CHARS = "0123456789+="
LOW, HIGH = 100, 999
PROMPT_LEN = 9  # <s> and eight characters
MAX_ANSWER = 5  # four digits and </s>
IGNORE = -100


def tokenizer():
    """A character-level tokenizer (tokenizer.json like every tcat run): <pad> <s> </s> <unk>, digits, + and =."""
    from tokenizers import Regex, decoders, models, pre_tokenizers
    from tokenizers import Tokenizer as HFTokenizer

    from ..data.tokenizer import SPECIALS, Tokenizer

    vocab = {t: i for i, t in enumerate(SPECIALS + list(CHARS))}
    hf = HFTokenizer(models.WordLevel(vocab, unk_token=SPECIALS[3]))
    hf.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    hf.decoder = decoders.Fuse()
    hf.add_special_tokens(SPECIALS)
    return Tokenizer(hf)


def split_sums(n_train: int, n_test: int, seed: int = 0) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Disjoint training and held-out (a, b) pairs."""
    width = HIGH - LOW + 1
    if n_train + n_test > width * width:
        raise TcatError(f"{n_train} + {n_test} sums asked for; only {width * width} distinct pairs exist")
    drawn = random.Random(seed).sample(range(width * width), n_train + n_test)
    pairs = [(LOW + k // width, LOW + k % width) for k in drawn]
    return pairs[:n_train], pairs[n_train:]


def prompt_ids(tok, pairs: list[tuple[int, int]]) -> torch.Tensor:
    """(N, 9): <s> a + b =."""
    return torch.tensor([[tok.bos_id] + tok.encode(f"{a}+{b}=") for a, b in pairs])


def answer_ids(tok, a: int, b: int) -> list[int]:
    return tok.encode(str(a + b)) + [tok.eos_id]


def rewards(tok, pairs: list[tuple[int, int]], responses: list[list[int]]) -> torch.Tensor:
    """1.0 where a response is exactly the sum followed by </s>, else 0.0: the verifiable reward."""
    return torch.tensor([float(r == answer_ids(tok, a, b)) for (a, b), r in zip(pairs, responses)])


@dataclass
class AdditionTask(Task):
    """Supervised additions for the trainer: loss on the answer's tokens (and </s>) only."""

    batch_size: int = 64

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        from ..data.batching import fixed_size_batches

        return fixed_size_batches(len(examples), self.batch_size, seed, epoch)

    def collate(self, examples: list, key: int = 0) -> dict[str, torch.Tensor]:
        from ..data.batching import pad

        ids = pad([p + r for p, r in examples], self.pad_id)
        labels = torch.full_like(ids, IGNORE)
        for i, (p, r) in enumerate(examples):
            labels[i, len(p) - 1 : len(p) + len(r) - 1] = torch.tensor(r)  # position t predicts token t + 1
        return {"ids": ids, "labels": labels}

    def loss(self, model, batch: dict, label_smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
        logits = model(batch["ids"])
        n = int((batch["labels"] != IGNORE).sum())
        return F.cross_entropy(logits.flatten(0, 1).float(), batch["labels"].flatten(), ignore_index=IGNORE), n

    def count_tokens(self, batch: dict) -> int:
        return int((batch["ids"] != self.pad_id).sum())


@dataclass
class AdditionsConfig:
    n_train: int = 20000
    n_test: int = 500
    d_model: int = 128
    layers: int = 4
    heads: int = 4
    # 720 steps at a constant rate stop part-way (17% of held-out sums exact): room for GRPO to show what it adds.
    # 1,500 steps on a cosine schedule (min_lr 0.1) answer all 500 held-out sums by SFT alone.
    steps: int = 720
    batch_size: int = 64
    lr: float = 1e-3
    min_lr: float = 1.0  # the cosine schedule ends at lr x this (1.0: constant after warmup)
    warmup: int = 100
    seed: int = 0

    def check(self) -> None:
        for name in ("n_train", "n_test", "d_model", "layers", "heads", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise TcatError(f"additions: {name} must be at least 1, got {getattr(self, name)}")
        if self.d_model % self.heads:
            raise TcatError(f"additions: d_model {self.d_model} is not a multiple of heads {self.heads}")
        if not self.lr > 0:
            raise TcatError(f"additions: lr must be positive, got {self.lr}")


def model_config(cfg: AdditionsConfig, vocab_size: int):
    """A pre-norm GPT with learned positions over the 16-token vocabulary; no dropout (the data never repeats
    enough to need it, and sampling in GRPO should see the same network that is trained)."""
    from ..nn import ModelConfig

    return ModelConfig.from_dict(
        {
            "arch": "decoder",
            "d_model": cfg.d_model,
            "n_encoder_layers": 0,
            "n_decoder_layers": cfg.layers,
            "dropout": 0.0,
            "attention": {"n_heads": cfg.heads},
            "position": {"kind": "learned", "max_len": PROMPT_LEN + MAX_ANSWER},
            "norm": {"placement": "pre", "final": True},
            "ffn": {"d_ff": 4 * cfg.d_model, "activation": "gelu"},
            "embedding": {"vocab_size": vocab_size, "pad_id": 0, "scale": False, "tie_output": True},
        }
    )


def make_task(cfg: AdditionsConfig) -> Task:
    tok = tokenizer()
    train, _ = split_sums(cfg.n_train, cfg.n_test, cfg.seed)
    examples = [([tok.bos_id] + tok.encode(f"{a}+{b}="), answer_ids(tok, a, b)) for a, b in train]
    return AdditionTask(
        name="additions",
        objective=None,
        train=examples,
        valid=[],
        pad_id=tok.pad_id,
        vocab_size=tok.vocab_size,
        tokenizer=tok,
        meta={"name": "additions", **{k: v for k, v in asdict(cfg).items() if k in ("n_train", "n_test", "seed")}},
        batch_size=cfg.batch_size,
    )


@torch.no_grad()
def exact_match(model, tok, pairs: list[tuple[int, int]], batch: int = 500) -> float:
    """Share of sums answered exactly (greedy, through the KV cache)."""
    from ..generate import generate

    model.eval()
    right = 0
    for i in range(0, len(pairs), batch):
        chunk = pairs[i : i + batch]
        out = generate(model, prompt_ids(tok, chunk), MAX_ANSWER, eos_id=tok.eos_id)
        responses = [_until_eos(row, tok.eos_id) for row in out.tolist()]
        right += int(rewards(tok, chunk, responses).sum())
    return right / max(len(pairs), 1)


def _until_eos(row: list[int], eos: int) -> list[int]:
    return row[: row.index(eos) + 1] if eos in row else row


def train_additions(out: str | Path, cfg: AdditionsConfig, resume: bool = False, progress: bool = True) -> dict:
    """Train (or resume) the supervised additions model in `out`; returns its held-out exact match."""
    from ..files import output_dir
    from ..nn import build_model
    from ..train.trainer import TrainConfig, Trainer

    cfg.check()
    task = make_task(cfg)
    out = output_dir(out)
    torch.manual_seed(cfg.seed)
    model = build_model(model_config(cfg, task.vocab_size))
    train = TrainConfig(
        steps=cfg.steps,
        max_tokens=cfg.batch_size * (PROMPT_LEN + MAX_ANSWER),
        optimizer="adamw",
        schedule="cosine",
        lr=cfg.lr,
        min_lr=cfg.min_lr,
        warmup=cfg.warmup,
        weight_decay=0.01,
        label_smoothing=0.0,
        clip=1.0,
        eval_every=0,
        save_every=250,
        seed=cfg.seed,
    )
    trainer = Trainer(model, task, train, out, progress=progress, run_meta={"additions": asdict(cfg)})
    if resume:
        trainer.resume()
    trainer.fit()
    _, held_out = split_sums(cfg.n_train, cfg.n_test, cfg.seed)
    return {"exact": exact_match(model, task.tokenizer, held_out), "steps": trainer.state["step"]}
