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
class LatentConfig:
    """Multi-head latent attention (DeepSeek-V2/V3; nn/mla.py): keys and values are rebuilt per head
    from one shared latent of kv_rank numbers per token, which is all the KV cache keeps, together
    with one rotated key of rope_dim numbers shared by every head ("decoupled RoPE"). Queries may go
    through a low-rank latent too (q_rank). attention.head_dim is the query/key head size: rope_dim
    rotated dimensions plus head_dim - rope_dim unrotated ones; values have v_head_dim."""

    kv_rank: int = 512
    q_rank: int = 0  # 0: queries straight from the hidden state (DeepSeek-V2-Lite)
    rope_dim: int = 64
    v_head_dim: int = 128
    norm_eps: float = 1e-6  # the two latents' RMSNorms (fixed in DeepSeek's code, not rms_norm_eps)

    def problem(self, head_dim: int) -> tuple[str, str] | None:
        """(field, message) for sizes that cannot work."""
        for name in ("kv_rank", "rope_dim", "v_head_dim"):
            if getattr(self, name) < 1:
                return f"attention.latent.{name}", f"must be positive, got {getattr(self, name)}"
        if self.q_rank < 0:
            return "attention.latent.q_rank", f"must be 0 (no query latent) or positive, got {self.q_rank}"
        if self.rope_dim % 2 or self.rope_dim > head_dim:
            return "attention.latent.rope_dim", f"{self.rope_dim} must be even and at most head_dim={head_dim}"
        return None


def chunk_problem(cfg) -> tuple[str, str] | None:
    """(field, message) where chunked attention or the NoPE temperature cannot work in `cfg`."""
    a = cfg.attention
    if a.chunk is not None and (a.chunk < 1 or a.window is not None or a.latent is not None or cfg.arch != "decoder"):
        return "attention.chunk", "a positive chunk, for decoder attention without a window or a latent"
    if a.temperature_floor is not None and a.temperature_floor < 1:
        return "attention.temperature_floor", f"must be at least 1, got {a.temperature_floor}"
    return None


def latent_problem(cfg) -> tuple[str, str] | None:
    """(field, message) where multi-head latent attention or attention sinks cannot work in the
    ModelConfig `cfg` (called from its validate)."""
    a = cfg.attention
    if a.latent is None:
        return None
    if a.sinks:
        return "attention.sinks", "attention sinks are built for multi-head attention, not latent attention"
    if cfg.arch != "decoder" or a.block_sparse is not None:
        return "attention.latent", "latent attention is built for decoders (DeepSeek-V2/V3)"
    if cfg.n_kv_heads != a.n_heads:
        return "attention.n_kv_heads", "latent attention rebuilds keys and values for every head: no grouping"
    if cfg.position.kind not in ("rope", "none") or cfg.position.rotary_fraction != 1.0:
        return "position.kind", "latent attention rotates its rope_dim dimensions (rope, rotary_fraction 1) or none"
    return a.latent.problem(cfg.head_dim)


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
    backend: Literal["sdpa", "eager", "tiled"] = "sdpa"  # eager is the readable reference and test oracle;
    # tiled: blocks with an online softmax, the backward recomputes instead of storing scores (nn/tiled.py)
    # Normalise queries and keys (norm.kind, norm.eps) before the rotation: over each head's
    # head_dim (Qwen3, Gemma 3) or over all heads' projections at once (OLMo 2); "unit": per head
    # without a learned gain, on the rotating layers only (Llama 4's L2 norm); "head_gains": per head,
    # with a gain (no bias) of its own for every head and dimension (Command R+, StableLM 2 12B).
    qk_norm: Literal["none", "head", "all", "unit", "head_gains"] = "none"
    softcap: float | None = None  # attention logits -> softcap * tanh(logits / softcap) (Gemma 2: 50)
    block_sparse: BlockSparseConfig | None = None  # BigBird's pattern in the encoder's self-attention
    latent: LatentConfig | None = None  # multi-head latent attention instead of separate K/V projections
    # A learned logit per head that joins every softmax as an extra key with no value, so a head can
    # attend to "nothing" (gpt-oss's attention sinks). Computed eagerly.
    sinks: bool = False
    # Chunked attention (Llama 4): on the layers window_pattern marks L, a query sees only the keys
    # of its own chunk of `chunk` positions (0..chunk-1, chunk..2 chunk-1, ...), causally; instead
    # of a sliding window. Chunks count from the first position of the batch: a left-padded row's
    # chunks are shifted by its padding (transformers counts from each row's first real token).
    chunk: int | None = None
    # Attention temperature on the rope model's layers that do not rotate (Llama 4's NoPE layers):
    # queries at position p times 1 + temperature_scale * ln(1 + floor((p + 1) / temperature_floor)).
    temperature_floor: int | None = None
    temperature_scale: float = 0.1


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
    # The layers attention.window_pattern marks local rotate with this base, unscaled (Gemma 3: 10k
    # local, 1M global; ModernBERT: 10k / 160k). None: every layer uses rope_theta and its scaling.
    rope_local_theta: float | None = None
    # Which layers rotate, as a repeating pattern of R (rotary) and N (no positions, "NoPE"):
    # SmolLM3 "RRRN". A pattern as long as the stack gives any per-layer choice.
    rope_layers: str = "R"
    rotary_fraction: float = 1.0  # share of each head's dimensions that rotate (GPT-NeoX: 0.25)
    # Context extension by rescaling rotary frequencies (nn/rope.py): linear (position interpolation)
    # divides all of them by rope_factor; llama3 divides only wavelengths longer than original_len /
    # low_freq, keeps those shorter than original_len / high_freq, and blends in between (Llama 3.1);
    # ntk raises rope_theta to theta * factor^(d / (d - 2)) ("NTK-aware": the highest frequency is
    # kept, the lowest divided by exactly rope_factor, a geometric blend between); dynamic is ntk
    # whose factor grows with the sequence: none up to original_len, factor * length / original_len
    # - factor + 1 beyond; yarn divides frequencies turning fewer than beta_slow times over
    # original_len by rope_factor, keeps those turning more than beta_fast times, ramps linearly
    # between, and multiplies cos and sin by the attention factor; longrope divides frequency i by
    # short_factor[i] up to original_len and by long_factor[i] beyond (Phi-3).
    rope_scaling: Literal["none", "linear", "llama3", "ntk", "dynamic", "yarn", "longrope"] = "none"
    rope_factor: float = 1.0
    rope_low_freq: float = 1.0
    rope_high_freq: float = 4.0
    rope_original_len: int = 8192
    # yarn / longrope: cos and sin are multiplied by this (so logits by its square); None = the
    # papers' default from rope_factor: yarn 0.1 ln(factor) + 1, longrope sqrt(1 + ln factor / ln original_len).
    rope_attention_factor: float | None = None
    rope_beta_fast: float = 32.0  # yarn's ramp ends, in rotations over original_len
    rope_beta_slow: float = 1.0
    rope_truncate: bool = True  # yarn: round the ramp's ends outwards to whole dimensions
    rope_short_factor: list[float] | None = None  # longrope: one divisor per rotary frequency
    rope_long_factor: list[float] | None = None
    # T5 and DeBERTa: offsets fall into this many buckets, exact near zero, log-spaced beyond, up to
    # relative_max_distance. DeBERTa: 0 = no buckets, offsets clipped at relative_max_distance.
    relative_buckets: int = 32
    relative_max_distance: int = 128

    def scaling_problem(self, rot: int) -> tuple[str, str] | None:
        """(field, message) for RoPE scaling settings that cannot work with `rot` rotating dimensions."""
        if self.rope_scaling == "none":
            return None
        if not self.rope_factor > 0:  # also refuses NaN
            return "position.rope_factor", f"a scaling factor must be positive, got {self.rope_factor}"
        if self.rope_original_len < 1:
            return "position.rope_original_len", f"must be positive, got {self.rope_original_len}"
        if self.rope_attention_factor is not None and not self.rope_attention_factor > 0:
            return "position.rope_attention_factor", f"must be positive, got {self.rope_attention_factor}"
        if self.rope_scaling == "yarn" and not 0 < self.rope_beta_slow <= self.rope_beta_fast:
            return "position.rope_beta_slow", "yarn needs 0 < rope_beta_slow <= rope_beta_fast"
        if self.rope_scaling == "longrope":
            for name, factors in (
                ("rope_short_factor", self.rope_short_factor),
                ("rope_long_factor", self.rope_long_factor),
            ):
                if not isinstance(factors, list) or len(factors) != rot // 2:
                    return f"position.{name}", f"longrope needs a list of {rot // 2} factors (one per frequency)"
                if not all(isinstance(f, (int, float)) and f > 0 for f in factors):
                    return f"position.{name}", "every factor must be a positive number"
        return None


@dataclass
class NormConfig:
    kind: Literal["layernorm", "rmsnorm"] = "layernorm"
    bias: bool = True  # LayerNorm's additive bias (rmsnorm has none)
    affine: bool = True  # learned gain (and bias); OLMo normalises without any
    # post (paper): x = Norm(x + Sublayer(x)); pre: x + Sublayer(Norm(x)); sandwich (Gemma 2/3):
    # x + Norm'(Sublayer(Norm(x))); sublayer_output (OLMo 2): x + Norm(Sublayer(x)).
    placement: Literal["post", "pre", "sandwich", "sublayer_output"] = "post"
    eps: float = 1e-5
    # A LayerNorm after the last block. Pre-norm stacks need it (their residual stream is never
    # normalised otherwise); the paper's post-norm stack already ends in a norm and has none.
    final: bool = False
    shared_parallel: bool = False  # parallel residual: one norm feeds both branches
    unit_offset: bool = False  # the gain is 1 + weight, stored as an offset from 1 (Gemma; Nemotron's LayerNorm1P)
    first_attn_norm: bool = True  # False: the first block's attention reads x unnormalised (ModernBERT)


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
    # Router scores: softmax over all experts (Mixtral, Qwen3-MoE, DeepSeek-V2) or a sigmoid per
    # expert (DeepSeek-V3, Llama 4); the chosen experts' scores weight their outputs.
    scoring: Literal["softmax", "sigmoid"] = "softmax"
    router_bias: bool = False  # a learned bias on the router logits (gpt-oss)
    # A bias added to the scores only to choose experts, never to weight them (DeepSeek-V3's
    # auxiliary-loss-free balancing: a buffer adjusted outside gradient descent, kept in checkpoints).
    selection_bias: bool = False
    # Group-limited routing: the experts fall into `groups` equal groups and a token chooses only
    # among the top_groups groups ranked by their best score ("max", DeepSeek-V2) or the sum of
    # their two best ("top2", DeepSeek-V3).
    groups: int = 1
    top_groups: int = 1
    group_score: Literal["max", "top2"] = "max"
    routed_scale: float = 1.0  # the routed experts' weights times this (DeepSeek's routed_scaling_factor)
    shared_d_ff: int = 0  # hidden width of an always-on shared expert beside the routed ones; 0 = none
    first_dense: int = 0  # the first layers keep a dense feed-forward whatever the pattern (DeepSeek-V3: 3)
    weight_inputs: bool = False  # the router weight scales each expert's input, not its output (Llama 4)
    expert_bias: bool = False  # biases in the experts' projections (gpt-oss)
    # gpt-oss's clamped SwiGLU: the gate clamped above at `clamp`, the up projection to [-clamp,
    # clamp], and act(gate) * (up + up_offset). None: no clamping.
    clamp: float | None = None
    up_offset: float = 0.0

    def problem(self) -> tuple[str, str] | None:
        """(field, message) for routing settings that cannot work."""
        if self.groups < 1 or self.n_experts % self.groups:
            return "moe.groups", f"{self.groups} must be positive and divide n_experts={self.n_experts}"
        size = self.n_experts // self.groups
        if not 1 <= self.top_groups <= self.groups:
            return "moe.top_groups", f"must be between 1 and groups={self.groups}, got {self.top_groups}"
        if self.top_k > self.top_groups * size:
            return "moe.top_k", f"{self.top_k} is more than the {self.top_groups * size} experts of the kept groups"
        if self.group_score == "top2" and self.groups > 1 and size < 2:
            return "moe.group_score", "top2 needs at least 2 experts per group"
        for name in ("shared_d_ff", "first_dense"):
            if getattr(self, name) < 0:
                return f"moe.{name}", f"cannot be negative, got {getattr(self, name)}"
        if not self.routed_scale > 0:
            return "moe.routed_scale", f"must be positive, got {self.routed_scale}"
        if self.clamp is not None and not self.clamp > 0:
            return "moe.clamp", f"must be positive, got {self.clamp}"
        return None


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
    logit_softcap: float | None = None  # output logits -> softcap * tanh(logits / softcap) (Gemma 2: 30)
    logit_scale: float = 1.0  # output logits multiplied by this (Cohere's tied head: 0.0625)
    multiplier: float = 1.0  # token embeddings multiplied by this, after any sqrt(d_model) (Granite: 12)


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
