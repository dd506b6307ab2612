"""Tasks: where the examples come from, how they are batched, and what the loss is.

Sequence-to-sequence tasks (translation, the copy task) share one collate and one loss: token
cross-entropy over the target with label smoothing (paper, section 5.4: epsilon_ls = 0.1).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from ..data.batching import Example, collate_seq2seq, length_grouped_batches
from ..errors import TcatError

COPY_PAD, COPY_BOS, COPY_EOS = 0, 1, 2  # the copy task's vocabulary: these three, then symbols


@dataclass
class Seq2SeqTask:
    name: str
    train: list[Example]
    valid: list[Example]
    pad_id: int
    bos_id: int
    eos_id: int
    vocab_size: int
    tokenizer: object = None
    meta: dict = field(default_factory=dict)  # stored in config.json as "task"

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        return length_grouped_batches(examples, max_tokens, seed, epoch)

    def collate(self, examples: list[Example], key: int = 0) -> dict[str, torch.Tensor]:
        return collate_seq2seq(examples, self.pad_id, self.bos_id, self.eos_id)

    def count_tokens(self, batch: dict) -> int:
        return int((batch["src"] != self.pad_id).sum() + (batch["labels"] != self.pad_id).sum())

    def loss(self, model, batch: dict, label_smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
        logits = model(batch["src"], batch["tgt_in"])
        labels = batch["labels"]
        loss = F.cross_entropy(
            logits.float().view(-1, logits.size(-1)),
            labels.view(-1),
            ignore_index=self.pad_id,
            label_smoothing=label_smoothing,
        )
        return loss, int((labels != self.pad_id).sum())


# -- the copy task -------------------------------------------------------------------------------
def copy_examples(n: int, n_symbols: int, length: int, seed: int) -> list[Example]:
    rng = random.Random(seed)
    first = COPY_EOS + 1
    out = []
    for _ in range(n):
        seq = [rng.randrange(first, first + n_symbols) for _ in range(length)]
        out.append((seq, list(seq)))
    return out


def make_copy_task(n_symbols: int = 10, length: int = 10, n_train: int = 20000, seed: int = 0) -> Seq2SeqTask:
    """Learn to output the input: the Annotated Transformer's first check that a model trains."""
    return Seq2SeqTask(
        name="copy",
        train=copy_examples(n_train, n_symbols, length, seed),
        valid=copy_examples(200, n_symbols, length, seed + 1),
        pad_id=COPY_PAD, bos_id=COPY_BOS, eos_id=COPY_EOS,
        vocab_size=COPY_EOS + 1 + n_symbols,
        meta={"name": "copy", "n_symbols": n_symbols, "length": length},
    )


# -- translation ---------------------------------------------------------------------------------
DATASETS = ("bible-en-es", "bible-sample")


def load_pairs(data: str):
    """Aligned (ref, source, target) pairs split into train/valid/test by whole books."""
    from ..data import bible

    if data == "bible-en-es":
        return bible.split_by_book(bible.aligned_pairs("engKJV2006eb", "spaRV1909eb"))
    if data == "bible-sample":
        return bible.split_by_book(bible.load_sample())
    path = Path(data)
    if path.suffix in (".tsv", ".txt") and path.is_file():
        return _tsv_pairs(path)
    known = ", ".join(DATASETS)
    raise TcatError(f"unknown dataset {data!r}: use one of {known}, or a .tsv file of source<TAB>target lines")


def _tsv_pairs(path: Path):
    from ..data.bible import Pair

    pairs = []
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not row or not any(row):
                continue
            if len(row) not in (2, 3):
                raise TcatError(f"{path}:{n}: expected source<TAB>target (or id<TAB>source<TAB>target), got {len(row)} fields")
            pairs.append(Pair(*(row if len(row) == 3 else [f"{path.name}:{n}", *row])))
    if len(pairs) < 10:
        raise TcatError(f"{path}: {len(pairs)} pairs is too few to split into train/valid/test (need at least 10)")
    rng = random.Random(0)
    rng.shuffle(pairs)
    k = max(1, len(pairs) // 20)  # 5% valid, 5% test
    return {"valid": pairs[:k], "test": pairs[k : 2 * k], "train": pairs[2 * k :]}


def make_translation_task(data: str, vocab_size: int, max_len: int, tokenizer=None) -> Seq2SeqTask:
    from ..data.tokenizer import train_bpe

    splits = load_pairs(data)
    if tokenizer is None:
        # One shared vocabulary for both languages, learned from the training split only.
        tokenizer = train_bpe([p.src for p in splits["train"]] + [p.tgt for p in splits["train"]], vocab_size)

    def encode(pairs):
        srcs = tokenizer.encode_batch([p.src for p in pairs])
        tgts = tokenizer.encode_batch([p.tgt for p in pairs])
        # +1 for </s> on the source, <s> on the target: longer pairs do not fit the positions.
        return [(s, t) for s, t in zip(srcs, tgts) if max(len(s), len(t)) + 1 <= max_len]

    return Seq2SeqTask(
        name="translate",
        train=encode(splits["train"]),
        valid=encode(splits["valid"]),
        pad_id=tokenizer.pad_id, bos_id=tokenizer.bos_id, eos_id=tokenizer.eos_id,
        vocab_size=tokenizer.vocab_size,
        tokenizer=tokenizer,
        meta={"name": "translate", "data": data},
    )


def make_task(name: str, data: Optional[str], vocab_size: int, max_len: int, tokenizer=None):
    """translate / copy (the paper's tasks), or any pretraining objective's name (objectives/)."""
    from ..objectives import OBJECTIVES

    if name in OBJECTIVES:
        return make_objective_task(name, data or "bible-sample", vocab_size, max_len, tokenizer)
    if name == "copy":
        return make_copy_task()
    if name == "translate":
        return make_translation_task(data or "bible-en-es", vocab_size, max_len, tokenizer)
    raise TcatError(f"unknown task or objective {name!r}; known: copy, translate, {', '.join(OBJECTIVES)}")


# -- pretraining objectives ------------------------------------------------------------------------
@dataclass
class ObjectiveTask:
    """A pretraining objective (objectives/) over a corpus (data/corpora.py): documents for the
    language-modelling objectives, sentence pairs for contrastive ones. Batches hold a fixed number
    of examples (max_tokens // max_len); each batch's random choices (what to mask, where to cut)
    come from an RNG keyed by (seed, epoch, batch), so a resumed run sees the same batches."""

    name: str
    objective: object
    train: list
    valid: list
    pad_id: int
    vocab_size: int
    tokenizer: object = None
    meta: dict = field(default_factory=dict)

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        size = max(1, max_tokens // self.objective.max_len)
        order = list(range(len(examples)))
        random.Random(seed * 1_000_003 + epoch).shuffle(order)
        return [order[i:i + size] for i in range(0, len(order), size)]

    def collate(self, examples: list, key: int = 0) -> dict[str, torch.Tensor]:
        return self.objective.batch(examples, random.Random(key))

    def loss(self, model, batch: dict, label_smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
        return self.objective.loss(model, batch)

    def count_tokens(self, batch: dict) -> int:
        return sum(int((batch[k] != self.pad_id).sum()) for k in ("ids", "src", "tgt_in", "a", "b") if k in batch)


def chunk(doc: list[list[int]], max_len: int) -> list[list[list[int]]]:
    """A long document as consecutive pieces of whole sentences, each at most max_len tokens (a
    longer sentence is cut), so that every token of the corpus is trained on, not only each
    document's beginning."""
    pieces, cur, size = [], [], 0
    for sentence in doc:
        for start in range(0, max(len(sentence), 1), max_len):
            part = sentence[start:start + max_len]
            if cur and size + len(part) > max_len:
                pieces.append(cur)
                cur, size = [], 0
            cur.append(part)
            size += len(part)
    if cur:
        pieces.append(cur)
    return pieces


def make_objective_task(objective: str, data: str, vocab_size: int, max_len: int, tokenizer=None) -> ObjectiveTask:
    from ..data.corpora import load_documents, load_pairs, split
    from ..data.tokenizer import objective_specials, train_bpe
    from ..objectives import Vocab, describe, make_objective

    pairs = getattr(describe(objective), "takes_pairs", False)
    examples = load_pairs(data) if pairs else load_documents(data)
    train, valid = split(examples)
    if tokenizer is None:
        texts = [t for p in train for t in p] if pairs else [s for d in train for s in d]
        tokenizer = train_bpe(texts, vocab_size, extra_specials=objective_specials(100))

    def encode(items):
        if pairs:
            return [(tokenizer.encode(a), tokenizer.encode(b)) for a, b in items]
        return [piece for doc in items for piece in chunk(tokenizer.encode_batch(doc), max_len)]

    obj = make_objective(objective, Vocab.from_tokenizer(tokenizer), max_len=max_len)
    return ObjectiveTask(name=objective, objective=obj, train=encode(train), valid=encode(valid),
                         pad_id=tokenizer.pad_id, vocab_size=tokenizer.vocab_size, tokenizer=tokenizer,
                         meta={"name": "objective", "objective": objective, "data": data})
