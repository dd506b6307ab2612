"""Named-entity recognition, the course's token classification: a fine-tuned Transformer token
classifier (all-MiniLM-L6-v2 by default) against a BiLSTM tagger, scored by entity-level F1 (the
seqeval / conlleval rules, metrics/ner.py) on the tweets of data/ner.py.

  tcat ner train --model minilm | bilstm | HF_FOLDER | RUN --out DIR
  tcat ner evaluate DIR          tcat ner tag DIR "text" ...

`predict_entities` is the library entry (the pipeline API's "ner" task calls it): raw texts are split
into words (Twitter-aware: @mentions, #hashtags and URLs stay whole, "'s" splits off as in the data),
each word gets a tag from its subwords' probabilities by the chosen aggregation, and B-/I- words are
grouped into entities with character offsets.
"""

from __future__ import annotations

import math
import random
import re
import time

import torch
import torch.nn.functional as F

from ..errors import TcatError
from ..metrics.ner import bootstrap_f1, entities, entity_scores
from ..progress import Bar
from .ner_models import Tagger, bilstm_tagger, load_tagger, save_tagger, transformer_tagger

__all__ = ["load_tagger", "predict_entities", "save_tagger", "split_words", "tag_words", "train_tagger"]

AGGREGATIONS = ("simple", "average", "max", "none")
WORD = re.compile(r"https?://\S+|[@#]\w+|\w+(?:[-.]\w+)*|'\w+|[^\w\s]")


def split_words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) character spans, split the way the training tweets were."""
    return [(m.group(), m.start(), m.end()) for m in WORD.finditer(text)]


def tag_set(train) -> list[str]:
    """ "O", then B- and I- of every entity type of the training split, in a fixed order."""
    from ..data.ner import entity_types

    return ["O"] + [f"{p}-{t}" for t in entity_types(train) for p in "BI"]


def _word_probs(tagger: Tagger, batch: list[list[str]]) -> list[list[torch.Tensor]]:
    """Per sentence, per word: its pieces' tag probabilities (n_pieces, tags); no pieces (a word the
    tokenizer drops, or one past a truncation): an empty tensor."""
    logits, index = tagger.piece_logits(batch)
    probs = logits.float().softmax(-1)
    return [[probs[s, pos] for pos in words] for s, words in enumerate(index)]


def _aggregate(p: torch.Tensor, how: str) -> tuple[int, float]:
    if p.numel() == 0:
        return 0, 1.0  # "O"
    if how == "average":
        row = p.mean(0)
    elif how == "max":
        row = p[p.amax(1).argmax()]
    else:  # "simple" / "none": the first subword, where the tag was trained
        row = p[0]
    score, tag = row.max(0)
    return int(tag), float(score)


@torch.no_grad()
def tag_words(tagger: Tagger, sentences: list[list[str]], aggregation: str = "simple", batch: int = 64):
    """[(tag, score)] per word of each sentence."""
    if aggregation not in AGGREGATIONS:
        raise TcatError(f"unknown aggregation {aggregation!r}: use {', '.join(AGGREGATIONS)}")
    tagger.net.eval()
    out = []
    for i in range(0, len(sentences), batch):
        chunk = sentences[i : i + batch]
        for words in _word_probs(tagger, chunk):
            out.append([(tagger.tags[t], s) for t, s in (_aggregate(p, aggregation) for p in words)])
    return out


def evaluate(tagger: Tagger, rows, aggregation: str = "simple", bootstrap: int = 0) -> dict:
    """Entity-level scores of `tagger` on (words, tags) rows; with `bootstrap`, a 95% F1 interval."""
    pred = [[t for t, _ in sent] for sent in tag_words(tagger, [w for w, _ in rows], aggregation)]
    gold = [tags for _, tags in rows]
    out = entity_scores(gold, pred)
    if bootstrap:
        out["f1_95ci"] = bootstrap_f1(gold, pred, bootstrap)
    return out


def _loss(tagger: Tagger, batch, rng, word_dropout: float) -> torch.Tensor:
    logits, index = tagger.piece_logits([w for w, _ in batch], word_dropout, rng)
    rows, cols, gold = [], [], []
    for s, ((_, tags), words) in enumerate(zip(batch, index)):
        for pos, tag in zip(words, tags):
            if pos:  # the first subword carries the word's label; the others are not trained
                rows.append(s)
                cols.append(pos[0])
                gold.append(tagger.tag_ids.get(tag, 0))  # a type unseen in training: "O"
    return F.cross_entropy(logits[rows, cols], torch.tensor(gold))


def train_tagger(
    model: str,
    data: dict,
    epochs: float = 5.0,
    lr: float = 0.0,
    batch: int = 16,
    max_len: int = 128,
    seed: int = 0,
    progress: bool = True,
) -> tuple[Tagger, dict]:
    """Train on data["train"], keep the epoch with the best validation entity F1. `model`: "bilstm",
    or an encoder for the Transformer tagger ("minilm", a Hugging Face folder, a tcat encoder run)."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    tags = tag_set(data["train"])
    if len(tags) == 1:
        raise TcatError("the training split has no entities: nothing to learn")
    if model == "bilstm":
        tagger, lr, word_dropout = bilstm_tagger([w for w, _ in data["train"]], tags), lr or 2e-3, 0.05
    else:
        tagger, lr, word_dropout = transformer_tagger(model, tags, max_len), lr or 5e-5, 0.0
    rows = data["train"]
    per_epoch = math.ceil(len(rows) / batch)
    total = max(1, round(epochs * per_epoch))
    opt = torch.optim.AdamW(tagger.net.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, total // 10)
    cpu, wall = time.process_time(), time.perf_counter()
    best, best_state, history, step = -1.0, None, [], 0
    with _Bar(total, progress) as bar:
        while step < total:
            order = list(range(len(rows)))
            rng.shuffle(order)
            tagger.net.train()
            for i in range(0, len(order), batch):
                if step == total:
                    break
                for g in opt.param_groups:  # linear warmup, then linear decay to 0
                    g["lr"] = lr * min((step + 1) / warm, max(0.0, (total - step) / max(total - warm, 1)))
                loss = _loss(tagger, [rows[j] for j in order[i : i + batch]], rng, word_dropout)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(tagger.net.parameters(), 1.0)
                opt.step()
                step += 1
                bar.update(step, loss.item())
            f1 = evaluate(tagger, data["valid"])["f1"]
            history.append({"step": step, "valid_f1": round(f1, 4), "cpu_seconds": round(time.process_time() - cpu)})
            bar.note(f"step {step}: valid entity F1 {f1:.3f}")
            if f1 > best:
                best, best_state = f1, {k: v.clone() for k, v in tagger.net.state_dict().items()}
    tagger.net.load_state_dict(best_state)
    tagger.net.eval()
    info = {
        "model": model,
        "kind": tagger.kind,
        "params": sum(p.numel() for p in tagger.net.parameters()),
        "epochs": epochs,
        "steps": step,
        "batch": batch,
        "lr": lr,
        "max_len": tagger.max_len,
        "seed": seed,
        "valid_f1": round(best, 4),
        "history": history,
        "cpu_seconds_train": round(time.process_time() - cpu, 1),
        "wall_seconds_train": round(time.perf_counter() - wall, 1),
    }
    return tagger, info


class _Bar(Bar):
    """A rich progress bar (step, loss, rate, ETA), silent when disabled (tests, --quiet)."""

    def __init__(self, total: int, enabled: bool):
        columns = (
            "step {task.completed:.0f}/{task.total:.0f}",
            "loss {task.fields[loss]}",
            "{task.fields[rate]} steps/s",
        )
        super().__init__(enabled, "ner", columns, total=total, loss="-", rate="-")
        self.started = time.perf_counter()

    def update(self, step: int, loss: float) -> None:
        if self.enabled:
            rate = step / max(time.perf_counter() - self.started, 1e-9)
            self.show(completed=step, loss=f"{loss:.3f}", rate=f"{rate:.2f}")


def predict_entities(
    texts: list[str], model, *, aggregation: str = "simple", truncate: bool = False, batch: int = 32
) -> list[list[dict]]:
    """Entities of each text. `model`: a Tagger or a folder written by `tcat ner train --out DIR`.
    aggregation: "simple" (a word's tag from its first subword), "average" (mean of its subwords'
    probabilities), "max" (its most confident subword), then B-/I- words grouped into
    {"entity_group", "word", "start", "end", "score" (mean over its words)}; "none": one
    {"entity", "word", "start", "end", "score"} per word not tagged O. A text longer than the model's
    maximum is refused unless `truncate` (then its words past the maximum are not tagged)."""
    if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise TcatError("predict_entities: texts must be a list of strings")
    if aggregation not in AGGREGATIONS:
        raise TcatError(f"unknown aggregation {aggregation!r}: use {', '.join(AGGREGATIONS)}")
    tagger = model if isinstance(model, Tagger) else load_tagger(model)
    spans = [split_words(t) for t in texts]
    if tagger.max_len is not None and not truncate:
        for i, words in enumerate(spans):
            n = tagger.n_pieces([w for w, _, _ in words])
            if n > tagger.max_len:
                raise TcatError(
                    f"text {i + 1} is {n} tokens, over the model's maximum of {tagger.max_len}: "
                    "shorten it or truncate (--truncate) to tag only its beginning"
                )
    tagged = tag_words(tagger, [[w for w, _, _ in words] for words in spans], aggregation, batch)
    out = []
    for text, words, tags in zip(texts, spans, tagged):
        if aggregation == "none":
            rows = [
                {"entity": t, "word": w, "start": a, "end": b, "score": round(s, 4)}
                for (w, a, b), (t, s) in zip(words, tags)
                if t != "O"
            ]
        else:
            rows = []
            for kind, first, last in entities([t for t, _ in tags]):
                a, b = words[first][1], words[last - 1][2]
                score = sum(s for _, s in tags[first:last]) / (last - first)
                rows.append({"entity_group": kind, "word": text[a:b], "start": a, "end": b, "score": round(score, 4)})
        out.append(rows)
    return out
