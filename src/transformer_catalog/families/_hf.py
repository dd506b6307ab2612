"""Helpers for reading Hugging Face config dicts strictly: a setting we do not implement fails
with its name instead of converting into a silently different model."""

from __future__ import annotations

from ..errors import TcatError


def unsupported(hf: dict, key: str, allowed: tuple, default=None) -> None:
    value = hf.get(key, default)
    if value not in allowed:
        raise TcatError(
            f"Hugging Face config {hf.get('model_type')}: {key}={value!r} is not supported "
            f"(supported: {', '.join(map(repr, allowed))})"
        )


ACTIVATIONS = {
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu": "gelu",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
    "quick_gelu": "quick_gelu",
    "relu2": "relu2",
}
ACTIVATIONS_BACK = {
    "gelu_tanh": "gelu_new",
    "gelu": "gelu",
    "relu": "relu",
    "silu": "silu",
    "quick_gelu": "quick_gelu",
    "relu2": "relu2",
}


def activation(hf: dict, key: str) -> str:
    name = hf.get(key)
    if name not in ACTIVATIONS:
        raise TcatError(
            f"Hugging Face config {hf.get('model_type')}: {key}={name!r} is not supported "
            f"(supported: {', '.join(ACTIVATIONS)})"
        )
    return ACTIVATIONS[name]


def require_zero(tensors: dict, name: str, where: str) -> None:
    """A tensor we drop must carry no information (e.g. BART's final_logits_bias)."""
    t = tensors.get(name)
    if t is not None and bool(t.abs().max() > 0):
        raise TcatError(f"{where}: tensor {name} is not zero and is not supported yet")


def decoder_layers(cfg) -> dict[str, int]:
    """Layer placeholders of a decoder-only checkpoint: {i} runs over its decoder layers."""
    return {"i": cfg.n_decoder_layers}


def encoder_layers(cfg) -> dict[str, int]:
    return {"i": cfg.n_encoder_layers}


def seq2seq_layers(cfg) -> dict[str, int]:
    return {"e": cfg.n_encoder_layers, "d": cfg.n_decoder_layers}
