"""Activation patching and ablation over the hook points of nn/hooks.py.

    clean_logits, clean = run_with_cache(model, clean_ids)
    patched = patch(model, corrupted_ids, clean, "blocks.1.attn.hook_z", position=4, head=2)
    ablated = ablate(model, clean_ids, "blocks.1.attn.hook_z", head=2)            # zero (or "mean")
    diff = logit_diff(patched, correct=17, wrong=42)                                # at the last position
    effects = patching_effect(model, clean_ids, corrupted_ids, metric, names, per="head")

`patch` runs the corrupted input with one named activation (all of it, one position, one head, or one
head at one position) taken from the clean run's cache. `patching_effect` sweeps names (and positions
or heads) and reports the share of the clean-minus-corrupted metric that each patch restores: 1.0
restores the clean run's value, 0.0 changes nothing. Positions index the activation's position axis
(queries for per-head points); negative positions count from the end. A head on a residual-stream
point, a position or head out of range, and patching between runs of different lengths are one line
(TcatError) each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from ..errors import TcatError
from ..nn.hooks import call_model, check_names, head_axis, hooks, position_axis, run_with_cache


def _index(name: str, x: Tensor, position: int | None, head: int | None) -> tuple:
    """The index into activation `x` of hook point `name` that selects `position` and/or `head`."""
    idx: list = [slice(None)] * x.dim()
    h_axis = head_axis(name)
    if head is not None:
        if h_axis is None:
            raise TcatError(f"{name} is not per head; head={head} applies to attention points (hook_q ... hook_result)")
        n_heads = x.size(h_axis)
        if not -n_heads <= head < n_heads:
            raise TcatError(f"head {head} is out of range for {name}: the layer has {n_heads} heads (0..{n_heads - 1})")
        idx[h_axis] = head
    if position is not None:
        p_axis = position_axis(name)
        n = x.size(p_axis)
        if not -n <= position < n:
            raise TcatError(f"position {position} is out of range for {name}: the run has {n} positions (0..{n - 1})")
        idx[p_axis] = position
    return tuple(idx)


def replace_at(name: str, x: Tensor, value: Tensor, position: int | None = None, head: int | None = None) -> Tensor:
    """`x` with the part selected by position/head taken from `value` (same shape as `x`)."""
    if value.shape != x.shape:
        raise TcatError(
            f"patching between runs of different lengths: {name} is {list(value.shape)} in the clean run and "
            f"{list(x.shape)} in this one; give both runs the same number of tokens"
        )
    if position is None and head is None:
        return value.to(x.dtype)
    out = x.clone()
    idx = _index(name, x, position, head)
    out[idx] = value[idx].to(x.dtype)
    return out


def patch(
    model: nn.Module,
    inputs,
    cache: dict[str, Tensor],
    name: str,
    position: int | None = None,
    head: int | None = None,
):
    """The output of `inputs` with activation `name` (at `position` / `head` when given) replaced by
    cache[name] from another run (run_with_cache)."""
    check_names(model, [name])
    if name not in cache:
        raise TcatError(f"the clean cache holds no {name}; run_with_cache with names including it")
    clean = cache[name]
    with hooks(model, {name: lambda x, n: replace_at(n, x, clean, position, head)}):
        return call_model(model, inputs)


def ablate(
    model: nn.Module,
    inputs,
    name: str,
    position: int | None = None,
    head: int | None = None,
    value: str | Tensor = "zero",
):
    """The output of `inputs` with activation `name` (at `position` / `head` when given) set to zero,
    to its mean over the batch and positions of this run ("mean"), or to a given tensor."""
    check_names(model, [name])
    if isinstance(value, str) and value not in ("zero", "mean"):
        raise TcatError(f"ablation value {value!r}: use 'zero', 'mean' or a tensor")

    def fill(x: Tensor, n: str) -> Tensor:
        if isinstance(value, Tensor):
            v = value.to(x.dtype).expand_as(x)
        elif value == "zero":
            v = torch.zeros_like(x)
        else:  # the batch-and-position mean, per head for per-head points
            axes = (0, position_axis(n))
            v = x.mean(dim=axes, keepdim=True).expand_as(x)
        _index(n, x, position, head)  # range checks, also for a whole-activation ablation
        return replace_at(n, x, v.contiguous(), position, head)

    with hooks(model, {name: fill}):
        return call_model(model, inputs)


def logit_diff(logits: Tensor, correct: int | Tensor, wrong: int | Tensor, position: int = -1) -> Tensor:
    """Mean over the batch of logit[correct] - logit[wrong] at `position` (logits (B, T, vocab)).
    `correct` / `wrong`: a token id, or one per batch row."""
    at = logits[:, position]
    rows = torch.arange(at.size(0))
    c = torch.as_tensor(correct).expand(at.size(0))
    w = torch.as_tensor(wrong).expand(at.size(0))
    return (at[rows, c] - at[rows, w]).mean()


def _same_shape(clean, corrupted) -> None:
    def shapes(x):
        if isinstance(x, Tensor):
            return [tuple(x.shape)]
        values = x.values() if isinstance(x, dict) else x
        return [tuple(v.shape) for v in values if isinstance(v, Tensor)]

    a, b = shapes(clean), shapes(corrupted)
    if a != b:
        raise TcatError(
            f"patching between runs of different lengths: clean inputs {a}, corrupted {b}; "
            "give both runs the same number of tokens"
        )


def patching_effect(
    model: nn.Module,
    clean,
    corrupted,
    metric: Callable[[Tensor], Tensor],
    names: Iterable[str],
    per: str | None = None,
) -> dict[str, Tensor]:
    """For each hook point in `names`: the share of metric(clean) - metric(corrupted) restored by
    patching the clean activation into the corrupted run, (metric(patched) - metric(corrupted)) /
    (metric(clean) - metric(corrupted)). per=None patches the whole activation (a 0-d tensor),
    "position" each position (T,), "head" each head (H,), "head-position" each (H, T)."""
    if per not in (None, "position", "head", "head-position"):
        raise TcatError(f"per={per!r}: use None, 'position', 'head' or 'head-position'")
    _same_shape(clean, corrupted)
    names = check_names(model, names)
    with torch.no_grad():
        clean_out, cache = run_with_cache(model, clean, names=names)
        base = metric(call_model(model, corrupted))
        span = metric(clean_out) - base
        if span.abs().item() == 0:
            raise TcatError("the clean and corrupted runs give the same metric: nothing to restore")
        out = {}
        for name in names:
            x = cache[name]
            if per in ("head", "head-position") and head_axis(name) is None:
                raise TcatError(f"{name} is not per head; per={per!r} applies to attention points")
            heads = x.size(head_axis(name)) if per in ("head", "head-position") else None
            n_pos = x.size(position_axis(name))

            def effect(position=None, head=None, name=name):
                return ((metric(patch(model, corrupted, cache, name, position, head)) - base) / span).item()

            if per is None:
                out[name] = torch.tensor(effect())
            elif per == "position":
                out[name] = torch.tensor([effect(position=p) for p in range(n_pos)])
            elif per == "head":
                out[name] = torch.tensor([effect(head=h) for h in range(heads)])
            else:
                out[name] = torch.tensor([[effect(p, h) for p in range(n_pos)] for h in range(heads)])
    return out


__all__ = ["ablate", "logit_diff", "patch", "patching_effect", "replace_at"]
