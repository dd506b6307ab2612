"""Initialisation, chosen by module type.

Each module type states how its own parameters (not its children's) start: a class of this package
declares it with `@initialised(rule)`, torch's building blocks are registered below. `init_weights`
walks a model's modules and applies each module's rule to its own parameters, so a parameter's
initialisation depends on the module that holds it, never on the name it is reached by.

The rules (the paper does not state its initialisation): Xavier-uniform for projections (as the
Annotated Transformer); N(0, d_model^-1/2) for token tables, so that embedding * sqrt(d_model) has
unit scale; N(0, 0.02) for learned position and segment tables (as BERT and GPT-2); biases and norm
gains keep what their constructors gave them.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

Rule = Callable[[nn.Module, Tensor], None]  # (the module, one of its own parameters) -> initialise it in place

_RULES: dict[type, Rule] = {}


def initialised(rule: Rule):
    """Class decorator: parameters held directly by instances of the class start by `rule`."""

    def register(cls: type) -> type:
        _RULES[cls] = rule
        return cls

    return register


def register(cls: type, rule: Rule) -> None:
    """The rule for a module type defined elsewhere (torch's own)."""
    _RULES[cls] = rule


def keep(module: nn.Module, p: Tensor) -> None:
    """Leave the value the constructor gave (norm gains of 1, default biases)."""


def normal(std: float) -> Rule:
    def rule(module: nn.Module, p: Tensor) -> None:
        nn.init.normal_(p, std=std)

    return rule


def xavier(module: nn.Module, p: Tensor) -> None:
    """Xavier-uniform for a matrix; a stack of matrices (experts) gets it matrix by matrix."""
    for matrix in p if p.dim() == 3 else [p]:
        nn.init.xavier_uniform_(matrix)


def xavier_weight(module: nn.Module, p: Tensor) -> None:
    """Projections (Linear, the patch convolution): Xavier on the weight, the bias as constructed."""
    if p is module.weight:
        nn.init.xavier_uniform_(p)


def rule_for(module: nn.Module) -> Rule:
    for cls in type(module).__mro__:
        if cls in _RULES:
            return _RULES[cls]
    raise TypeError(
        f"{type(module).__name__} holds parameters but has no initialisation rule "
        "(declare one with @initialised in transformer_catalog.nn.init)"
    )


def init_weights(root: nn.Module) -> None:
    """Initialise every parameter under `root` once (tied parameters at their first holder), in the
    order of root.named_parameters(), by the rule of the module that holds it."""
    if any(p.is_meta for p in root.parameters()):
        return  # shapes only (parameter counting): there are no values to initialise
    seen: set[int] = set()
    for module in root.modules():
        for p in module.parameters(recurse=False):
            if id(p) in seen:
                continue  # tied: the output head shares the token table, which has its own rule
            seen.add(id(p))
            rule_for(module)(module, p)


register(nn.Linear, xavier_weight)
register(nn.Conv2d, xavier_weight)
register(nn.LayerNorm, keep)
