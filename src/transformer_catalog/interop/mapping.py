"""Weight-name mapping as data: each family lists Rules; one engine applies them both ways.

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


def rule(ours: str | tuple[str, ...], theirs: str, transpose: bool = False) -> Rule:
    return Rule(ours if isinstance(ours, tuple) else (ours,), theirs, transpose)


def linear(ours: str, theirs: str, bias: bool = True, transpose: bool = False) -> list[Rule]:
    """A Linear (or LayerNorm): weight, and bias when it has one."""
    rules = [rule(f"{ours}.weight", f"{theirs}.weight", transpose)]
    if bias:
        rules.append(rule(f"{ours}.bias", f"{theirs}.bias"))
    return rules


def _expand(rules: list[Rule], n_layers: int) -> list[Rule]:
    out = []
    for r in rules:
        if "{i}" in r.theirs:
            out += [Rule(tuple(o.format(i=i) for o in r.ours), r.theirs.format(i=i), r.transpose) for i in range(n_layers)]
        else:
            out.append(r)
    return out


def hf_to_ours(tensors: dict[str, torch.Tensor], rules: list[Rule], n_layers: int,
               expected: dict[str, torch.Size], ignore: tuple[str, ...], where: str) -> dict[str, torch.Tensor]:
    """Our state dict from theirs. `expected` gives our shapes (to split fused tensors)."""
    out: dict[str, torch.Tensor] = {}
    used = set()
    for r in _expand(rules, n_layers):
        if not all(o in expected for o in r.ours):
            continue  # the rule is for a feature this config does not have (e.g. untied head)
        if r.theirs not in tensors:
            raise TcatError(f"{where}: tensor {r.theirs} is missing")
        t = tensors[r.theirs]
        used.add(r.theirs)
        t = t.t() if r.transpose else t
        sizes = [expected[o][0] for o in r.ours]
        if sum(sizes) != t.shape[0]:
            raise TcatError(f"{where}: tensor {r.theirs} has shape {list(tensors[r.theirs].shape)}, "
                            f"the config needs {sum(sizes)} rows for {', '.join(r.ours)}")
        for name, part in zip(r.ours, torch.split(t, sizes, dim=0)):
            if part.shape != expected[name]:
                raise TcatError(f"{where}: tensor {r.theirs} has shape {list(tensors[r.theirs].shape)}, "
                                f"the config needs {list(expected[name])}")
            out[name] = part.contiguous()
    extra = sorted(k for k in tensors if k not in used and not any(fnmatch.fnmatch(k, p) for p in ignore))
    if extra:
        raise TcatError(f"{where}: unexpected tensor {extra[0]} ({len(extra)} unexpected in all); "
                        "the checkpoint has a feature this converter does not map")
    return out


def ours_to_hf(state: dict[str, torch.Tensor], rules: list[Rule], n_layers: int) -> dict[str, torch.Tensor]:
    out = {}
    for r in _expand(rules, n_layers):
        if not all(o in state for o in r.ours):
            continue
        t = torch.cat([state[o] for o in r.ours], dim=0)
        out[r.theirs] = (t.t() if r.transpose else t).contiguous()
    return out
