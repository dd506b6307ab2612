"""Multi-class text classification, the course's benchmark (issue 17 item 1): five models on the same splits
of the four sets of data/course.py, macro-F1 with 95% bootstrap intervals over the test split.

  tfidf      TF-IDF (words and bigrams) + logistic regression (apps/classify.py)
  word2vec   Word2Vec trained here on the training texts (gensim, CBOW), each text the mean of its word
             vectors, + logistic regression
  bilstm     a BiLSTM over a BPE learnt from the training texts (apps/classify.py)
  minilm     all-MiniLM-L6-v2 fine-tuned (mean-pooled, linear head; apps/classify.py)
  bert-mlm   a tcat BERT (catalog entry at --scale tiny, widened by `bert_set`) pretrained here with MLM on the
             task's own training texts (no labels), then fine-tuned like MiniLM

Intervals: percentile bootstrap over test examples; every model of a set is scored on the same resamples,
so `paired_difference` gives the interval of one model's lead over another (is a baseline's win real?).
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import TcatError
from ..files import write_text

MODELS = ("tfidf", "word2vec", "bilstm", "minilm", "bert-mlm")
BASELINES = ("tfidf", "word2vec", "bilstm")  # the course's pre-Transformer models
CAPPED = ("minilm", "bert-mlm")  # fine-tuned on the (possibly capped) subset `max_train`: the CPU cost


@dataclass
class Settings:
    max_train: int = 0  # MiniLM and BERT: at most this many training texts (a seeded subset; 0 = all)
    max_train_bilstm: int = 0  # the BiLSTM's own cap (it is cheaper per text than MiniLM)
    max_valid: int = 300  # BiLSTM, MiniLM, BERT: epoch selection on at most this many validation texts
    epochs: float = 3.0
    max_len: int = 128  # tokens per text for the neural models
    lr_minilm: float = 1e-4  # few steps on a capped subset: 5e-5 barely moves MiniLM in 20 steps
    lr_bert: float = 5e-4
    lr_bilstm: float = 2e-3
    bert_steps: int = 400  # MLM pretraining steps
    bert_set: list = field(default_factory=lambda: ["d_model=128", "attention.n_heads=4", "ffn.d_ff=512"])
    bert_vocab: int = 8000
    w2v_dim: int = 100
    w2v_epochs: int = 20
    bootstrap: int = 1000
    seed: int = 0


def as_indices(splits: dict, what: str) -> tuple[dict, list[str]]:
    """(splits with integer labels, label names); a training split with fewer than two classes, or a test
    label the training split lacks, is refused (nothing can be learnt or scored)."""
    names = sorted({y for _, y in splits["train"]})
    if len(names) < 2:
        raise TcatError(f"{what}: the training split has {len(names)} class{'es' * (len(names) != 1)} "
                        f"({', '.join(names) or 'none'}): classification needs at least two")  # fmt: skip
    index = {n: i for i, n in enumerate(names)}
    for split in ("valid", "test"):
        unseen = sorted({y for _, y in splits[split]} - set(index))
        if unseen:
            raise TcatError(f"{what}: {split} label {unseen[0]!r} is not in the training split")
        if not splits[split]:
            raise TcatError(f"{what}: the {split} split is empty")
    return {k: [(t, index[y]) for t, y in v] for k, v in splits.items()}, names


def macro_f1_resampled(pred, gold, n_classes: int, idx):
    """Macro-F1 of each row of `idx` (resampled test positions): per class 2TP / (2TP + FP + FN), averaged
    over the classes present in that resample's gold or predictions (as `classify.scores` does)."""
    import numpy as np

    p, g = np.asarray(pred)[idx], np.asarray(gold)[idx]
    f1, present = np.zeros(idx.shape[0]), np.zeros(idx.shape[0])
    for c in range(n_classes):
        tp = ((p == c) & (g == c)).sum(1)
        fp = ((p == c) & (g != c)).sum(1)
        fn = ((p != c) & (g == c)).sum(1)
        here = (tp + fp + fn) > 0
        f1 += np.where(here, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        present += here
    return f1 / np.maximum(present, 1)


def resamples(n: int, rounds: int, seed: int):
    import numpy as np

    return np.random.default_rng(seed).integers(0, n, size=(rounds, n))


def interval(values) -> list[float]:
    import numpy as np

    return [round(float(np.percentile(values, 2.5)), 4), round(float(np.percentile(values, 97.5)), 4)]


def paired_difference(pred_a, pred_b, gold, n_classes: int, idx) -> dict:
    """Macro-F1 of a minus b, with the 95% interval over the same resamples."""
    import numpy as np

    full = np.arange(len(gold))[None]
    diff = macro_f1_resampled(pred_a, gold, n_classes, full)[0] - macro_f1_resampled(pred_b, gold, n_classes, full)[0]
    boot = macro_f1_resampled(pred_a, gold, n_classes, idx) - macro_f1_resampled(pred_b, gold, n_classes, idx)
    return {"difference": round(float(diff), 4), "ci95": interval(boot)}


_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def word2vec_logreg(train, test, dim: int = 100, epochs: int = 20, seed: int = 0) -> tuple[list[int], dict]:
    """Word2Vec (CBOW) learnt on the training texts; a text is its words' mean vector; then logistic regression."""
    try:
        from gensim.models import Word2Vec
    except ImportError:
        raise TcatError("the word2vec model needs gensim: pip install 'transformer-catalog[apps]'") from None
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    sentences = [words(t) for t, _ in train]
    w2v = Word2Vec(sentences, vector_size=dim, window=5, min_count=2, workers=1, seed=seed, epochs=epochs)

    def embed(texts):
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, t in enumerate(texts):
            known = [w for w in words(t) if w in w2v.wv]
            if known:
                out[i] = w2v.wv[known].mean(0)
        return out

    scale = StandardScaler().fit(embed([t for t, _ in train]))
    clf = LogisticRegression(C=1.0, max_iter=3000).fit(scale.transform(embed([t for t, _ in train])),
                                                       [y for _, y in train])  # fmt: skip
    pred = clf.predict(scale.transform(embed([t for t, _ in test]))).tolist()
    return pred, {"vocabulary": len(w2v.wv)}


def pretrain_bert(texts: list[str], out: Path, settings: Settings, progress: bool = True) -> dict:
    """MLM pretraining of the catalog's BERT (tiny scale, widened by settings.bert_set) on `texts` (a .jsonl
    of the training texts, labels unused), through the one trainer; returns the trainer's summary."""
    from ..train.config import RunOptions
    from ..train.setup import describe_result, setup

    data = out.parent / f"{out.name}-texts.jsonl"
    write_text(data, "".join(json.dumps({"text": t}) + "\n" for t in texts))
    run_given = {"task": "mlm", "data": str(data), "model": "BERT", "scale": "tiny", "out": str(out),
                 "max_len": settings.max_len, "vocab": settings.bert_vocab, "set": list(settings.bert_set),
                 "quiet": not progress}  # fmt: skip
    train_given = {"steps": settings.bert_steps, "optimizer": "adamw", "schedule": "cosine", "lr": 1e-3,
                   "warmup": max(1, settings.bert_steps // 10), "max_tokens": 32 * settings.max_len,
                   "eval_every": settings.bert_steps, "save_every": 0, "seed": settings.seed,
                   "bf16": "off"}  # fmt: skip
    run = setup(RunOptions(**run_given), run_given, train_given, progress=progress)
    state = run.trainer.fit()
    return describe_result(run.trainer, state)


def _subset(rows: list, cap: int, seed: int) -> list:
    if not cap or len(rows) <= cap:
        return rows
    return random.Random(seed).sample(rows, cap)


def run_model(model: str, data: dict, settings: Settings, workdir: Path, progress: bool = True) -> tuple[list, dict]:
    """Test predictions of one model trained on `data` (integer labels), and what it recorded."""
    from .classify import classify_predictions, tfidf_logreg

    if model == "tfidf":
        return tfidf_logreg(data["train"], data["test"]), {"train": len(data["train"])}
    if model == "word2vec":
        pred, extra = word2vec_logreg(data["train"], data["test"], settings.w2v_dim, settings.w2v_epochs,
                                      settings.seed)  # fmt: skip
        return pred, {"train": len(data["train"]), **extra}
    if model not in MODELS:
        raise TcatError(f"unknown model {model!r}: use {', '.join(MODELS)}")
    small = {
        "train": _subset(
            data["train"], settings.max_train if model in CAPPED else settings.max_train_bilstm, settings.seed
        ),  # fmt: skip
        "valid": _subset(data["valid"], settings.max_valid, settings.seed + 1),
        "test": data["test"],
    }
    extra: dict = {"train": len(small["train"]), "valid": len(small["valid"])}
    name, lr = {"bilstm": ("bilstm", settings.lr_bilstm), "minilm": ("minilm", settings.lr_minilm)}.get(
        model, (None, settings.lr_bert)
    )
    if model == "bert-mlm":
        run = workdir / "bert-mlm"
        extra["pretraining"] = pretrain_bert([t for t, _ in data["train"]], run, settings, progress)
        name = str(run)
    pred, info = classify_predictions(small, name, settings.epochs, lr, settings.max_len, settings.seed, progress)
    return pred, {**extra, **info}


def benchmark(datasets: dict, models: list[str], settings: Settings, progress: bool = True, log=print) -> dict:
    """{dataset: {"labels", "test", "models": {model: {macro_f1, ci95, accuracy, cpu_s, ...}}, "versus": ...}}
    for `datasets` = {name: splits with string labels}."""
    import torch

    from .classify import scores

    out = {}
    for name, splits in datasets.items():
        data, labels = as_indices(splits, name)
        gold = [y for _, y in data["test"]]
        idx = resamples(len(gold), settings.bootstrap, settings.seed)
        row, preds = {}, {}
        for model in models:
            torch.manual_seed(settings.seed)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                pred, extra = run_model(model, data, settings, Path(tmp), progress)
            preds[model] = pred
            boot = macro_f1_resampled(pred, gold, len(labels), idx)
            row[model] = {**scores(pred, gold), "ci95": interval(boot),
                          "cpu_s": round(time.process_time() - cpu0, 1),
                          "wall_s": round(time.perf_counter() - wall0, 1), **extra}  # fmt: skip
            log(f"{name} {model}: macro-F1 {row[model]['macro_f1']:.4f} {row[model]['ci95']} "
                f"({row[model]['cpu_s']:.0f} CPU s)")  # fmt: skip
        best = max(row, key=lambda m: row[m]["macro_f1"])
        versus = {f"{a}-{b}": paired_difference(preds[a], preds[b], gold, len(labels), idx)
                  for a in ("minilm", "bert-mlm") for b in BASELINES if a in preds and b in preds}  # fmt: skip
        out[name] = {"labels": labels, "train": len(data["train"]), "test": len(gold), "best": best,
                     "models": row, "versus": versus}  # fmt: skip
    return {"settings": asdict(settings), "datasets": out}
