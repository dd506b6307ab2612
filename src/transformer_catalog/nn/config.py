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
from .config_parts import (
    AttentionConfig,
    BlockSparseConfig,
    EmbeddingConfig,
    FFNConfig,
    LatentConfig,
    MoEConfig,
    NormConfig,
    PositionConfig,
    VisionConfig,
    chunk_problem,
    latent_problem,
)
from .dit_config import DiTConfig  # a denoiser over patches (nn/dit.py)

Arch = Literal["encoder", "decoder", "encoder-decoder"]


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
    # Each sublayer's output is multiplied by this before the residual sum (Granite: 0.22).
    residual_multiplier: float = 1.0
    # The sequence mixer of a decoder's self-attention sublayer: softmax attention, causal linear attention
    # (nn/linear_attention.py: a recurrent state instead of a KV cache) or Hyena (nn/hyena.py: long
    # convolutions by FFT with gating; no cache).
    mixer: Literal["attention", "linear", "hyena"] = "attention"
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    position: PositionConfig = field(default_factory=PositionConfig)
    norm: NormConfig = field(default_factory=NormConfig)
    ffn: FFNConfig = field(default_factory=FFNConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    moe: MoEConfig | None = None  # replaces the feed-forward of the layers moe.pattern selects
    vision: VisionConfig | None = None  # the encoder reads image patches instead of tokens
    dit: DiTConfig | None = None  # a diffusion denoiser over patches, conditioned on timestep and class

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
        m = self.moe
        return m is not None and layer >= m.first_dense and m.pattern[layer % len(m.pattern)] == "E"

    def local_at(self, layer: int) -> bool:
        """Whether layer `layer` attends within attention.window (window_pattern repeats over the layers)."""
        a = self.attention
        return a.window is not None and a.window_pattern[layer % len(a.window_pattern)] == "L"

    def rotates_at(self, layer: int) -> bool:
        """Whether layer `layer` rotates queries and keys (rope, and not a NoPE layer of position.rope_layers)."""
        p = self.position
        return p.kind == "rope" and p.rope_layers[layer % len(p.rope_layers)] == "R"

    def layer_weights(self, layer: int) -> tuple:
        """What decides the weights a block has at `layer` (blocks with equal keys have equal shapes):
        experts or dense, and the first block's missing attention norm (norm.first_attn_norm)."""
        return (self.experts_at(layer), layer == 0 and not self.norm.first_attn_norm)

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
            if problem := self.position.scaling_problem(int(rot)):
                fail(*problem)
        if self.position.kind == "disentangled":
            if self.arch != "encoder" or self.vision is not None:
                fail("position.kind", "disentangled attention is built for text encoders (DeBERTa)")
            if self.n_kv_heads != self.attention.n_heads:
                fail("attention.n_kv_heads", "disentangled attention needs one key head per query head")
        if self.position.kind == "xl" and self.arch != "decoder":
            fail("position.kind", "xl relative positions are built for decoders (Transformer-XL)")
        # a mixer replaces the whole attention sublayer: attention.window / window_pattern no longer apply
        if self.mixer != "attention" and (self.arch != "decoder" or self.memory):
            fail("mixer", f"{self.mixer} replaces a decoder's causal self-attention: needs arch decoder, no memory")
        if self.mixer != "attention" and self.position.kind not in ("sinusoidal", "learned", "rope", "none"):
            fail("mixer", f"{self.mixer} takes no attention-logit positions (position.kind {self.position.kind})")
        if self.attention.backend == "tiled" and (
            self.attention.dropout or self.position.kind in ("relative", "alibi", "disentangled", "xl")
        ):
            fail("attention.backend", "tiled attention takes no attention dropout and no bias on the logits")
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
        if self.dit is not None:
            self.dit.validate(self)
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
            if problem := self.moe.problem():
                fail(*problem)
        if problem := latent_problem(self) or chunk_problem(self):
            fail(*problem)
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
        if self.norm.placement != "post" and not self.norm.final:
            fail("norm.final", f"a {self.norm.placement}-norm stack needs a final norm (set norm.final: true)")
        self._validate_modern(fail)

    def _validate_modern(self, fail) -> None:
        """Checks of the fields of the 2024-2026 decoders (q/k norm, soft-capping, NoPE layers...)."""
        a, p, n = self.attention, self.position, self.norm
        caps = (
            ("attention.softcap", a.softcap),
            ("embedding.logit_softcap", self.embedding.logit_softcap),
            ("embedding.logit_scale", self.embedding.logit_scale),
            ("embedding.multiplier", self.embedding.multiplier),
            ("residual_multiplier", self.residual_multiplier),
        )
        for path, cap in caps:
            if cap is not None and cap <= 0:
                fail(path, f"must be positive, got {cap}")
        if not p.rope_layers or set(p.rope_layers) - {"R", "N"}:
            fail("position.rope_layers", f"{p.rope_layers!r} must be a string of R (rotary) and N (no positions)")
        if p.kind != "rope" and (p.rope_layers != "R" or p.rope_local_theta is not None):
            fail("position.rope_layers", "per-layer rotation settings need position.kind: rope")
        if p.rope_local_theta is not None and p.rope_local_theta <= 0:
            fail("position.rope_local_theta", f"must be positive, got {p.rope_local_theta}")
        if p.rope_local_theta is not None and p.rope_scaling in ("dynamic", "longrope"):
            # their frequencies are recomputed per forward for the global table only (nn/rope.py)
            fail("position.rope_local_theta", f"a local base does not combine with {p.rope_scaling} scaling yet")
        if n.unit_offset and not n.affine:
            fail("norm.unit_offset", "a gain stored as an offset from 1 needs a gain (norm.affine: true)")
        if not n.first_attn_norm and n.placement != "pre":
            fail("norm.first_attn_norm", "dropping the first attention norm needs norm.placement: pre")

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
    "LatentConfig",
    "VisionConfig",
    "ModelConfig",
]
