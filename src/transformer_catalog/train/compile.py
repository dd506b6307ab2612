"""torch.compile applied from outside the model, one Block at a time (torchtitan's way): every block
has the same code, so one compiled graph serves them all, compile time does not grow with depth,
and the Python between blocks (caches, memories, masks) stays eager.

A block that inductor cannot compile (no C++ compiler, an unsupported op) runs eagerly: dynamo's
errors are suppressed into a warning, so compiling can only cost time, never a run.
"""

from __future__ import annotations

import warnings

from torch import nn

from ..runtime import has_cxx_compiler


def compile_blocks(model: nn.Module, **options) -> int:
    """Compile every Block of `model` in place; returns how many were compiled (0 when it cannot be)."""
    from ..nn.blocks import Block

    if not hasattr(nn.Module, "compile"):
        return 0
    if not has_cxx_compiler():
        warnings.warn("torch.compile needs a C++ compiler on CPU (none found): training runs eagerly", stacklevel=2)
        return 0
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True  # a failing graph falls back to eager
    blocks = [m for m in model.modules() if isinstance(m, Block)]
    for block in blocks:
        block.compile(**options)
    return len(blocks)
