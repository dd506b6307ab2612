"""One protocol for the position schemes that act inside attention (RoPE, T5's relative buckets,
ALiBi, DeBERTa's disentangled terms, Transformer-XL's relative sinusoids).

A scheme is one `PositionScheme` subclass, registered for a `position.kind` with `@scheme("kind")`.
Each stack builds one (held as `stack.<attribute>`, the name its weights have in checkpoints) and
runs it once per forward; the `Positions` it returns reaches every self-attention layer as a single
argument, which asks it to rotate queries and keys (before the cache) and for an additive bias on
the logits (after the cache and the key/value head grouping). A scheme that needs weights in every
layer (Transformer-XL's W_R, u, v) adds them to each self-attention in `layer_parameters`.

Schemes that add a vector to the token embeddings (learned, sinusoidal) are not attention schemes:
they live in the embeddings (nn/layers.py make_positions).

Adding a scheme: write the class (here, or in a module named in scheme_for's import line) with
`@scheme("name")`, `attribute`, `build(cfg, causal)`, `prepare(n_queries, past)` and `rotate` and/or
`bias`; parameters it holds need `@initialised(rule)` (nn/init.py); add "name" to PositionConfig.kind
(with any validation it needs). Stack, Block, attention and the parameter breakdown need no change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from torch import Tensor, nn

if TYPE_CHECKING:
    from .config import ModelConfig

_SCHEMES: dict[str, type[PositionScheme]] = {}


def scheme(kind: str):
    """Class decorator: the scheme serving position.kind == `kind`."""

    def register(cls: type[PositionScheme]) -> type[PositionScheme]:
        _SCHEMES[kind] = cls
        return cls

    return register


def scheme_for(kind: str) -> type[PositionScheme] | None:
    """The scheme class for a position.kind; None for kinds that need nothing inside attention."""
    from . import disentangled, layers, xl  # noqa: F401  (the modules whose classes register schemes)

    return _SCHEMES.get(kind)


class PositionScheme(nn.Module):
    """Base of the attention-side position schemes. Subclasses set `attribute` and implement
    `build` and `prepare`, and `rotate` and/or `bias`."""

    attribute: ClassVar[str]  # the stack attribute holding the scheme (its checkpoint name)
    static_cache: ClassVar[bool] = False  # works when the cache position is a 0-d tensor (compiled decoding)

    @classmethod
    def build(cls, cfg: ModelConfig, causal: bool) -> PositionScheme:
        raise NotImplementedError

    @staticmethod
    def layer_parameters(attention: nn.Module, cfg: ModelConfig) -> None:
        """Add the weights this scheme needs in every self-attention layer (default: none)."""

    def prepare(self, n_queries: int, past: int | Tensor):
        """What every layer shares in one forward, for n_queries new positions after `past` cached ones."""
        raise NotImplementedError

    def rotate(self, state, q: Tensor, k: Tensor, local: bool = False) -> tuple[Tensor, Tensor]:
        """q and k rotated; `local`: for a layer attention.window_pattern marks local (its own base)."""
        return q, k

    def bias(self, state, q: Tensor, k: Tensor, attention: nn.Module, scale: float) -> Tensor | None:
        """Additive logits, broadcastable to (B, H, Tq, Tk), for q (B, H, Tq, d) and k (B, H, Tk, d)."""
        return None

    def forward(self, n_queries: int, past: int | Tensor = 0) -> Positions:
        return Positions(self, self.prepare(n_queries, past))


class Positions:
    """One forward's positions, handed to every self-attention layer of a stack."""

    __slots__ = ("scheme", "state")

    def __init__(self, owner: PositionScheme, state):
        self.scheme, self.state = owner, state

    def rotate(self, q: Tensor, k: Tensor, local: bool = False) -> tuple[Tensor, Tensor]:
        return self.scheme.rotate(self.state, q, k, local)

    def bias(self, q: Tensor, k: Tensor, attention: nn.Module, scale: float) -> Tensor | None:
        return self.scheme.bias(self.state, q, k, attention, scale)
