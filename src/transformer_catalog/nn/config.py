"""The model configuration: one small typed sub-config per concern, nested in `ModelConfig`.

Every behavioural difference between models is a field here, never a model's name. Configs
round-trip through plain dicts (`to_dict` / `ModelConfig.from_dict`) so they can live in
`config.json` beside the weights; unknown keys and impossible values fail loudly with the
dotted path of the offending field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Literal

from ..errors import TcatError

Arch = Literal["encoder", "decoder", "encoder-decoder"]


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


@dataclass
class ModelConfig:
    arch: Arch = "encoder-decoder"
    d_model: int = 512
    n_encoder_layers: int = 6
    n_decoder_layers: int = 6
    dropout: float = 0.1  # residual dropout: on each sub-layer output and on embeddings + positions
    # x + Attn(norm(x)) + FFN(norm'(x)) in one step instead of one after the other (GPT-J, GPT-NeoX);
    # with norm.shared_parallel the two branches read the same norm (GPT-J).
    parallel_residual: bool = False
    share_layers: bool = False  # one set of block weights used by every layer of a stack (ALBERT)
    # Segment-level recurrence (Transformer-XL): each layer also attends to its inputs over the last
    # `memory` positions of the previous segment (see nn/xl.py). 0 = none. Needs position.kind: xl.
    memory: int = 0
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    position: PositionConfig = field(default_factory=PositionConfig)
    norm: NormConfig = field(default_factory=NormConfig)
    ffn: FFNConfig = field(default_factory=FFNConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    moe: MoEConfig | None = None  # replaces the feed-forward of the layers moe.pattern selects
    vision: VisionConfig | None = None  # the encoder reads image patches instead of tokens

    def __post_init__(self) -> None:
        self.validate()

    @property
    def head_dim(self) -> int:
        return self.attention.head_dim or self.d_model // self.attention.n_heads

    @property
    def n_kv_heads(self) -> int:
        return self.attention.n_kv_heads or self.attention.n_heads

    def experts_at(self, layer: int) -> bool:
        """Whether layer `layer` of a stack has a mixture of experts (moe.pattern repeats over the layers)."""
        return self.moe is not None and self.moe.pattern[layer % len(self.moe.pattern)] == "E"

    def validate(self) -> None:
        def fail(path: str, msg: str) -> None:
            raise TcatError(f"model config: {path}: {msg}")

        if self.d_model <= 0:
            fail("d_model", f"must be positive, got {self.d_model}")
        if self.attention.n_heads <= 0:
            fail("attention.n_heads", f"must be positive, got {self.attention.n_heads}")
        if self.attention.head_dim is not None and self.attention.head_dim <= 0:
            fail("attention.head_dim", f"must be positive, got {self.attention.head_dim}")
        if self.attention.head_dim is None and self.d_model % self.attention.n_heads:
            fail(
                "attention.n_heads",
                f"d_model={self.d_model} is not divisible by n_heads={self.attention.n_heads}; "
                "pick a head count that divides d_model",
            )
        kv = self.attention.n_kv_heads
        if kv is not None and (kv <= 0 or self.attention.n_heads % kv):
            fail("attention.n_kv_heads", f"{kv} must be positive and divide n_heads={self.attention.n_heads}")
        if self.position.kind == "rope":
            rot = self.head_dim * self.position.rotary_fraction
            if not 0.0 < self.position.rotary_fraction <= 1.0 or rot != int(rot) or int(rot) % 2:
                fail(
                    "position.rotary_fraction",
                    f"{self.position.rotary_fraction} of head_dim={self.head_dim} must be an even number of dimensions",
                )
        if self.position.kind == "disentangled":
            if self.arch != "encoder" or self.vision is not None:
                fail("position.kind", "disentangled attention is built for text encoders (DeBERTa)")
            if self.n_kv_heads != self.attention.n_heads:
                fail("attention.n_kv_heads", "disentangled attention needs one key head per query head")
        if self.position.kind == "xl" and self.arch != "decoder":
            fail("position.kind", "xl relative positions are built for decoders (Transformer-XL)")
        if self.memory < 0 or (self.memory and self.position.kind != "xl"):
            fail(
                "memory", "segment recurrence needs position.kind: xl (absolute positions would repeat) and memory >= 0"
            )
        if self.attention.block_sparse is not None:
            bs = self.attention.block_sparse
            if self.arch != "encoder" or self.attention.causal:
                fail("attention.block_sparse", "block-sparse attention is built for bidirectional encoders (BigBird)")
            for name in ("block_size", "window_blocks"):
                if getattr(bs, name) < 1:
                    fail(f"attention.block_sparse.{name}", f"must be at least 1, got {getattr(bs, name)}")
            if bs.global_blocks < 0 or bs.random_blocks < 0:
                fail("attention.block_sparse", "global_blocks and random_blocks cannot be negative")
        if self.parallel_residual and (self.norm.placement != "pre" or self.arch == "encoder-decoder"):
            fail("parallel_residual", "needs pre-norm and a model without cross-attention")
        if self.norm.shared_parallel and not self.parallel_residual:
            fail("norm.shared_parallel", "only applies with parallel_residual: true")
        if self.position.offset < 0 or (self.position.offset and self.position.kind != "learned"):
            fail("position.offset", "only learned positions take a (non-negative) offset")
        if self.attention.window is not None and self.attention.window < 1:
            fail("attention.window", f"must be at least 1, got {self.attention.window}")
        if not self.attention.window_pattern or set(self.attention.window_pattern) - {"L", "G"}:
            fail(
                "attention.window_pattern",
                f"{self.attention.window_pattern!r} must be a string of L (local) and G (global)",
            )
        if self.embedding.d_embed is not None and self.embedding.d_embed <= 0:
            fail("embedding.d_embed", f"must be positive, got {self.embedding.d_embed}")
        if self.embedding.d_embed not in (None, self.d_model) and self.embedding.tie_output and self.arch != "encoder":
            fail("embedding.d_embed", "a factorised embedding cannot be tied to the output projection")
        if self.vision is not None:
            if self.arch != "encoder":
                fail("vision", "image inputs need arch: encoder")
            if self.vision.image_size % self.vision.patch_size:
                fail(
                    "vision.patch_size", f"{self.vision.patch_size} does not divide image_size={self.vision.image_size}"
                )
        if self.moe is not None:
            if not 1 <= self.moe.top_k <= self.moe.n_experts:
                fail("moe.top_k", f"must be between 1 and n_experts={self.moe.n_experts}, got {self.moe.top_k}")
            if not self.moe.pattern or set(self.moe.pattern) - {"D", "E"} or "E" not in self.moe.pattern:
                fail(
                    "moe.pattern",
                    f"{self.moe.pattern!r} must be a string of E (experts) and D (dense) with at least one E",
                )
            if self.moe.capacity is not None and self.moe.capacity < 1:
                fail("moe.capacity", f"must be at least 1, got {self.moe.capacity}")
        if self.norm.kind == "rmsnorm" and self.norm.bias:
            fail("norm.bias", "rmsnorm has no bias; set norm.bias: false")
        if self.arch in ("encoder", "encoder-decoder") and self.n_encoder_layers < 1:
            fail("n_encoder_layers", f"an {self.arch} model needs at least 1 encoder layer")
        if self.arch in ("decoder", "encoder-decoder") and self.n_decoder_layers < 1:
            fail("n_decoder_layers", f"a {self.arch} model needs at least 1 decoder layer")
        for path, p in (("dropout", self.dropout), ("attention.dropout", self.attention.dropout)):
            if not 0.0 <= p < 1.0:
                fail(path, f"must be in [0, 1), got {p}")
        if self.ffn.d_ff < 0 or (self.ffn.d_ff == 0 and self.moe is not None and not self.moe.d_ff):
            fail("ffn.d_ff", f"must be positive, or 0 for attention-only blocks without experts, got {self.ffn.d_ff}")
        if self.embedding.vocab_size <= 0:
            fail("embedding.vocab_size", f"must be positive, got {self.embedding.vocab_size}")
        if not 0 <= self.embedding.pad_id < self.embedding.vocab_size:
            fail("embedding.pad_id", f"{self.embedding.pad_id} is outside the vocabulary")
        if self.position.max_len <= 0:
            fail("position.max_len", f"must be positive, got {self.position.max_len}")
        if self.norm.placement == "pre" and not self.norm.final:
            fail("norm.final", "a pre-norm stack needs a final norm (set norm.final: true)")

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        return _build(cls, _migrate(data), "")

    def replace(self, **changes) -> ModelConfig:
        """A copy with top-level fields or dotted sub-fields changed: replace(**{"ffn.d_ff": 64})."""
        data = self.to_dict()
        for key, value in changes.items():
            *parents, leaf = key.split(".")
            node = data
            for p in parents:
                if p not in node or not isinstance(node[p], dict):
                    raise TcatError(f"model config: {key}: no such field")
                node = node[p]
            if leaf not in node:
                raise TcatError(f"model config: {key}: no such field")
            node[leaf] = value
        return ModelConfig.from_dict(data)


def _migrate(data: dict) -> dict:
    """Read configs written by earlier versions: attention.bias (0.1.0 before the split) became
    qkv_bias and out_bias."""
    attention = data.get("attention") if isinstance(data, dict) else None
    if isinstance(attention, dict) and "bias" in attention:
        attention = dict(attention)
        bias = attention.pop("bias")
        attention.setdefault("qkv_bias", bias)
        attention.setdefault("out_bias", bias)
        data = {**data, "attention": attention}
    return data


def _is_optional(hint) -> bool:
    """X | None, however it is spelled (typing.Optional[X] or the X | None of PEP 604)."""
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def _build(cls, data, prefix: str):
    if not isinstance(data, dict):
        raise TcatError(f"model config: {prefix.rstrip('.') or '(top)'}: expected a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise TcatError(f"model config: {prefix}{unknown[0]}: unknown field (known: {', '.join(sorted(names))})")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        path = prefix + key
        optional = [a for a in typing.get_args(hint) if a is not type(None)] if _is_optional(hint) else []
        if optional and dataclasses.is_dataclass(optional[0]):  # Optional[SubConfig]
            kwargs[key] = None if value is None else _build(optional[0], value, path + ".")
        elif dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, path + ".")
        else:
            kwargs[key] = _check(hint, value, path)
    return cls(**kwargs)


def _check(hint, value, path: str):
    origin = typing.get_origin(hint)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise TcatError(f"model config: {path}: {value!r} is not one of {list(allowed)}")
        return value
    if _is_optional(hint):  # Optional[...]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if value is None else _check(args[0], value, path)
    if hint is bool:
        if not isinstance(value, bool):
            raise TcatError(f"model config: {path}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TcatError(f"model config: {path}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TcatError(f"model config: {path}: expected a number, got {value!r}")
        return float(value)
    return value


__all__ = [
    "BlockSparseConfig",
    "AttentionConfig",
    "PositionConfig",
    "NormConfig",
    "FFNConfig",
    "EmbeddingConfig",
    "MoEConfig",
    "VisionConfig",
    "ModelConfig",
]
