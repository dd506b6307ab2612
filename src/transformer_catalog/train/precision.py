"""bf16 training without autocast's per-step recasts: a bf16 copy of the model computes, the model's
own fp32 parameters stay the optimizer's master weights.

Autocast keeps fp32 weights and activations and casts at every matmul: each weight once per
forward (and its gradient back in backward), each activation on its way into and out of every
matmul, while layer norms, GELUs and residual adds run in fp32 on twice the bytes. Here the
compute copy holds bf16 weights, so activations stay bf16 from the embedding to the logits; after
each micro-batch its bf16 gradients are added into fp32 gradients of the master weights (so
accumulation happens in fp32), the optimizer steps the masters in fp32 (Adam moments fp32), and
the compute copy is refreshed from them: one cast per weight per optimizer step.

Checkpoints and exact resume are unchanged: the master model is what is saved, and the compute
copy is a pure function of it (refreshed on resume), so a resumed run is the same, bit for bit.

The compute copy runs under autocast too: its weights and activations are already bf16, so
autocast casts nothing for them, but a float input the model receives (an image, a noise level)
is cast where it meets a matmul, as before.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class MasterWeights:
    """`model` (fp32, the master weights the optimizer steps) and `compute`, its bf16 copy that
    the forward and backward run through."""

    def __init__(self, model: nn.Module, dtype: torch.dtype = torch.bfloat16):
        self.master = model
        self.compute = copy.deepcopy(model).to(dtype)
        master = list(model.named_parameters())
        low = list(self.compute.named_parameters())
        # deepcopy keeps the structure (and tied weights) so the two lists pair up name by name
        assert [n for n, _ in master] == [n for n, _ in low], "the compute copy's parameters differ"
        self.pairs = [(m, c) for (_, m), (_, c) in zip(master, low, strict=True)]

    def grads_to_master(self) -> None:
        """Add the compute copy's bf16 gradients into the masters' fp32 gradients and drop them,
        after each micro-batch (so accumulation over micro-batches is in fp32)."""
        with torch.no_grad():
            for m, c in self.pairs:
                if c.grad is None:
                    continue
                if m.grad is None:
                    m.grad = c.grad.to(m.dtype)
                else:
                    m.grad.add_(c.grad)
                c.grad = None

    def refresh(self) -> None:
        """Copy the master weights into the compute copy (after each optimizer step, and on resume)."""
        with torch.no_grad():
            torch._foreach_copy_([c for _, c in self.pairs], [m for m, _ in self.pairs])
