"""Weight-name mapping as data: each family lists Rules; one engine applies them both ways.
(Beside the families, its only authors; interop/ applies it and looks down here.)

A rule pairs one of our tensors (or several, fused in theirs along the output dimension, like
GPT-2's c_attn = [q; k; v]) with one Hugging Face tensor. `transpose` marks GPT-2's Conv1D,
which stores weights as (in, out) where nn.Linear stores (out, in). "{i}" expands to each layer.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import torch

from ..errors import TcatError


@dataclass(frozen=True)
class Rule:
    ours: tuple[str, ...]
    theirs: str
    transpose: bool = False
    per_head: bool = False  # fused tensor laid out head by head: [q_h, k_h, v_h] for each head (GPT-NeoX)


def rule(ours: str | tuple[str, ...], theirs: str, transpose: bool = False, per_head: bool = False) -> Rule:
    return Rule(ours if isinstance(ours, tuple) else (ours,), theirs, transpose, per_head)


def linear(ours: str, theirs: str, bias: bool = True, transpose: bool = False) -> list[Rule]:
    """A Linear (or LayerNorm): weight, and bias when it has one."""
    rules = [rule(f"{ours}.weight", f"{theirs}.weight", transpose)]
    if bias:
        rules.append(rule(f"{ours}.bias", f"{theirs}.bias"))
    return rules


def _expand(rules: list[Rule], layers: dict[str, int]) -> list[Rule]:
    """Repeat each rule whose names hold a placeholder ({i}, or {e} and {d} for encoder and
    decoder layers) once per layer."""
    out = []
    for r in rules:
        key = next((k for k in layers if "{" + k + "}" in r.theirs), None)
        if key is None:
            out.append(r)
            continue
        for n in range(layers[key]):
            fmt = {key: n}
            out.append(Rule(tuple(o.format(**fmt) for o in r.ours), r.theirs.format(**fmt), r.transpose, r.per_head))
    return out


def _from_per_head(t: torch.Tensor, parts: int, heads: int) -> torch.Tensor:
    """(heads * parts * hd, ...) head-major -> (parts * heads * hd, ...) part-major."""
    rest = t.shape[1:]
    return t.reshape(heads, parts, -1, *rest).transpose(0, 1).reshape(t.shape)


def _to_per_head(t: torch.Tensor, parts: int, heads: int) -> torch.Tensor:
    rest = t.shape[1:]
    return t.reshape(parts, heads, -1, *rest).transpose(0, 1).reshape(t.shape)


def hf_to_ours(
    tensors: dict[str, torch.Tensor],
    rules: list[Rule],
    layers: dict[str, int],
    expected: dict[str, torch.Size],
    ignore: tuple[str, ...],
    where: str,
    heads: int = 0,
) -> dict[str, torch.Tensor]:
    """Our state dict from theirs. `expected` gives our shapes (to split fused tensors)."""
    out: dict[str, torch.Tensor] = {}
    used = set()
    for r in _expand(rules, layers):
        if not all(o in expected for o in r.ours):
            continue  # the rule is for a feature this config does not have (e.g. untied head)
        if r.theirs not in tensors:
            raise TcatError(f"{where}: tensor {r.theirs} is missing")
        t = tensors[r.theirs]
        used.add(r.theirs)
        t = t.t() if r.transpose else t
        if r.per_head:
            t = _from_per_head(t, len(r.ours), heads)
        if len(r.ours) == 1:  # one-to-one (scalars too): nothing to split
            parts = [t]
        else:
            sizes = [expected[o][0] for o in r.ours]
            if t.dim() == 0 or sum(sizes) != t.shape[0]:
                raise TcatError(
                    f"{where}: tensor {r.theirs} has shape {list(tensors[r.theirs].shape)}, "
                    f"the config needs {sum(sizes)} rows for {', '.join(r.ours)}"
                )
            parts = torch.split(t, sizes, dim=0)
        for name, part in zip(r.ours, parts):
            if part.shape != expected[name]:
                raise TcatError(
                    f"{where}: tensor {r.theirs} has shape {list(tensors[r.theirs].shape)}, "
                    f"the config needs {list(expected[name])}"
                )
            out[name] = part.contiguous()
    extra = sorted(k for k in tensors if k not in used and not any(fnmatch.fnmatch(k, p) for p in ignore))
    if extra:
        raise TcatError(
            f"{where}: unexpected tensor {extra[0]} ({len(extra)} unexpected in all); "
            "the checkpoint has a feature this converter does not map"
        )
    return out


def ours_to_hf(
    state: dict[str, torch.Tensor], rules: list[Rule], layers: dict[str, int], heads: int = 0
) -> dict[str, torch.Tensor]:
    out = {}
    for r in _expand(rules, layers):
        if not all(o in state for o in r.ours):
            continue
        t = state[r.ours[0]] if len(r.ours) == 1 else torch.cat([state[o] for o in r.ours], dim=0)
        if r.per_head:
            t = _to_per_head(t, len(r.ours), heads)
        out[r.theirs] = (t.t() if r.transpose else t).contiguous()
    return out
