"""Evaluating a copy-task run (`tcat train --task copy`): greedy decoding of held-out random
sequences that never occur in the training set, exact match and per-symbol accuracy, and a few
examples to read. The copy task is the Annotated Transformer's first check that a model trains."""

from __future__ import annotations

import torch

from ..errors import TcatError


def held_out_copies(n: int, n_symbols: int, length: int, train_seed: int = 0, n_train: int = 20000):
    """n sequences drawn apart from the training set (its seed and size are the task's defaults)."""
    from ..data.synthetic import copy_examples

    seen = {tuple(s) for s, _ in copy_examples(n_train, n_symbols, length, train_seed)}
    fresh = [s for s, _ in copy_examples(4 * n, n_symbols, length, train_seed + 12345) if tuple(s) not in seen]
    return fresh[:n]


@torch.no_grad()
def evaluate_copy(checkpoint, n: int = 200, examples: int = 3) -> dict:
    from ..data.synthetic import COPY_BOS, COPY_EOS
    from ..generate import generate
    from ..train.checkpoint import load_model

    model, meta, _ = load_model(checkpoint)
    task = meta.get("task", {}) if isinstance(meta.get("task"), dict) else {}
    if task.get("name") != "copy" or model.config.arch != "encoder-decoder":
        raise TcatError(f"{checkpoint}: not a copy-task run (tcat train --task copy)")
    n_symbols, length = int(task.get("n_symbols", 10)), int(task.get("length", 10))
    sources = held_out_copies(n, n_symbols, length)
    src = torch.tensor([s + [COPY_EOS] for s in sources])  # sources end in EOS, as in training
    out = generate(model, torch.full((len(sources), 1), COPY_BOS), length + 1, src=src, eos_id=COPY_EOS).tolist()
    # generate's output starts after the BOS it was given: the copy, then EOS
    exact = sum(o[:length] == s and o[length] == COPY_EOS for o, s in zip(out, sources))
    symbols = sum(a == b for o, s in zip(out, sources) for a, b in zip(o[:length], s))
    return {
        "task": "copy",
        "held_out_sequences": len(sources),
        "exact_match": round(exact / len(sources), 4),
        "symbol_accuracy": round(symbols / (len(sources) * length), 4),
        "examples": [{"source": s, "output": o[: length + 1]} for s, o in zip(sources[:examples], out)],
    }
