"""Long-context retrieval probes on King James Bible text: passkey retrieval (Mohtashami & Jaggi,
2023) and needle-in-a-haystack (Kamradt, 2023; RULER's single- and multi-key variants, Hsieh et
al., 2024), with Bible verses as the haystack instead of repeated filler sentences.

Each sample is exactly `length` characters (one token per character, so lengths are exact and a
key's digits are single tokens): haystack text with one or more needles at random depths, then a
question whose answer is the needle's number, which ends the sample:

  passkey        ... The pass key is 48213. Remember it. 48213 is the pass key. ... What is the pass
                 key? The pass key is 48213
  niah           ... The magic number for cedar is 48213. ... What is the magic number for cedar?
                 The magic number for cedar is 48213
  niah-multikey  as niah, with two more needles for other keys and other numbers (distractors)

The answer's tokens are the last `ANSWER_DIGITS` of the sample: a model answers right when its
argmax prediction at each of those positions, given the true digits before it, is the true digit
(the same as greedy decoding producing the number). Training and held-out haystacks come from
different chapters (every 20th chapter held out, data/corpora.split).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import TcatError

TASKS = ("passkey", "niah", "niah-multikey")
ANSWER_DIGITS = 5
DISTRACTORS = 2  # niah-multikey: needles for other keys
# needle keys: single words, as RULER's (it draws random words); these are common in the KJV
KEYS = (
    "cedar", "lamp", "sparrow", "jasper", "vine", "river", "tower", "garment", "anchor", "trumpet",
    "olive", "stone", "harvest", "cloud", "bread", "ladder", "sword", "well", "crown", "sheep",
)  # fmt: skip


class CharVocab:
    """One token per character: 0 = padding, then the haystack's characters and the ten digits.
    Characters outside the vocabulary read as '?' (which is in it)."""

    def __init__(self, text: str):
        chars = sorted(set(text) | set("0123456789?:.") | set("".join(KEYS)))
        self.chars = ["<pad>", *chars]
        self.index = {c: i for i, c in enumerate(self.chars)}

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        unknown = self.index["?"]
        return [self.index.get(c, unknown) for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


def haystack_texts(source: str) -> tuple[str, str]:
    """(training text, held-out text): each split's chapters' verses joined by spaces."""
    from .corpora import load_documents, split

    train, held_out = split(load_documents(source), source=source)
    return " ".join(" ".join(doc) for doc in train), " ".join(" ".join(doc) for doc in held_out)


def _number(g: torch.Generator) -> str:
    return str(int(torch.randint(10 ** (ANSWER_DIGITS - 1), 10**ANSWER_DIGITS, (1,), generator=g)))


def _parts(task: str, g: torch.Generator) -> tuple[list[str], str, str]:
    """(needles, question, answer) for one sample."""
    number = _number(g)
    if task == "passkey":
        needle = f" The pass key is {number}. Remember it. {number} is the pass key. "
        return [needle], " What is the pass key? The pass key is ", number
    order = torch.randperm(len(KEYS), generator=g).tolist()
    key = KEYS[order[0]]
    needles = [f" The magic number for {key} is {number}. "]
    if task == "niah-multikey":
        needles += [f" The magic number for {KEYS[i]} is {_number(g)}. " for i in order[1 : 1 + DISTRACTORS]]
    question = f" What is the magic number for {key}? The magic number for {key} is "
    return needles, question, number


@dataclass
class Sample:
    ids: Tensor  # (length,) token ids; the answer is the last ANSWER_DIGITS of them
    answer: str
    depth: float  # where the queried needle starts, as a fraction of the haystack before the question


def sample(task: str, length: int, haystack: Tensor, vocab: CharVocab, g: torch.Generator) -> Sample:
    """One probe of exactly `length` tokens: a window of `haystack` (token ids) with the task's
    needles inserted at uniformly random depths, then the question and the answer."""
    if task not in TASKS:
        raise TcatError(f"long-context task {task!r}: expected one of {', '.join(TASKS)}")
    needles, question, answer = _parts(task, g)
    tail = vocab.encode(question + answer)
    pieces = [vocab.encode(n) for n in needles]
    fill = length - len(tail) - sum(map(len, pieces))
    if fill < 1:
        raise TcatError(f"long-context sample of {length} tokens: too short for the {task} needle and question")
    if haystack.numel() <= fill:
        raise TcatError(f"long-context haystack of {haystack.numel()} characters is shorter than {fill} needed")
    start = int(torch.randint(haystack.numel() - fill, (1,), generator=g))
    hay = haystack[start : start + fill].tolist()
    cuts = sorted(torch.randint(fill + 1, (len(pieces),), generator=g).tolist())
    where = torch.randperm(len(pieces), generator=g).tolist()  # which needle goes to which cut
    ids, prev, depth = [], 0, 0.0
    for cut, k in zip(cuts, where):
        ids += hay[prev:cut]
        if k == 0:  # the queried needle (the first of _parts)
            depth = cut / fill
        ids += pieces[k]
        prev = cut
    ids += hay[prev:] + tail
    return Sample(torch.tensor(ids, dtype=torch.long), answer, depth)


def batch(task: str, n: int, length: int, haystack: Tensor, vocab: CharVocab, g: torch.Generator) -> tuple:
    """(ids (n, length), depths (n,)) of n samples of one task."""
    samples = [sample(task, length, haystack, vocab, g) for _ in range(n)]
    return torch.stack([s.ids for s in samples]), torch.tensor([s.depth for s in samples])


def answer_loss_and_hits(logits: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
    """For a model's logits over ids[:, :-1] (predicting ids[:, 1:]): the mean cross-entropy of the
    answer digits and, per sample, whether every answer digit is the argmax (greedy = the answer)."""
    pred = logits[:, -ANSWER_DIGITS:]  # positions whose next token is an answer digit
    target = ids[:, -ANSWER_DIGITS:]
    loss = torch.nn.functional.cross_entropy(pred.reshape(-1, pred.size(-1)), target.reshape(-1))
    return loss, (pred.argmax(-1) == target).all(-1)


def has_repeat(answer: str) -> bool:
    """Whether a digit occurs twice in the answer (copying it needs more than the previous digit)."""
    return len(set(answer)) < len(answer)


def diagnose(logits: Tensor, ids: Tensor, vocab: CharVocab) -> dict:
    """Why a model misses, for one task's batch (the logits over ids[:, :-1]): counts of samples,
    of hits, of a right first digit, of answers with a repeated digit and their hits, and of wrong
    first digits that are the first digit of another needle's number (a distractor picked)."""
    pred = logits[:, -ANSWER_DIGITS:].argmax(-1)
    target = ids[:, -ANSWER_DIGITS:]
    hit = (pred == target).all(-1)
    out = dict.fromkeys(("samples", "hits", "first_digit", "repeated", "repeated_hits", "distractor_first"), 0)
    for i in range(ids.size(0)):
        text = vocab.decode(ids[i].tolist())
        answer = text[-ANSWER_DIGITS:]
        first = vocab.decode([int(pred[i, 0])])
        others = {n[0] for n in _needle_numbers(text[:-ANSWER_DIGITS]) if n != answer}
        out["samples"] += 1
        out["hits"] += int(hit[i])
        out["first_digit"] += int(first == answer[0])
        out["repeated"] += int(has_repeat(answer))
        out["repeated_hits"] += int(has_repeat(answer) and bool(hit[i]))
        out["distractor_first"] += int(first != answer[0] and first in others)
    return out


def _needle_numbers(text: str) -> list[str]:
    import re

    return re.findall(rf"is (\d{{{ANSWER_DIGITS}}})\. ", text)  # every needle: "... is NUMBER. "
