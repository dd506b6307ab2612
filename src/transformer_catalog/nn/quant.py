"""Weight-only int8 for decoding: each Linear's weight becomes int8 with one scale per output row.

Decoding one token at a time reads every weight once per token, so a large model is limited by
memory bandwidth, not arithmetic: int8 weights are a quarter of fp32's bytes. Activations stay
floating point (bf16 into the int8 kernel, the result back in the model's dtype), so this is not
int8 inference, only int8 storage:  y = (x @ W_int8^T) * scale + b,  scale_i = max_j |W_ij| / 127.

`quantize_int8(model)` swaps the Linears in place (the tied output head gets its own int8 copy;
the embedding table stays as it is) and is for inference only: there is no gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _int8_kernel_works() -> bool:
    try:
        x = torch.ones(1, 32, dtype=torch.bfloat16)
        torch.ops.aten._weight_int8pack_mm(x, torch.ones(8, 32, dtype=torch.int8), torch.ones(8, dtype=torch.bfloat16))
        return True
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


class Int8Linear(nn.Module):
    """A Linear whose weight is stored as int8 rows with a bf16 scale each."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        w = linear.weight.detach().float()
        scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127
        self.register_buffer("weight", torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", scale.to(torch.bfloat16))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.fused = _int8_kernel_works()

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        flat = x.reshape(-1, shape[-1]).to(torch.bfloat16)
        if self.fused:  # dequantises inside the matmul: int8 bytes are all that is read
            y = torch.ops.aten._weight_int8pack_mm(flat, self.weight, self.scale)
        else:  # older torch: same numbers, without the bandwidth saving
            y = F.linear(flat, self.weight.to(torch.bfloat16)) * self.scale
        y = y.to(x.dtype).reshape(*shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights"


def quantize_int8(model: nn.Module) -> nn.Module:
    """Replace every nn.Linear in `model` by an Int8Linear, in place; returns the model in eval mode."""
    for name, child in list(model.named_children()):
        if type(child) is nn.Linear:
            setattr(model, name, Int8Linear(child))
        else:
            quantize_int8(child)
    return model.eval()
