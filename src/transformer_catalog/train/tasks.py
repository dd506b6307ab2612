"""Tasks: one objective (objectives/) over one corpus (data/), with the tokenizer that joins them.

The objective decides everything about a batch: how examples are grouped (batches), what a batch
holds (batch) and what the loss is (loss); the corpus only supplies examples. So translation, the
copy task and every pretraining objective train through the same Task and the same trainer:

  translate   Seq2Seq over parallel text (data/parallel.py), one BPE vocabulary for both languages
  copy        Seq2Seq over random symbol sequences (data/synthetic.py)
  clm, mlm, ...   a pretraining objective over documents or sentence pairs (data/corpora.py)

Each batch's random choices (what to mask, where to cut) come from an RNG keyed by (seed, epoch,
batch) (data.batching.rng_key), so a resumed run sees the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..data.batching import batch_rng
from ..data.synthetic import COPY_BOS, COPY_EOS, COPY_PAD, copy_examples, copy_vocab_size
from ..errors import TcatError
from ..objectives.base import Objective, Vocab


@dataclass
class Task:
    name: str
    objective: Objective
    train: list
    valid: list
    pad_id: int
    vocab_size: int
    tokenizer: object = None
    meta: dict = field(default_factory=dict)  # stored in config.json as "task": what rebuilds it on resume

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        return self.objective.batches(examples, max_tokens, seed, epoch)

    def collate(self, examples: list, key: int = 0) -> dict[str, torch.Tensor]:
        """A batch of examples; `key` (data.batching.rng_key) seeds its random choices."""
        return self.objective.batch(examples, batch_rng(key))

    def loss(self, model, batch: dict, label_smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
        if self.objective.smooths:
            return self.objective.loss(model, batch, label_smoothing)
        return self.objective.loss(model, batch)  # trained on plain cross-entropy, as its paper does

    def count_tokens(self, batch: dict) -> int:
        return sum(int((batch[k] != self.pad_id).sum()) for k in ("ids", "src", "tgt_in", "a", "b") if k in batch)


def make_task(name: str, data: str | None, vocab_size: int, max_len: int, tokenizer=None) -> Task:
    """translate / copy (the paper's tasks), or any pretraining objective's name (objectives/), over
    `data` (each has a default corpus)."""
    from ..objectives import OBJECTIVES

    if name == "copy":
        return make_copy_task()
    if name == "translate":
        return make_translation_task(data or "bible-en-es", vocab_size, max_len, tokenizer)
    if name in OBJECTIVES:
        return make_objective_task(name, data or "bible-sample", vocab_size, max_len, tokenizer)
    raise TcatError(f"unknown task or objective {name!r}; known: copy, translate, {', '.join(OBJECTIVES)}")


def make_copy_task(n_symbols: int = 10, length: int = 10, n_train: int = 20000, seed: int = 0) -> Task:
    """Learn to output the input: the Annotated Transformer's first check that a model trains."""
    from ..objectives import make_objective

    size = copy_vocab_size(n_symbols)
    return Task(
        name="copy",
        objective=make_objective("copy", Vocab(size, pad=COPY_PAD, bos=COPY_BOS, eos=COPY_EOS)),
        train=copy_examples(n_train, n_symbols, length, seed),
        valid=copy_examples(200, n_symbols, length, seed + 1),
        pad_id=COPY_PAD,
        vocab_size=size,
        meta={"name": "copy", "n_symbols": n_symbols, "length": length},
    )


def load_pairs(data: str):
    """Translation's train/valid/test pairs: data.parallel.split_parallel under its old name, kept only
    for tests/test_translation_eval.py and scripts/demo_check.py until they import split_parallel."""
    from ..data.parallel import split_parallel

    return split_parallel(data)


def make_translation_task(data: str, vocab_size: int, max_len: int, tokenizer=None) -> Task:
    from ..data.parallel import split_parallel

    meta = {"name": "translate", "data": data}
    return pair_task("translate", split_parallel(data), vocab_size, max_len, tokenizer, meta=meta)


def pair_task(
    name: str, splits: dict, vocab_size: int, max_len: int, tokenizer=None, truncate_source=False, meta=None
) -> Task:
    """A sequence-to-sequence Task over the train/valid pairs (`.src`, `.tgt`) of `splits`, with one BPE
    vocabulary for both sides learned from the training split only (unless a tokenizer is given). A pair
    whose sides do not fit `max_len` (+1 for </s> on the source, <s> on the target) is dropped; with
    `truncate_source` only the target must fit and a longer source is cut."""
    from ..data.tokenizer import train_bpe
    from ..objectives import make_objective

    if tokenizer is None:
        tokenizer = train_bpe([p.src for p in splits["train"]] + [p.tgt for p in splits["train"]], vocab_size)

    def encode(pairs):
        srcs = tokenizer.encode_batch([p.src for p in pairs])
        tgts = tokenizer.encode_batch([p.tgt for p in pairs])
        if truncate_source:
            return [(s[: max_len - 1], t) for s, t in zip(srcs, tgts) if len(t) + 1 <= max_len]
        return [(s, t) for s, t in zip(srcs, tgts) if max(len(s), len(t)) + 1 <= max_len]

    vocab = Vocab(tokenizer.vocab_size, pad=tokenizer.pad_id, bos=tokenizer.bos_id, eos=tokenizer.eos_id)
    return Task(
        name=name,
        objective=make_objective("translate", vocab, max_len=max_len),
        train=encode(splits["train"]),
        valid=encode(splits["valid"]),
        pad_id=tokenizer.pad_id,
        vocab_size=tokenizer.vocab_size,
        tokenizer=tokenizer,
        meta=meta or {"name": name},
    )


def chunk(doc: list[list[int]], max_len: int) -> list[list[list[int]]]:
    """A long document as consecutive pieces of whole sentences, each at most max_len tokens (a
    longer sentence is cut), so that every token of the corpus is trained on, not only each
    document's beginning."""
    pieces, cur, size = [], [], 0
    for sentence in doc:
        for start in range(0, max(len(sentence), 1), max_len):
            part = sentence[start : start + max_len]
            if cur and size + len(part) > max_len:
                pieces.append(cur)
                cur, size = [], 0
            cur.append(part)
            size += len(part)
    if cur:
        pieces.append(cur)
    return pieces


def make_objective_task(objective: str, data: str, vocab_size: int, max_len: int, tokenizer=None) -> Task:
    """A pretraining objective over documents (data/corpora.py) or, for those that take pairs, over
    parallel text (data/parallel.py). Batches hold max_tokens // max_len examples."""
    from ..data.corpora import load_documents, split
    from ..data.parallel import sentence_pairs
    from ..data.tokenizer import objective_specials, train_bpe
    from ..objectives import Vocab, describe, make_objective

    pairs = describe(objective).takes_pairs
    examples = sentence_pairs(data) if pairs else load_documents(data)
    train, valid = split(examples, source=data)
    if tokenizer is None:
        texts = [t for p in train for t in p] if pairs else [s for d in train for s in d]
        tokenizer = train_bpe(texts, vocab_size, extra_specials=objective_specials(100))

    def encode(items):
        if pairs:
            return [(tokenizer.encode(a), tokenizer.encode(b)) for a, b in items]
        return [piece for doc in items for piece in chunk(tokenizer.encode_batch(doc), max_len)]

    obj = make_objective(objective, Vocab.from_tokenizer(tokenizer), max_len=max_len)
    return Task(
        name=objective,
        objective=obj,
        train=encode(train),
        valid=encode(valid),
        pad_id=tokenizer.pad_id,
        vocab_size=tokenizer.vocab_size,
        tokenizer=tokenizer,
        meta={"name": "objective", "objective": objective, "data": data},
    )


__all__ = [
    "Task",
    "chunk",
    "load_pairs",
    "make_copy_task",
    "make_objective_task",
    "make_task",
    "make_translation_task",
]
