"""Text classification, the course's first application: fine-tune a Transformer encoder, against
TF-IDF + logistic regression and a BiLSTM, all on the same split, reporting accuracy and macro-F1.

  tcat classify --model tfidf | bilstm | minilm | RUN (a tcat MLM / contrastive run) | HF_FOLDER
"""

from __future__ import annotations

import math
import random
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import TcatError


def scores(pred: list[int], gold: list[int]) -> dict:
    """Accuracy and macro-F1 (the mean over classes of each class's F1)."""
    classes = sorted(set(gold) | set(pred))
    f1s = []
    for c in classes:
        tp = sum(p == c and g == c for p, g in zip(pred, gold))
        fp = sum(p == c and g != c for p, g in zip(pred, gold))
        fn = sum(p != c and g == c for p, g in zip(pred, gold))
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1))
    return {
        "accuracy": round(sum(p == g for p, g in zip(pred, gold)) / len(gold), 4),
        "macro_f1": round(sum(f1s) / len(f1s), 4),
    }


def tfidf_logreg(train, test) -> list[int]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    clf = LogisticRegression(C=4.0, max_iter=2000).fit(vec.fit_transform([t for t, _ in train]), [y for _, y in train])
    return clf.predict(vec.transform([t for t, _ in test])).tolist()


class BiLSTM(nn.Module):
    """Embeddings, one bidirectional LSTM layer, max-pooling over time, a linear classifier."""

    def __init__(self, vocab: int, n_classes: int, dim: int = 128, pad_id: int = 0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab, dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(dim, dim, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * dim, n_classes)
        self.drop = nn.Dropout(0.3)

    def forward(self, ids: Tensor) -> Tensor:
        h, _ = self.lstm(self.drop(self.embed(ids)))
        h = h.masked_fill((ids == self.pad_id)[..., None], float("-inf")).amax(1)
        return self.out(self.drop(h))


class EncoderClassifier(nn.Module):
    """A Transformer encoder, mean-pooled over real tokens, then dropout and a linear layer."""

    def __init__(self, encoder: nn.Module, n_classes: int):
        super().__init__()
        self.encoder, self.config = encoder, encoder.config
        self.drop = nn.Dropout(0.1)
        self.out = nn.Linear(encoder.config.d_model, n_classes)

    def forward(self, ids: Tensor) -> Tensor:
        from ..objectives.contrastive import mean_pool

        keep = ids != self.config.embedding.pad_id
        return self.out(self.drop(mean_pool(self.encoder(ids, keep=keep), keep)))


def _batches(rows, encode, pad_id: int, size: int, shuffle: random.Random | None):
    order = list(range(len(rows)))
    if shuffle:
        shuffle.shuffle(order)
    for i in range(0, len(order), size):
        chunk = [rows[j] for j in order[i : i + size]]
        seqs = [encode(t) for t, _ in chunk]
        ids = torch.full((len(seqs), max(map(len, seqs))), pad_id)
        for r, s in enumerate(seqs):
            ids[r, : len(s)] = torch.tensor(s)
        yield ids, torch.tensor([y for _, y in chunk])


def fine_tune(
    model: nn.Module,
    data: dict,
    encode,
    pad_id: int,
    epochs: float,
    lr: float,
    batch: int = 32,
    seed: int = 0,
    progress: bool = True,
) -> tuple[list[int], dict]:
    """AdamW with 10% warmup then linear decay; keeps the epoch with the best validation accuracy."""
    rng = random.Random(seed)
    steps = math.ceil(len(data["train"]) / batch) * max(1, math.ceil(epochs))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm, step, best, best_state = max(1, steps // 10), 0, -1.0, None
    started = time.perf_counter()
    for epoch in range(max(1, math.ceil(epochs))):
        model.train()
        for ids, y in _batches(data["train"], encode, pad_id, batch, rng):
            for g in opt.param_groups:
                g["lr"] = lr * min((step + 1) / warm, max(0.0, (steps - step) / max(steps - warm, 1)))
            loss = F.cross_entropy(model(ids), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        acc = scores(predict(model, data["valid"], encode, pad_id), [y for _, y in data["valid"]])["accuracy"]
        if progress:
            print(f"epoch {epoch + 1}: valid accuracy {acc:.4f} ({time.perf_counter() - started:.0f} s)")
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return predict(model, data["test"], encode, pad_id), {
        "valid_accuracy": best,
        "steps": step,
        "seconds": round(time.perf_counter() - started, 1),
    }


@torch.no_grad()
def predict(model: nn.Module, rows, encode, pad_id: int) -> list[int]:
    model.eval()
    out = []
    for ids, _ in _batches(rows, encode, pad_id, 128, None):
        out += model(ids).argmax(-1).tolist()
    return out


def classify_predictions(
    data: dict,
    model: str,
    epochs: float = 3.0,
    lr: float = 0.0,
    max_len: int = 128,
    seed: int = 0,
    progress: bool = True,
) -> tuple[list[int], dict]:
    """Train `model` on data["train"] (select on "valid"); its predictions on "test" and what it recorded."""
    torch.manual_seed(seed)
    n_classes = max(y for _, y in data["train"]) + 1
    extra: dict = {}
    if model == "tfidf":
        pred = tfidf_logreg(data["train"], data["test"])
    elif model == "bilstm":
        from ..data.tokenizer import train_bpe

        tok = train_bpe([t for t, _ in data["train"]], 8000)
        net = BiLSTM(tok.vocab_size, n_classes, pad_id=tok.pad_id)
        pred, extra = fine_tune(
            net,
            data,
            lambda t: tok.encode(t)[:max_len] or [tok.unk_id],
            tok.pad_id,
            epochs,
            lr or 2e-3,
            seed=seed,
            progress=progress,
        )
        extra["params"] = sum(p.numel() for p in net.parameters())
    else:
        from ..train.pretrained import load_encoder, resolve_encoder

        encoder, tok, limit = load_encoder(resolve_encoder(model))
        net = EncoderClassifier(encoder, n_classes)
        n = min(max_len, limit) - 2
        pred, extra = fine_tune(
            net,
            data,
            lambda t: [tok.bos_id, *tok.encode(t)[:n], tok.eos_id],
            tok.pad_id,
            epochs,
            lr or 5e-5,
            seed=seed,
            progress=progress,
        )
        extra["params"] = sum(p.numel() for p in net.parameters())
    if len(pred) != len(data["test"]):
        raise TcatError("internal error: prediction count differs from the test set")
    return pred, extra


def classify(
    data: dict,
    model: str,
    epochs: float = 3.0,
    lr: float = 0.0,
    max_len: int = 128,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Train `model` on data["train"] (select on "valid"), report on "test"."""
    gold = [y for _, y in data["test"]]
    pred, extra = classify_predictions(data, model, epochs, lr, max_len, seed, progress)
    return {"model": model, **scores(pred, gold), "test": len(gold), **extra}
