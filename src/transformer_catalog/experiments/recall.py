"""Recall tasks shared by recall_associative.py and recall_mqar.py: data, the small decoders, training and
accuracy. Every mixer (config field `mixer`) is trained with the same budget, data and optimiser.

Associative recall (H3 / Hyena): a sequence of key-value pairs drawn from one random mapping of keys to
values (keys from the first half of the vocabulary, values from the second), then a query key; the target is
its value. Multi-query associative recall (Zoology, Arora et al. 2023): n distinct key-value pairs first, then
the rest of the sequence is noise in which each key reappears once as a query (the gap drawn from a power law,
as Zoology does, so most queries come soon after the pairs and a few far); the target after each query key is
its value.
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE = -100  # positions without a target


@dataclass
class Task:
    vocab: int
    length: int
    pairs: int = 0  # MQAR: key-value pairs; 0 = associative recall


def associative_recall(n: int, task: Task, generator, dense: bool = False):
    """(inputs (n, L), targets (n, L)): pairs k v k v ... (L - 1 tokens, keys with repeats) then a query key
    that occurred in the sequence; the last position's target is its value. `dense` (training) also gives a
    target at every key whose pair occurred earlier in the sequence: each is a recall question too, and the
    denser signal is what lets a small CPU budget learn. Token 0 is never used."""
    import torch

    half = (task.vocab - 1) // 2
    keys = 1 + torch.arange(half)
    mapping = torch.stack([torch.randperm(half, generator=generator) for _ in range(n)]) + 1 + half  # (n, half)
    n_pairs = (task.length - 1) // 2
    k = keys[torch.randint(half, (n, n_pairs), generator=generator)]
    v = torch.gather(mapping, 1, k - 1)
    seq = torch.stack([k, v], dim=2).reshape(n, 2 * n_pairs)
    pick = torch.randint(n_pairs, (n,), generator=generator)
    query = k[torch.arange(n), pick]
    answer = v[torch.arange(n), pick]
    inputs = torch.cat([seq, query[:, None]], dim=1)
    targets = torch.full_like(inputs, IGNORE)
    targets[:, -1] = answer
    if dense:
        seen = torch.zeros(n, half + 1, dtype=torch.bool)
        rows = torch.arange(n)
        for j in range(n_pairs):
            key = k[:, j]
            targets[rows[seen[rows, key]], 2 * j] = v[seen[rows, key], j]  # reading key j, predict its value
            seen[rows, key] = True
    return inputs, targets


def multi_query_recall(n: int, task: Task, generator, power: float = 0.01):
    """Zoology's MQAR: pairs first, then noise with each key once more as a query at a power-law distance."""
    import torch

    half = task.vocab // 2
    p = task.pairs
    context = 2 * p
    if task.length < 2 * context:
        raise ValueError(f"MQAR needs length >= 4 x pairs (got {task.length}, {p})")
    keys = torch.stack([torch.randperm(half - 1, generator=generator)[:p] for _ in range(n)]) + 1
    values = torch.randint(half, task.vocab, (n, p), generator=generator)
    inputs = torch.randint(1, task.vocab, (n, task.length), generator=generator)  # noise
    targets = torch.full_like(inputs, IGNORE)
    inputs[:, 0:context:2], inputs[:, 1:context:2] = keys, values
    # query slots: even offsets after the pairs, chosen with probability ~ power-law in their distance
    slots = torch.arange(context, task.length - 1, 2)
    gaps = (slots - context + 2).float()
    weights = power * gaps ** (power - 1)
    for row in range(n):
        chosen = slots[torch.multinomial(weights, p, replacement=False, generator=generator)]
        inputs[row, chosen] = keys[row]
        targets[row, chosen] = values[row]  # the target after reading the key at `chosen` is its value
    # noise must not repeat a key elsewhere (that would make the answer ambiguous): replace such tokens
    is_key = (inputs[:, context:, None] == keys[:, None, :]).any(-1) & (targets[:, context:] == IGNORE)
    inputs[:, context:][is_key] = 0
    return inputs, targets


def make_batch(task: Task, n: int, generator, dense: bool = False):
    """A batch of the task; `dense` (training, associative recall) scores every repeated key."""
    if task.pairs == 0:
        return associative_recall(n, task, generator, dense)
    return multi_query_recall(n, task, generator)


def model_config(mixer: str, task: Task, d_model: int, layers: int, heads: int, rope_layers: str = "R"):
    return small_decoder(
        mixer, d_model, heads, layers, task.length, task.vocab, d_ff=2 * d_model, tie=False, rope_layers=rope_layers
    )


def small_decoder(
    mixer: str,
    d_model: int,
    heads: int,
    layers: int,
    max_len: int,
    vocab: int,
    d_ff: int,
    tie: bool,
    rope_layers: str = "R",
):
    """A LLaMA-style decoder (RoPE, RMSNorm, SwiGLU, no biases) whose sequence mixer is `mixer`: the model the
    recall tasks and the cost harness (attention_cost.py) compare the mixers in. rope_layers: which layers'
    attention rotates (R) and which has no positions (N), repeating (position.rope_layers); only attention reads
    it (linear attention and Hyena take no rotary positions)."""
    from ..nn import ModelConfig

    return ModelConfig.from_dict(
        {
            "arch": "decoder",
            "mixer": mixer,
            "d_model": d_model,
            "n_encoder_layers": 0,
            "n_decoder_layers": layers,
            "dropout": 0.0,
            "attention": {"n_heads": heads, "qkv_bias": False, "out_bias": False},
            "position": {"kind": "rope", "max_len": max_len, "rope_layers": rope_layers},
            "norm": {"kind": "rmsnorm", "bias": False, "placement": "pre", "final": True},
            "ffn": {"d_ff": d_ff, "activation": "silu", "gated": True, "bias": False},
            "embedding": {"vocab_size": vocab, "scale": False, "tie_output": tie},
        }
    )


def blind(model) -> None:
    """The control: every mixer's output projection zeroed and frozen, so no token sees another (the model
    keeps its embeddings, feed-forwards and head, and the same budget)."""
    import torch

    for block in model.decoder.blocks:
        proj = block.self_attn.out_proj
        with torch.no_grad():
            proj.weight.zero_()
        proj.weight.requires_grad_(False)


def accuracy(model, task: Task, n: int, seed: int, batch: int | None = None) -> float:
    """Share of the scored positions (AR: the final query; MQAR: every query) whose prediction is the value."""
    import torch

    g = torch.Generator().manual_seed(seed)
    batch = batch or max(1, min(128, 16384 // task.length))  # ~16K tokens a forward: an 8K batch of 128 is GiBs
    right = total = 0
    model.eval()
    with torch.no_grad():
        for start in range(0, n, batch):
            x, y = make_batch(task, min(batch, n - start), g)
            pred = model(x).argmax(-1)
            scored = y != IGNORE
            right += int((pred[scored] == y[scored]).sum())
            total += int(scored.sum())
    model.train()
    return right / total


def stage_task(task: Task, length: int) -> Task:
    """The task at a curriculum stage's length: MQAR keeps the target's ratio of pairs to length."""
    pairs = max(1, task.pairs * length // task.length) if task.pairs else 0
    return Task(task.vocab, length, pairs)


def train(
    mixer: str,
    task: Task,
    *,
    d_model: int,
    layers: int,
    heads: int,
    stages: tuple,
    lr: float,
    seed: int,
    evals: tuple,
    rope_layers: str = "R",
    control: bool = False,
    progress=None,
) -> dict:
    """One model for `task` (its positions and Hyena filters sized for task.length), trained through the
    curriculum `stages` ((length, batch, steps) each, on fresh batches; one AdamW with warm-up and cosine decay
    over all of them) and scored at each (length, sequences) of `evals` on held-out sequences.

    Why a curriculum: trained straight at 1,024 tokens none of the mixers left the plateau on which it predicts
    some value already seen (loss ln 14) within 300-400 steps; the recall circuit forms within a few hundred
    steps at 64 tokens, and then carries over to longer sequences with a few steps at each."""
    import math
    import time

    import torch
    import torch.nn.functional as F

    from ..nn import build_model

    torch.manual_seed(seed)
    model = build_model(model_config(mixer, task, d_model, layers, heads, rope_layers))
    if control:
        blind(model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.1, betas=(0.9, 0.98))
    steps = sum(s for _, _, s in stages)
    warm = max(1, steps // 10)

    def schedule(s):
        return min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    g = torch.Generator().manual_seed(seed + 1)
    cpu = time.process_time()
    losses, stage_cpu = [], []
    for length, batch, n_steps in stages:
        at = stage_task(task, length)
        start = time.process_time()
        for _ in range(n_steps):
            x, y = make_batch(at, batch, g, dense=True)
            loss = F.cross_entropy(model(x).reshape(-1, task.vocab), y.reshape(-1), ignore_index=IGNORE)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
            if progress is not None:
                progress()
        # CPU seconds per step at this length: the measured cost of training each mixer as length grows
        stage_cpu.append([length, batch, round((time.process_time() - start) / max(1, n_steps), 4)])
    train_cpu = time.process_time() - cpu
    scores = {}
    for length, n in evals:
        scores[str(length)] = accuracy(model, stage_task(task, length), n, seed + 2)
    tail = losses[-max(1, steps // 20) :]
    return {
        "accuracy": scores,
        "final_loss": sum(tail) / len(tail),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "train_cpu_seconds": round(train_cpu, 1),
        "step_cpu_seconds": stage_cpu,
        "losses": losses[:: max(1, steps // 100)],
    }


__all__ = [
    "IGNORE",
    "Task",
    "accuracy",
    "associative_recall",
    "blind",
    "make_batch",
    "multi_query_recall",
    "stage_task",
    "train",
]
