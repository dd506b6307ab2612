"""Conversion to and from Hugging Face checkpoints (config.json + safetensors), both directions."""

from .hf import from_hf, to_hf

__all__ = ["from_hf", "to_hf"]
