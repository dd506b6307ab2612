"""The sub-configs nested in `ModelConfig` (nn/config.py), one small typed dataclass per concern.

They live apart from `ModelConfig` so that each file stays short as fields are added; nn/config.py
re-exports every one, so `from transformer_catalog.nn.config import AttentionConfig` keeps working.
Validation across fields stays in `ModelConfig.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class BlockSparseConfig:
    """BigBird's block-sparse pattern (nn/sparse.py), for encoders."""

    block_size: int = 64
    window_blocks: int = 3  # a query block sees itself and (window_blocks - 1) / 2 blocks on each side
    global_blocks: int = 2  # the first and the last block see and are seen by everything (BigBird-ITC)
    random_blocks: int = 3  # extra key blocks per query block, drawn per layer and head
    seed: int = 0


@dataclass
class AttentionConfig:
    n_heads: int = 8
    # Key/value heads: None = n_heads (multi-head), 1 = multi-query, in between = grouped-query.
    n_kv_heads: int | None = None
    # Size of each head; None = d_model / n_heads. PaLM-540B and Gemma-7B use 256 regardless of width.
    head_dim: int | None = None
    causal: bool = False  # an encoder that masks future positions (CLIP's text tower); decoders always do
    # Sliding-window attention: a causal query sees only the last `window` keys (Mistral); an encoder
    # query sees the keys within window // 2 on either side (Longformer).
    window: int | None = None
    # Which layers use the window, as a repeating pattern of L (local) and G (global): "L" = every
    # layer (Mistral), "GL" = odd layers (GPT-Neo, GPT-3's banded layers), "LG" (Gemma 2), "LLLLLG" (Gemma 3).
    window_pattern: str = "L"
    scale: float | None = None  # logit scale; None = 1/sqrt(head_dim). T5 uses 1 (folded into its init)
    qkv_bias: bool = True  # the paper's projections have biases; LLaMA's have none, Qwen2's only here
    out_bias: bool = True
    dropout: float = 0.0  # dropout on the attention weights (the paper has none here)
    backend: Literal["sdpa", "eager"] = "sdpa"  # eager is the readable reference and test oracle
    block_sparse: BlockSparseConfig | None = None  # BigBird's pattern in the encoder's self-attention


@dataclass
class PositionConfig:
    # sinusoidal / learned: a vector added to the token embedding. rope: queries and keys are
    # rotated inside attention (RoFormer), nothing is added to the embeddings.
    # relative: T5's learned bias per head and log-bucketed offset, added to the attention logits.
    # alibi: a fixed bias, linear in distance with a slope per head (Press et al.; BLOOM).
    # disentangled: DeBERTa's content-to-position and position-to-content logits (nn/disentangled.py).
    # xl: Transformer-XL's projected relative sinusoids with learned u, v biases (nn/xl.py).
    kind: Literal["sinusoidal", "learned", "rope", "relative", "alibi", "disentangled", "xl", "none"] = "sinusoidal"
    max_len: int = 512  # longest sequence the model accepts (size of a learned table)
    # Sinusoid layout: interleaved sin/cos pairs (the paper) or all sines then all cosines (Pegasus).
    sinusoidal_layout: Literal["interleaved", "halves"] = "interleaved"
    offset: int = 0  # learned tables start at this row (OPT and BART keep 2 unused rows, RoBERTa pad_id + 1)
    # How absolute positions (learned, sinusoidal) are numbered: "index" = place in the sequence;
    # "real_tokens" = number of real tokens before it, so left padding does not shift them (RoBERTa
    # and OPT count this way; Hugging Face's generate does for every decoder).
    numbering: Literal["index", "real_tokens"] = "index"
    rope_theta: float = 10000.0
    rotary_fraction: float = 1.0  # share of each head's dimensions that rotate (GPT-NeoX: 0.25)
    # Context extension by rescaling rotary frequencies: linear divides all of them by rope_factor;
    # llama3 divides only wavelengths longer than original_len / low_freq, keeps those shorter than
    # original_len / high_freq, and blends in between (Llama 3.1); ntk raises rope_theta to
    # theta * factor^(d / (d - 2)) ("NTK-aware" scaling: the highest frequency is kept, the lowest
    # divided by exactly rope_factor, those between by a geometric blend).
    rope_scaling: Literal["none", "linear", "llama3", "ntk"] = "none"
    rope_factor: float = 1.0
    rope_low_freq: float = 1.0
    rope_high_freq: float = 4.0
    rope_original_len: int = 8192
    # T5 and DeBERTa: offsets fall into this many buckets, exact near zero, log-spaced beyond, up to
    # relative_max_distance. DeBERTa: 0 = no buckets, offsets clipped at relative_max_distance.
    relative_buckets: int = 32
    relative_max_distance: int = 128


@dataclass
class NormConfig:
    kind: Literal["layernorm", "rmsnorm"] = "layernorm"
    bias: bool = True  # LayerNorm's additive bias (rmsnorm has none)
    affine: bool = True  # learned gain (and bias); OLMo normalises without any
    placement: Literal["post", "pre"] = "post"  # paper: x = LayerNorm(x + Sublayer(x))
    eps: float = 1e-5
    # A LayerNorm after the last block. Pre-norm stacks need it (their residual stream is never
    # normalised otherwise); the paper's post-norm stack already ends in a norm and has none.
    final: bool = False
    shared_parallel: bool = False  # parallel residual: one norm feeds both branches


@dataclass
class FFNConfig:
    d_ff: int = 2048  # 0: no feed-forward sublayer (attention-only blocks, as Olsson et al. 2022 study)
    # gelu = exact (erf) GELU; gelu_tanh = its tanh approximation (GPT-2's "gelu_new"); silu = swish
    # relu2 = squared ReLU (Nemotron-4); quick_gelu = x * sigmoid(1.702 x) (CLIP)
    activation: Literal["relu", "gelu", "gelu_tanh", "silu", "relu2", "quick_gelu"] = "relu"
    gated: bool = False  # down(act(gate(x)) * up(x)): GEGLU with gelu, SwiGLU with silu
    bias: bool = True


@dataclass
class MoEConfig:
    """Sparse mixture-of-experts feed-forward: each token goes to top_k of n_experts (Switch: 1, Mixtral: 2)."""

    n_experts: int = 8
    top_k: int = 2
    d_ff: int = 0  # each expert's hidden width; 0 = ffn.d_ff
    renormalize: bool = True  # rescale the top-k router probabilities to sum to 1 (Mixtral); Switch keeps them
    aux_loss_weight: float = 0.01  # load-balancing loss (Switch Transformer, eq. 4) added during training
    # Which layers have experts, as a repeating pattern of E (experts) and D (dense feed-forward):
    # "E" = every layer (Mixtral), "DE" = every other layer, starting with the second (Switch).
    pattern: str = "E"
    # Expert capacity: at most this many tokens of each sequence go to one expert, first come first
    # served; the rest skip the experts (output 0, the residual carries them). None = unlimited.
    # Switch: capacity = capacity_factor * tokens / n_experts. Counted per forward call, so with a
    # binding capacity cached decoding (one token per call) routes differently from a full pass.
    capacity: int | None = None


@dataclass
class VisionConfig:
    """Images as token sequences (ViT): non-overlapping patches, each linearly embedded, with a learned
    class token in front and a learned position per patch."""

    image_size: int = 224
    patch_size: int = 16
    channels: int = 3
    class_token: bool = True
    patch_bias: bool = True  # CLIP's patch projection has none

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


@dataclass
class EmbeddingConfig:
    vocab_size: int = 37000  # the paper's shared EN-DE byte-pair vocabulary
    pad_id: int = 0
    scale: bool = True  # multiply token embeddings by sqrt(d_model) (paper, section 3.4)
    share_src_tgt: bool = True  # one table for source and target tokens (paper, section 3.4)
    tie_output: bool = True  # pre-softmax projection = target embedding matrix (paper, section 3.4)
    n_token_types: int = 0  # segment embeddings (BERT's sentence A/B); 0 = none
    # Factorised embeddings (ALBERT, ELECTRA-small): tables of width d_embed, projected to d_model.
    d_embed: int | None = None
    scale_output: bool = False  # multiply the last hidden state by d_model^-0.5 before a tied head (T5 v1.0)
    head_bias: bool = False  # a bias on the output projection (GPT-J, Phi)
    norm: bool = False  # a norm right after the embedding sum (BERT)


__all__ = [
    "BlockSparseConfig",
    "AttentionConfig",
    "PositionConfig",
    "NormConfig",
    "FFNConfig",
    "MoEConfig",
    "VisionConfig",
    "EmbeddingConfig",
]
