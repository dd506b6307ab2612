"""Language-model evaluation: held-out perplexity of a run trained with --task clm, and samples.

Perplexity = exp(mean token cross-entropy) over the held-out documents (every 20th), each cut into
the pieces the model trained on; it depends on the tokenizer, so compare runs with one vocabulary."""

from __future__ import annotations

import math

import torch

from ..errors import TcatError


@torch.no_grad()
def evaluate_lm(
    run: str,
    prompts: list[str],
    new_tokens: int = 60,
    temperature: float = 0.8,
    top_k: int = 50,
    seed: int = 0,
    int8: bool = False,
) -> dict:
    """Held-out loss and perplexity, and one sample per prompt; `int8`: with weight-only int8 Linears
    (nn/quant.py), to see what the faster decoding costs in perplexity."""
    from ..generate import SamplingConfig, iter_tokens
    from ..train.checkpoint import load_model
    from ..train.tasks import make_objective_task
    from ..train.trainer import held_out_loss

    model, meta, tok = load_model(run)
    task_meta = meta.get("task", {})
    if task_meta.get("objective") != "clm" or tok is None:
        raise TcatError(f"{run}: not a causal language model run (tcat train --task clm)")
    task = make_objective_task("clm", task_meta["data"], tok.vocab_size, model.config.position.max_len, tok)
    params = sum(p.numel() for p in model.parameters())
    if int8:
        from ..nn.quant import quantize_int8

        quantize_int8(model)
    mean = held_out_loss(model, task, 8 * model.config.position.max_len)
    count = sum(len(s) for piece in task.valid for s in piece)  # tokens of the held-out pieces
    samples = []
    g = torch.Generator().manual_seed(seed)
    for prompt in prompts:
        start = torch.tensor([tok.encode(prompt)])
        ids = [
            int(t)
            for t, _ in iter_tokens(
                model, start, new_tokens, sampling=SamplingConfig(temperature, top_k, 1.0), generator=g
            )
        ]
        samples.append({"prompt": prompt, "continuation": tok.decode(ids)})
    return {
        "data": task_meta["data"],
        "valid_tokens": count,
        "valid_loss": round(mean, 4),
        "perplexity": round(math.exp(mean), 2),
        "params": params,
        "weights": "int8" if int8 else "fp32",
        "vocab": tok.vocab_size,
        "samples": samples,
    }
