"""The routing and expert variants of a mixture of experts (nn/moe.py) as architecture changes, read
from a built config's flat moe.* fields (catalog/changes.py turns each (category, change, detail)
into a Use)."""

from __future__ import annotations


def routing_uses(c: dict) -> list[tuple[str, str, str]]:
    out = []
    if c.get("moe.shared_d_ff"):
        out.append(("experts", "shared expert", f"width {c['moe.shared_d_ff']:,}"))
    if c.get("moe.scoring") == "sigmoid":
        out.append(("experts", "sigmoid routing", ""))
    if c.get("moe.groups", 1) > 1:
        out.append(("experts", "group-limited routing", f"top {c['moe.top_groups']} of {c['moe.groups']} groups"))
    if c.get("moe.selection_bias"):
        out.append(("experts", "auxiliary-loss-free balancing", "a bias that only chooses experts"))
    if c.get("moe.weight_inputs"):
        out.append(("experts", "router-weighted expert inputs", ""))
    if c.get("moe.clamp") is not None:
        out.append(("experts", "clamped SwiGLU", f"limit {c['moe.clamp']:g}"))
    return out
