"""The shared PyTorch core: one attention, one block, one stack, three thin model wrappers."""

from .attention import KVCache, MultiHeadAttention, attend, causal_mask, eager_attention, padding_mask
from .config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from .count import count_parameters, parameter_breakdown
from .model import DecoderModel, EncoderDecoderModel, EncoderModel, build_model

__all__ = [
    "AttentionConfig",
    "DecoderModel",
    "EmbeddingConfig",
    "EncoderDecoderModel",
    "EncoderModel",
    "FFNConfig",
    "KVCache",
    "ModelConfig",
    "MultiHeadAttention",
    "NormConfig",
    "PositionConfig",
    "attend",
    "build_model",
    "causal_mask",
    "count_parameters",
    "eager_attention",
    "padding_mask",
    "parameter_breakdown",
]
