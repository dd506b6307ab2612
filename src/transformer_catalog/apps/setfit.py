"""SetFit (Tunstall et al., 2022): few-shot text classification without prompts. Two stages:

1. contrastive fine-tuning of a sentence encoder's body (all-MiniLM-L6-v2) on pairs drawn from the few
   labelled examples: same label -> target cosine 1, different labels -> target 0, loss the squared error
   of the pair's cosine (sentence-transformers' CosineSimilarityLoss); R rounds, each giving every
   example one positive and one negative partner (2 R N pairs, capped at `max_pairs`);
2. logistic regression on the tuned body's normalised mean-pooled embeddings of the same examples.

Against it, on the same examples: plain fine-tuning (a linear head on the mean-pooled body, both
trained with cross-entropy; apps/classify.py's EncoderClassifier) and, as the ceiling, the same plain
fine-tuning on the whole training split.

Cost: pairs that share a sentence within one batch share its forward pass (the loss is the same mean
over pairs; only the dropout mask of a repeated sentence is shared), so a batch costs its distinct
sentences, not twice its pairs. Training and embedding run under bf16 autocast where the CPU
multiplies bf16 faster (precision "auto", apps/embeddings.py), fp32 master weights.
"""

from __future__ import annotations

import functools
import math
import random
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..errors import TcatError
from .classify import EncoderClassifier, scores


@dataclass(frozen=True)
class SetFitConfig:
    iterations: int = 20  # R: pair rounds (the paper's 20)
    max_pairs: int = 640  # cap on 2 R N pairs (CPU budget: R = 10 at 8 per class x 4 labels; the paper: R = 20)
    pair_batch: int = 16  # pairs per optimiser step (the paper's): 40 steps, as many as plain fine-tuning takes
    lr: float = 2e-5  # body learning rate of the contrastive stage (the paper's)
    head_c: float = 1.0  # inverse L2 strength of the logistic head (scikit-learn's and setfit's default)
    plain_lr: float = 5e-5  # plain fine-tuning: body and head
    plain_epochs: int = 20  # plain fine-tuning on few examples: epochs, at most plain_max_steps steps
    plain_max_steps: int = 40
    plain_batch: int = 16
    full_epochs: float = 1.0  # the full-data ceiling: one pass over the training split
    full_batch: int = 32
    max_len: int = 64  # tokens per text, [CLS] and [SEP] included
    precision: str = "auto"  # fp32 | bf16 | auto (bf16 where it measures faster here)


def per_class_sample(
    rows: list[tuple[str, int]], per_class: int, seed: int, what: str = "training split", names=None
) -> list[tuple[str, int]]:
    """`per_class` examples of every label, drawn without replacement by `seed`, in a shuffled order.
    Fewer examples of a label than asked, or a single label, is a user error (`names[label]` in it)."""
    by_label: dict[int, list[str]] = {}
    for text, label in rows:
        by_label.setdefault(label, []).append(text)
    if len(by_label) < 2:
        raise TcatError(f"{what}: {len(by_label)} label(s); few-shot classification needs at least two classes")
    short = {k: len(v) for k, v in sorted(by_label.items()) if len(v) < per_class}
    if short:
        label, n = next(iter(short.items()))
        raise TcatError(
            f"{what}: label {names[label] if names else label} has {n} example(s), fewer than the {per_class} "
            "per class asked "
            f"({len(short)} label(s) short)"
        )
    rng = random.Random(f"few-shot:{seed}")
    out = [(t, k) for k in sorted(by_label) for t in rng.sample(by_label[k], per_class)]
    rng.shuffle(out)
    return out


def make_pairs(labels: list[int], iterations: int, max_pairs: int, seed: int) -> list[tuple[int, int, float]]:
    """(i, j, target) over example indices: each round gives every example one partner of its own label
    (another example where the label has one; target 1.0) and one of another label (target 0.0). The
    pairs are shuffled by `seed` and cut to `max_pairs`; a shuffled cut keeps the halves near balance."""
    if iterations < 1 or max_pairs < 2:
        raise TcatError(f"pairs: need iterations >= 1 and max_pairs >= 2, got {iterations} and {max_pairs}")
    by_label: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_label.setdefault(y, []).append(i)
    if len(by_label) < 2:
        raise TcatError("pairs: a single label gives no negative pairs")
    rng = random.Random(f"pairs:{seed}")
    pairs = []
    for _ in range(iterations):
        for i, y in enumerate(labels):
            same = [j for j in by_label[y] if j != i] or [i]
            pairs.append((i, rng.choice(same), 1.0))
            other = rng.choice([k for k in by_label if k != y])
            pairs.append((i, rng.choice(by_label[other]), 0.0))
    rng.shuffle(pairs)
    return pairs[:max_pairs]


@functools.cache
def _loaded(encoder: str, precision: str):
    """The encoder, loaded once per process (converting the checkpoint costs seconds a run), and a copy
    of its pretrained weights to reset it from."""
    from .embeddings import SentenceEncoder

    st = SentenceEncoder(encoder, precision)
    st.limit = st.max_len
    return st, {k: v.clone() for k, v in st.model.state_dict().items()}


class Body:
    """The sentence encoder being tuned: token ids of the texts, and mean-pooled unit embeddings."""

    def __init__(self, encoder: str, max_len: int, precision: str):
        self.st, pristine = _loaded(encoder, precision)
        self.st.model.load_state_dict(pristine)  # every run starts from the pretrained weights
        self.st.max_len = min(self.st.limit, max_len)
        self.model, self.pad_id = self.st.model, self.st.pad_id

    def padded(self, seqs: list[list[int]]):
        ids = torch.full((len(seqs), max(map(len, seqs))), self.pad_id)
        for r, s in enumerate(seqs):
            ids[r, : len(s)] = torch.tensor(s)
        return ids, ids != self.pad_id

    def embed_ids(self, seqs: list[list[int]]) -> torch.Tensor:
        """Unit embeddings with gradients (training)."""
        from ..objectives.contrastive import mean_pool

        ids, keep = self.padded(seqs)
        with self.st._autocast():
            hidden = self.model(ids, keep=keep)
        return F.normalize(mean_pool(hidden.float(), keep), dim=-1)

    def encode(self, texts: list[str]) -> torch.Tensor:
        self.model.eval()
        return self.st.encode(texts, batch_size=64)


def _schedule(opt, lr: float, step: int, total: int) -> None:
    """Linear warm-up over the first 10% of steps, then linear decay to 0 (sentence-transformers' default)."""
    warm = max(1, total // 10)
    for g in opt.param_groups:
        g["lr"] = lr * min((step + 1) / warm, max(0.0, (total - step) / max(total - warm, 1)))


def contrastive_tune(body: Body, texts: list[str], labels: list[int], cfg: SetFitConfig, seed: int) -> dict:
    """Stage 1: the cosine loss over the pairs, one pass, AdamW. Returns the loss before and after."""
    pairs = make_pairs(labels, cfg.iterations, cfg.max_pairs, seed)
    torch.manual_seed(seed)  # dropout masks
    seqs = body.st.ids_batch(texts)
    opt = torch.optim.AdamW(body.model.parameters(), lr=cfg.lr, weight_decay=0.01)
    total = math.ceil(len(pairs) / cfg.pair_batch)
    losses = []
    body.model.train()
    for step in range(total):
        chunk = pairs[step * cfg.pair_batch : (step + 1) * cfg.pair_batch]
        rows = sorted({i for i, _, _ in chunk} | {j for _, j, _ in chunk})
        where = {r: k for k, r in enumerate(rows)}
        vecs = body.embed_ids([seqs[r] for r in rows])
        a = vecs[[where[i] for i, _, _ in chunk]]
        b = vecs[[where[j] for _, j, _ in chunk]]
        loss = F.mse_loss((a * b).sum(-1), torch.tensor([t for _, _, t in chunk]))
        _schedule(opt, cfg.lr, step, total)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    k = max(1, len(losses) // 10)
    return {
        "pairs": len(pairs),
        "positive_pairs": sum(t == 1.0 for _, _, t in pairs),
        "steps": total,
        "loss_first": round(sum(losses[:k]) / k, 4),
        "loss_last": round(sum(losses[-k:]) / k, 4),
    }


def logistic_head(vectors: torch.Tensor, labels: list[int], c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=1000).fit(vectors.numpy(), labels)


def setfit(train, test, cfg: SetFitConfig, seed: int, encoder: str = "minilm", tune: bool = True):
    """Both stages on `train`, predictions on `test`. tune=False: the head on the untouched body (the
    ablation that isolates stage 1)."""
    torch.manual_seed(seed)
    body = Body(encoder, cfg.max_len, cfg.precision)
    texts, labels = [t for t, _ in train], [y for _, y in train]
    info = contrastive_tune(body, texts, labels, cfg, seed) if tune else {}
    head = logistic_head(body.encode(texts), labels, cfg.head_c)
    return head.predict(body.encode([t for t, _ in test]).numpy()).tolist(), info


def _train_classifier(net, seqs, labels, pad_id, lr, epochs, batch, max_steps, seed, autocast) -> dict:
    rng = random.Random(f"plain:{seed}")
    per_epoch = math.ceil(len(seqs) / batch)
    total = min(math.ceil(per_epoch * epochs), max_steps) if max_steps else math.ceil(per_epoch * epochs)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    net.train()
    step, order = 0, []
    while step < total:
        if not order:
            order = list(range(len(seqs)))
            rng.shuffle(order)
        rows, order = order[:batch], order[batch:]
        width = max(len(seqs[r]) for r in rows)
        ids = torch.full((len(rows), width), pad_id)
        for k, r in enumerate(rows):
            ids[k, : len(seqs[r])] = torch.tensor(seqs[r])
        with autocast():
            logits = net(ids).float()
        loss = F.cross_entropy(logits, torch.tensor([labels[r] for r in rows]))
        _schedule(opt, lr, step, total)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
    return {"steps": total, "epochs": round(total * batch / len(seqs), 2), "loss_last": round(loss.item(), 4)}


@torch.inference_mode()
def _predict(net, body: Body, seqs) -> list[int]:
    from .embeddings import length_batches

    net.eval()
    out = [0] * len(seqs)
    for rows in length_batches([len(s) for s in seqs], 64):
        ids, _ = body.padded([seqs[r] for r in rows])
        with body.st._autocast():
            pred = net(ids).float().argmax(-1).tolist()
        for r, p in zip(rows, pred):
            out[r] = p
    return out


def plain_fine_tune(train, test, cfg: SetFitConfig, seed: int, full: bool = False, encoder: str = "minilm"):
    """A linear head on the mean-pooled body, body and head trained with cross-entropy; `full`: the
    ceiling's settings (cfg.full_epochs over all of `train`)."""
    torch.manual_seed(seed)
    body = Body(encoder, cfg.max_len, cfg.precision)
    n_classes = max(y for _, y in train) + 1
    net = EncoderClassifier(body.model, n_classes)
    seqs = body.st.ids_batch([t for t, _ in train])
    if full:
        args = (cfg.plain_lr, cfg.full_epochs, cfg.full_batch, 0)
    else:
        args = (cfg.plain_lr, cfg.plain_epochs, cfg.plain_batch, cfg.plain_max_steps)
    info = _train_classifier(net, seqs, [y for _, y in train], body.pad_id, *args, seed, body.st._autocast)
    return _predict(net, body, body.st.ids_batch([t for t, _ in test])), info


def package_setfit(train, test, cfg: SetFitConfig, seed: int, folder: str):
    """The `setfit` package (1.x) on the same local MiniLM folder, offline: the same R, pair cap, batch
    and body learning rate; its pairs are its own (its sampler), its head scikit-learn's logistic
    regression. fp32 (the package's CPU path)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
    except ImportError:
        raise TcatError("the setfit package is not installed: pip install setfit datasets") from None
    import tempfile

    torch.manual_seed(seed)
    model = SetFitModel.from_pretrained(folder, local_files_only=True)
    model.model_body.max_seq_length = cfg.max_len
    data = Dataset.from_dict({"text": [t for t, _ in train], "label": [y for _, y in train]})
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            batch_size=cfg.pair_batch,
            num_iterations=cfg.iterations,
            max_steps=math.ceil(cfg.max_pairs / cfg.pair_batch),
            num_epochs=1,
            body_learning_rate=cfg.lr,
            seed=seed,
            report_to="none",
            show_progress_bar=False,
            save_strategy="no",
        )
        Trainer(model=model, args=args, train_dataset=data).train()
    return [int(p) for p in model.predict([t for t, _ in test])], {}


METHODS = ("setfit", "plain", "frozen", "package")


def run_method(method: str, train, test, cfg: SetFitConfig, seed: int, encoder: str = "minilm") -> dict:
    """One (method, examples, seed) cell: scores on `test`, CPU and wall seconds, the method's info."""
    cpu, wall = time.process_time(), time.perf_counter()
    if method == "setfit":
        pred, info = setfit(train, test, cfg, seed, encoder)
    elif method == "frozen":
        pred, info = setfit(train, test, cfg, seed, encoder, tune=False)
    elif method in ("plain", "full"):
        pred, info = plain_fine_tune(train, test, cfg, seed, full=method == "full", encoder=encoder)
    elif method == "package":
        from ..train.pretrained import resolve_encoder

        pred, info = package_setfit(train, test, cfg, seed, str(resolve_encoder(encoder)))
    else:
        raise TcatError(f"unknown method {method!r}: use {', '.join((*METHODS, 'full'))}")
    return {
        **scores(pred, [y for _, y in test]),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "wall_seconds": round(time.perf_counter() - wall, 1),
        **info,
    }


def config_dict(cfg: SetFitConfig) -> dict:
    return asdict(cfg)
