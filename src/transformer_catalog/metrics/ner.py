"""Entity-level scores for BIO tag sequences, as seqeval computes them by default (the CoNLL-2000
`conlleval` rules): an entity is a maximal run of tags of one type that starts at a B- tag, or at an
I- tag that follows O or a tag of another type; a prediction counts only when its type, first word and
last word all match a gold entity. Precision, recall and F1 are micro-averaged over entities.
tests/test_ner.py checks these against seqeval on random (also ill-formed) sequences."""

from __future__ import annotations

import random

Entity = tuple[str, int, int]  # (type, first word, one past the last word)


def _split(tag: str) -> tuple[str, str]:
    if tag == "O" or "-" not in tag:
        return "O", ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def entities(tags: list[str]) -> list[Entity]:
    """The entities of one tag sequence, in order."""
    out: list[Entity] = []
    start, kind = None, ""
    for i, tag in enumerate(tags):
        prefix, t = _split(tag)
        if start is not None and (prefix in ("O", "B") or t != kind):
            out.append((kind, start, i))
            start = None
        if prefix != "O" and start is None:  # a B-, or an I- that does not continue (conlleval starts one)
            start, kind = i, t
    if start is not None:
        out.append((kind, start, len(tags)))
    return out


def _prf(tp: int, n_pred: int, n_gold: int) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def entity_scores(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Micro precision / recall / F1 over all entities, and the same per entity type (with support)."""
    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred)):
        raise ValueError("gold and predicted tag sequences differ in number or length")
    g_set = {(i, *e) for i, tags in enumerate(gold) for e in entities(tags)}
    p_set = {(i, *e) for i, tags in enumerate(pred) for e in entities(tags)}
    out = _prf(len(g_set & p_set), len(p_set), len(g_set))
    per_type = {}
    for kind in sorted({e[1] for e in g_set | p_set}):
        g = {e for e in g_set if e[1] == kind}
        p = {e for e in p_set if e[1] == kind}
        per_type[kind] = {**_prf(len(g & p), len(p), len(g)), "support": len(g)}
    return {**out, "entities": len(g_set), "predicted": len(p_set), "per_type": per_type}


def bootstrap_f1(gold: list[list[str]], pred: list[list[str]], rounds: int = 1000, seed: int = 0) -> list[float]:
    """A 95% percentile interval of entity F1, resampling sentences with replacement."""
    rng = random.Random(seed)
    counts = []  # (true positives, predicted, gold) per sentence
    for g, p in zip(gold, pred):
        gs, ps = set(entities(g)), set(entities(p))
        counts.append((len(gs & ps), len(ps), len(gs)))
    f1s = []
    n = len(counts)
    for _ in range(rounds):
        tp = n_pred = n_gold = 0
        for _ in range(n):
            a, b, c = counts[rng.randrange(n)]
            tp, n_pred, n_gold = tp + a, n_pred + b, n_gold + c
        f1s.append(2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0)
    f1s.sort()
    return [f1s[int(0.025 * (rounds - 1))], f1s[int(0.975 * (rounds - 1))]]
