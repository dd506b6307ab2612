"""The logit lens (nostalgebraist, 2020): read each layer's residual stream through the model's own
final norm and output head, as if the network stopped there.

    lens = logit_lens(model, ids)            # decoder: next-token targets ids[:, 1:]
    lens = logit_lens(model, (src, tgt))     # encoder-decoder: the decoder stack, targets tgt[:, 1:]
    lens.loss[l]        cross-entropy of the true next token read at layer l (l = 0: the embeddings)
    lens.agreement[l]   share of positions whose top-1 token at layer l is the final layer's top-1
    lens.first_layer    (B, T-1): the first layer from which the top-1 token is the final answer at
                        every later layer ("the layer at which the final answer appears")
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import TcatError
from ..nn.hooks import run_with_cache

IGNORE = -100


@dataclass
class LensResult:
    layers: list[str]  # "embed", "1", ..., "N"
    loss: list[float]  # mean next-token cross-entropy read at each layer (nats)
    accuracy: list[float]  # share of positions whose top-1 token is the true next token
    agreement: list[float]  # share of positions whose top-1 token is the final layer's top-1
    first_layer: Tensor  # (B, positions) long, per predicted position; -1 where the target is ignored

    def answer_layer(self) -> float:
        """Mean over predicted positions of the layer at which the final answer appears."""
        real = self.first_layer[self.first_layer >= 0]
        return real.float().mean().item()

    def to_dict(self) -> dict:
        real = self.first_layer[self.first_layer >= 0]
        counts = torch.bincount(real, minlength=len(self.layers)).tolist()
        return {
            "layers": self.layers,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "agreement": self.agreement,
            "answer_layer_mean": self.answer_layer(),
            "answer_layer_counts": counts,
        }


def _setup(model: nn.Module, inputs) -> tuple[str, nn.Module, Tensor]:
    """(hook prefix of the stack the lens reads, that stack, the token ids it predicts)."""
    if not hasattr(model, "head") or not hasattr(model, "decoder"):
        raise TcatError(
            f"the logit lens reads a stack through an output head; {type(model).__name__} has none "
            "(use a decoder or an encoder-decoder)"
        )
    if hasattr(model, "encoder"):
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise TcatError("an encoder-decoder's lens takes (src, tgt)")
        return "decoder.", model.decoder, inputs[1]
    return "", model.decoder, inputs


def logit_lens(model: nn.Module, inputs, targets: Tensor | None = None) -> LensResult:
    """The lens over every layer of the model's (decoder) stack. `targets` (B, T - 1) or (B, T): the
    token each position predicts (default: the next input token, so the last position predicts
    nothing); IGNORE (-100) leaves a position out (padding)."""
    prefix, stack, ids = _setup(model, inputs)
    if ids.size(1) < 2 and targets is None:
        raise TcatError("the logit lens needs at least 2 tokens: each position predicts the next one")
    targets = ids[:, 1:] if targets is None else targets
    n_pos = targets.size(1)
    if targets.size(0) != ids.size(0) or n_pos not in (ids.size(1) - 1, ids.size(1)):
        raise TcatError(
            f"targets of shape {list(targets.shape)} for inputs {list(ids.shape)}: expected (B, T - 1) or (B, T)"
        )
    names = [f"{prefix}hook_embed"] + [f"{prefix}blocks.{i}.hook_resid_post" for i in range(stack.n_layers)]
    with torch.no_grad():
        final_logits, cache = run_with_cache(model, inputs, names=names)
        final_top = final_logits[:, :n_pos].argmax(-1)
        real = targets != IGNORE
        n = real.sum().clamp(min=1)
        loss, accuracy, agreement, tops = [], [], [], []
        for name in names:
            h = cache[name][:, :n_pos]
            if stack.final_norm is not None:
                h = stack.final_norm(h)
            logits = model.logits(h).float()
            ce = F.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0), reduction="none")
            loss.append((ce * real).sum().item() / n.item())
            top = logits.argmax(-1)
            tops.append(top)
            accuracy.append(((top == targets) & real).sum().item() / n.item())
            agreement.append(((top == final_top) & real).sum().item() / n.item())
    first = _first_stable(torch.stack(tops), final_top)
    first[~real] = -1
    layers = ["embed"] + [str(i + 1) for i in range(stack.n_layers)]
    return LensResult(layers, loss, accuracy, agreement, first)


def _first_stable(tops: Tensor, final: Tensor) -> Tensor:
    """(B, T): the first layer l such that tops[l:] all equal `final` (tops: (L, B, T))."""
    agree = tops == final[None]
    # a layer qualifies when it and every later layer agree: a reversed cumulative AND
    stable = agree.flip(0).int().cumprod(0).flip(0).bool()
    first = torch.where(stable, torch.arange(tops.size(0))[:, None, None], tops.size(0)).min(0).values
    return first.long()


__all__ = ["IGNORE", "LensResult", "logit_lens"]
