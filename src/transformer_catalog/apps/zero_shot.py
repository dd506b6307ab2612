"""Zero-shot classification by similarity: embed each text and each label's description(s) with a
sentence encoder (MiniLM by default), pick the label whose mean description vector is nearest in
cosine. No labelled example is used; only the label set and its descriptions are given.

A label may have several descriptions; their unit vectors are averaged and re-normalised (prompt
ensembling). Without descriptions the label's own name is embedded. `hypothesis_template` ("This
text is {}.") wraps each description, as transformers' zero-shot pipeline wraps its labels.

The benchmark (`zero_shot_benchmark`) scores VADER's four rated sets (which source a snippet comes
from) with no training: label names alone, the shipped descriptions (DOMAIN_DESCRIPTIONS, written
and compared on the validation split only; the test split was scored once), a control that gives
each label another label's descriptions (should fall below the majority class), and the majority
class. Also sentiment on VADER's movie snippets with SENTIMENT_DESCRIPTIONS.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from ..errors import TcatError

# Written by looking at a few training snippets of each set; compared on the validation split.
DOMAIN_DESCRIPTIONS = {
    "amazon": [
        "a product review",
        "a customer review of an electronics product bought on Amazon: a phone, a camera, headphones",
    ],
    "movies": ["a movie review", "a critic's review of a film: the movie, its director, actors, script and story"],
    "nyt": [
        "a newspaper editorial",
        "a New York Times opinion editorial about politics, government, economy and society",
    ],
    "tweets": [
        "a tweet",
        "a short casual tweet posted on Twitter by a person about their day, with @mentions and emoticons",
    ],
}
SENTIMENT_DESCRIPTIONS = {
    "negative": ["a negative review: bad, boring, disappointing", "I did not like it"],
    "positive": ["a positive review: good, enjoyable, excellent", "I liked it"],
}


def check_labels(labels: list[str]) -> list[str]:
    """The candidate labels, in order, duplicates refused; at least two (one label decides nothing)."""
    labels = [str(x) for x in labels]
    if len(set(labels)) != len(labels):
        raise TcatError(f"candidate labels repeat a label: {', '.join(labels)}")
    if len(labels) < 2:
        raise TcatError(f"zero-shot classification needs at least two candidate labels, got {len(labels)}: {labels}")
    return labels


def check_descriptions(descriptions: dict | None, labels: list[str] | None) -> dict:
    """{label: description or [descriptions]}; every label described must be a candidate (when known)."""
    descriptions = descriptions or {}
    unknown = sorted(set(descriptions) - set(labels)) if labels is not None else []
    if unknown:
        raise TcatError(f"descriptions given for labels that are not candidates: {', '.join(unknown)}")
    empty = sorted(k for k, v in descriptions.items() if not v or (isinstance(v, str) and not v.strip()))
    if empty:
        raise TcatError(f"empty description for label {', '.join(empty)}")
    return descriptions


def label_matrix(encoder, labels: list[str], descriptions: dict | None = None, template: str = "{}") -> torch.Tensor:
    """(n_labels, d) unit vectors: each label's descriptions (or its name) through `template`, averaged."""
    if "{}" not in template:
        raise TcatError(f"hypothesis template {template!r} has no {{}} where the label goes")
    descriptions = check_descriptions(descriptions, labels)
    rows = []
    for label in labels:
        texts = descriptions.get(label) or [label]
        texts = [texts] if isinstance(texts, str) else list(texts)
        rows.append(F.normalize(encoder.encode([template.replace("{}", t) for t in texts]).mean(0), dim=0))
    return torch.stack(rows)


def classify_vectors(vectors: torch.Tensor, labels_mat: torch.Tensor) -> torch.Tensor:
    """Cosine similarities (n_texts, n_labels) of unit text vectors to unit label vectors."""
    return vectors @ labels_mat.T


def accuracy_f1(pred: list[str], gold: list[str]) -> dict:
    classes = sorted(set(gold))
    f1 = []
    for c in classes:
        tp = sum(p == c == g for p, g in zip(pred, gold))
        f1.append(2 * tp / max(sum(p == c for p in pred) + sum(g == c for g in gold), 1))
    return {
        "accuracy": round(sum(p == g for p, g in zip(pred, gold)) / len(gold), 4),
        "macro_f1": round(sum(f1) / len(f1), 4),
    }


def score(vectors, gold: list[str], encoder, labels: list[str], descriptions: dict | None) -> dict:
    sims = classify_vectors(vectors, label_matrix(encoder, labels, descriptions))
    pred = [labels[i] for i in sims.argmax(1).tolist()]
    confusion = {g: {p: sum(1 for a, b in zip(pred, gold) if a == p and b == g) for p in labels} for g in labels}
    return {**accuracy_f1(pred, gold), "confusion": confusion}


def zero_shot_benchmark(encoder_name: str = "minilm", sample: bool = False, progress: bool = True) -> dict:
    """VADER 4-domain (valid and test) and VADER movie sentiment (test), no labelled data used."""
    from ..data.course import load_dataset
    from .embeddings import SentenceEncoder

    cpu0 = time.process_time()
    enc = SentenceEncoder(encoder_name)
    data = load_dataset("vader-domains", sample=sample)
    labels = sorted(DOMAIN_DESCRIPTIONS)
    shifted = {labels[i]: DOMAIN_DESCRIPTIONS[labels[(i + 1) % len(labels)]] for i in range(len(labels))}
    out: dict = {"encoder": encoder_name, "labels": labels, "descriptions": DOMAIN_DESCRIPTIONS, "sample": sample}
    for split in ("valid", "test"):
        rows = data[split]
        if progress:
            print(f"embedding {len(rows)} {split} snippets")
        vec = enc.encode([t for t, _ in rows])
        gold = [y for _, y in rows]
        majority = max(labels, key=gold.count)
        out[split] = {
            "n": len(rows),
            "names_only": score(vec, gold, enc, labels, None),
            "descriptions": score(vec, gold, enc, labels, DOMAIN_DESCRIPTIONS),
            "control_shifted_descriptions": score(vec, gold, enc, labels, shifted),
            "majority": {"label": majority, **accuracy_f1([majority] * len(gold), gold)},
        }
    # the in-repo sample has no sentiment labels: sentiment is measured on the installed data only
    out["sentiment"] = None if sample else sentiment_benchmark(enc)
    out["cpu_seconds"] = round(time.process_time() - cpu0, 1)
    return out


def sentiment_benchmark(enc, split: str = "test") -> dict:
    """VADER movie-snippet sentiment (data/sentiment.py's split) by similarity to SENTIMENT_DESCRIPTIONS."""
    from ..data.sentiment import load_sentiment

    rows = [(t, "positive" if y == 1 else "negative") for t, y in load_sentiment()[split]]
    vec = enc.encode([t for t, _ in rows])
    labels = sorted(SENTIMENT_DESCRIPTIONS)
    gold = [y for _, y in rows]
    return {
        "n": len(rows),
        "split": split,
        "descriptions": score(vec, gold, enc, labels, SENTIMENT_DESCRIPTIONS),
        "names_only": score(vec, gold, enc, labels, None),
    }
