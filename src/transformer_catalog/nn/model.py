"""Whole models: embeddings around one shared `Stack`, in the three pretraining architectures.

  EncoderModel         bidirectional self-attention over the input (BERT-style)
  DecoderModel         causal self-attention, next-token logits (GPT-style)
  EncoderDecoderModel  the paper's model: encoder + decoder with cross-attention (T5/BART-style)

`build_model(cfg)` picks the class from `cfg.arch`.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import Tensor, nn

from ..errors import TcatError
from .attention import KVCache, StaticKVCache, padding_mask
from .blocks import Stack
from .config import EmbeddingConfig, ModelConfig
from .init import init_weights, initialised, normal
from .layers import EmbeddingTable, dropout, make_norm, make_positions
from .positions import scheme_for
from .xl import Memory


def real_token_positions(keep: Tensor) -> Tensor:
    """(B, T) positions that count real tokens only: a token's position is the number of real
    tokens before it (Hugging Face: cumsum(attention_mask) - 1). Padding gets 0; it is never
    attended to, so its position does not matter."""
    return (keep.long().cumsum(-1) - 1).clamp(min=0)


def pad_attention_mask(keep: Tensor, n_queries: int) -> Tensor:
    """(B, 1, T_q, T_k) bool: no query attends to a padding key. A padding query keeps its own
    key, so that its softmax row is never empty (an empty row gives NaN, which would reach real
    tokens through the values at the next layer). `keep` (B, T_k) covers cached keys too."""
    n_keys = keep.size(1)
    own = torch.zeros(n_queries, n_keys, dtype=torch.bool, device=keep.device)
    own[torch.arange(n_queries, device=keep.device), torch.arange(n_keys - n_queries, n_keys, device=keep.device)] = (
        True
    )
    return padding_mask(keep) | own


class Embeddings(nn.Module):
    """Token embedding * sqrt(d_model) (section 3.4) + positional encoding, then dropout."""

    def __init__(self, cfg: ModelConfig, tokens: nn.Embedding | None = None):
        super().__init__()
        e: EmbeddingConfig = cfg.embedding
        width = e.d_embed or cfg.d_model
        self.tokens = tokens if tokens is not None else EmbeddingTable(e.vocab_size, width, cfg.d_model**-0.5)
        self.positions = make_positions(width, cfg.position)
        self.max_len = cfg.position.max_len
        self.scale = (math.sqrt(width) if e.scale else 1.0) * e.multiplier  # Granite's embedding_multiplier
        self.token_types = EmbeddingTable(e.n_token_types, width, 0.02) if e.n_token_types else None
        self.norm = make_norm(width, cfg.norm) if e.norm else None
        self.dropout = nn.Dropout(cfg.dropout)
        self.project = nn.Linear(width, cfg.d_model) if width != cfg.d_model else None
        self.hooks = None  # a hooks.Tap while hooks are installed (nn/hooks.py)

    def forward(
        self, ids: Tensor, offset: int = 0, token_types: Tensor | None = None, positions: Tensor | None = None
    ) -> Tensor:
        """`positions` (B, T): each token's position (see PositionConfig.numbering); default
        offset .. offset + T - 1 for every row."""
        length = ids.size(1)
        if isinstance(offset, int) and offset + length > self.max_len:  # a static cache checks its own size
            raise TcatError(
                f"sequence of {offset + length} tokens is longer than the model's position.max_len="
                f"{self.max_len}; shorten the input or use a model with a longer context"
            )
        x = self.tokens(ids) * self.scale if self.scale != 1.0 else self.tokens(ids)
        if self.positions is not None:
            x = x + (self.positions(length, offset) if positions is None else self.positions.at(positions))
        if self.token_types is not None:
            x = x + self.token_types(torch.zeros_like(ids) if token_types is None else token_types)
        if self.norm is not None:
            x = self.norm(x)
        x = dropout(self.dropout, x)
        x = x if self.project is None else self.project(x)
        return x if self.hooks is None else self.hooks("hook_embed", x)


class _Base(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.hooks = None  # a hooks.Tap while hooks are installed (nn/hooks.py): hook_logits

    def init_weights(self) -> None:
        """Every parameter by the rule of the module type that holds it (nn/init.py)."""
        init_weights(self)

    def aux_loss(self) -> Tensor | None:
        """Mean load-balancing loss of the mixture-of-experts layers in the last forward, times its
        weight (moe.aux_loss_weight); None for dense models. The trainer adds it to the task loss."""
        from .layers import MoEFeedForward

        losses = [m.aux_loss for m in self.modules() if isinstance(m, MoEFeedForward) and m.aux_loss is not None]
        if not losses:
            return None
        return self.config.moe.aux_loss_weight * torch.stack(losses).mean()

    def logits(self, hidden: Tensor) -> Tensor:
        if self.config.embedding.scale_output:
            hidden = hidden * self.config.d_model**-0.5  # T5 v1.0 rescales before its tied head
        logits = self.head(hidden)
        if self.config.embedding.logit_scale != 1.0:  # Cohere scales its tied head's logits
            logits = logits * self.config.embedding.logit_scale
        cap = self.config.embedding.logit_softcap
        if cap is not None:  # Gemma 2: bounded smoothly to (-cap, cap)
            logits = torch.tanh(logits / cap) * cap
        return logits if self.hooks is None else self.hooks("hook_logits", logits)

    def _head(self, cfg: ModelConfig, tokens: nn.Embedding) -> nn.Linear:
        head = nn.Linear(cfg.d_model, cfg.embedding.vocab_size, bias=cfg.embedding.head_bias)
        if cfg.embedding.tie_output:
            head.weight = tokens.weight  # pre-softmax projection shares the embedding matrix
        return head


class EncoderModel(_Base):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.embed = Embeddings(cfg)
        self.encoder = Stack(cfg, cfg.n_encoder_layers)
        self.init_weights()

    def forward(self, ids: Tensor, keep: Tensor | None = None, token_types: Tensor | None = None) -> Tensor:
        """Hidden states (B, T, d_model). `keep` marks real tokens; default: ids != pad_id."""
        keep = ids != self.config.embedding.pad_id if keep is None else keep
        positions = real_token_positions(keep) if self.config.position.numbering == "real_tokens" else None
        return self.encoder(
            self.embed(ids, token_types=token_types, positions=positions),
            mask=padding_mask(keep),
            causal=self.config.attention.causal,
        )


@initialised(normal(0.02))  # the class token and the position table, as ViT
class PatchEmbeddings(nn.Module):
    """An image (B, C, H, W) as a sequence (B, 1 + N, d): patches by a strided convolution (one linear
    map per patch), a class token in front, a learned position for every place, then dropout."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        v = cfg.vision
        self.project = nn.Conv2d(
            v.channels, cfg.d_model, kernel_size=v.patch_size, stride=v.patch_size, bias=v.patch_bias
        )
        self.class_token = nn.Parameter(torch.empty(1, 1, cfg.d_model)) if v.class_token else None
        self.positions = nn.Parameter(torch.empty(1, v.n_patches + v.class_token, cfg.d_model))
        self.norm = make_norm(cfg.d_model, cfg.norm) if cfg.embedding.norm else None  # CLIP's "pre_layrnorm"
        self.dropout = nn.Dropout(cfg.dropout)
        self.hooks = None  # a hooks.Tap while hooks are installed (nn/hooks.py)

    def forward(self, pixels: Tensor) -> Tensor:
        x = self.project(pixels).flatten(2).transpose(1, 2)  # (B, N, d), patches in row-major order
        if self.class_token is not None:
            x = torch.cat([self.class_token.expand(x.size(0), -1, -1), x], dim=1)
        if x.size(1) != self.positions.size(1):
            raise TcatError(
                f"image gives {x.size(1)} positions; the model was built for {self.positions.size(1)} "
                "(vision.image_size / vision.patch_size)"
            )
        x = self.dropout((x + self.positions) if self.norm is None else self.norm(x + self.positions))
        return x if self.hooks is None else self.hooks("hook_embed", x)


class VisionEncoderModel(_Base):
    """ViT: the shared encoder stack over image patches. Returns hidden states (B, 1 + N, d); the
    first is the class token's, the usual input to a classifier."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.embed = PatchEmbeddings(cfg)
        self.encoder = Stack(cfg, cfg.n_encoder_layers)
        self.init_weights()

    def forward(self, pixels: Tensor) -> Tensor:
        return self.encoder(self.embed(pixels))


class DecoderModel(_Base):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.embed = Embeddings(cfg)
        self.decoder = Stack(cfg, cfg.n_decoder_layers, causal=True)
        self.head = self._head(cfg, self.embed.tokens)
        self.init_weights()

    def new_cache(self) -> KVCache:
        return KVCache(self.config.n_decoder_layers)

    def static_cache_unsupported(self) -> str | None:
        """Why this model cannot decode with fixed-size cache buffers (None when it can): position
        schemes and masks that are computed from the number of cached keys need a growing cache."""
        c, a = self.config, self.config.attention
        scheme = scheme_for(c.position.kind)
        if scheme is not None and not scheme.static_cache:
            return f"position.kind {c.position.kind}"
        if a.window is not None and "L" in a.window_pattern:
            return "sliding-window attention"
        if a.block_sparse is not None:
            return "block-sparse attention"
        if a.latent is not None:  # its cache holds latents, not per-head keys and values
            return "multi-head latent attention"
        if a.chunk is not None:  # chunks are counted from the first cached position
            return "chunked attention"
        if c.mixer != "attention":  # its state is a recurrence or a long convolution, not keys and values
            return f"mixer {c.mixer}"
        return None

    def new_static_cache(self, batch: int, max_len: int, dtype=torch.float32) -> StaticKVCache:
        why = self.static_cache_unsupported()
        if why:
            raise TcatError(f"a static KV cache does not support {why}")
        if max_len > self.config.position.max_len:
            raise TcatError(
                f"sequence of {max_len} tokens is longer than the model's position.max_len="
                f"{self.config.position.max_len}; shorten the input or use a model with a longer context"
            )
        device = self.embed.tokens.weight.device
        return StaticKVCache(
            self.config.n_decoder_layers, batch, self.config.n_kv_heads, max_len, self.config.head_dim, dtype, device
        )

    def new_memory(self) -> Memory:
        """Recurrence state for Transformer-XL-style segment-by-segment processing (config.memory)."""
        if not self.config.memory:
            raise TcatError("this model has no segment recurrence (config memory: 0)")
        return Memory(self.config.n_decoder_layers, self.config.memory)

    def forward(
        self,
        ids: Tensor,
        cache: KVCache | None = None,
        memory: Memory | None = None,
        attn_mask: Tensor | None = None,
        keep: Tensor | None = None,
        positions: Tensor | None = None,
    ) -> Tensor:
        """Next-token logits (B, T, vocab) for each position. With `memory` (new_memory()), the
        segment also attends to the previous segments' hidden states, and the memory moves on.
        `attn_mask` (B, 1, T, T) bool replaces the causal mask (prefix LM, permutation LM).
        `keep` (B, cached + T) marks real tokens (Hugging Face's attention_mask): padding is never
        attended to, and with position.numbering "real_tokens" positions count real tokens only.
        `positions` (B, T) sets each token's position explicitly (learned or sinusoidal positions;
        rotary and relative schemes depend only on distances, which a per-row shift keeps)."""
        if cache is not None and memory is not None:
            raise TcatError("use either a KV cache (generation) or a segment memory (recurrent training), not both")
        offset = 0 if cache is None else cache.length
        mask = None
        if keep is not None:
            if attn_mask is not None or memory is not None:
                raise TcatError("a padding mask (keep) does not combine with an explicit attention mask or a memory")
            expected = ids.size(1) + (0 if cache is None else int(cache.length))
            if keep.shape != (ids.size(0), expected):
                raise TcatError(
                    f"padding mask has shape {list(keep.shape)}; expected {[ids.size(0), expected]} "
                    "(batch, cached + new tokens)"
                )
            mask = pad_attention_mask(keep.bool(), ids.size(1))
            if positions is None and self.config.position.numbering == "real_tokens":
                positions = real_token_positions(keep)[:, -ids.size(1) :]
        x = self.embed(ids, offset, positions=positions)
        if attn_mask is not None:
            if cache is not None or memory is not None:
                raise TcatError("an explicit attention mask is for whole sequences: no cache or memory")
            return self.logits(self.decoder(x, mask=attn_mask, causal=False))
        x = self.decoder(x, mask=mask, causal=True, caches=None if cache is None else cache.layers, memory=memory)
        return self.logits(x)


class EncoderDecoderModel(_Base):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.src_embed = Embeddings(cfg)
        shared = self.src_embed.tokens if cfg.embedding.share_src_tgt else None
        self.tgt_embed = Embeddings(cfg, tokens=shared)
        self.encoder = Stack(cfg, cfg.n_encoder_layers)
        self.decoder = Stack(cfg, cfg.n_decoder_layers, cross_attention=True, causal=True)
        self.head = self._head(cfg, self.tgt_embed.tokens)
        self.init_weights()

    def new_cache(self) -> KVCache:
        return KVCache(self.config.n_decoder_layers)

    def src_keep(self, src: Tensor) -> Tensor:
        return src != self.config.embedding.pad_id

    def encode(self, src: Tensor, keep: Tensor | None = None) -> Tensor:
        keep = self.src_keep(src) if keep is None else keep
        return self.encoder(self.src_embed(src), mask=padding_mask(keep))

    def decode(
        self,
        tgt: Tensor,
        memory: Tensor,
        src_keep: Tensor,
        cache: KVCache | None = None,
    ) -> Tensor:
        """Decoder hidden states. Target padding needs no mask: with causal attention, real
        tokens never see the padding that follows them, and the loss ignores padded positions."""
        offset = 0 if cache is None else cache.length
        x = self.tgt_embed(tgt, offset)
        return self.decoder(
            x,
            causal=True,
            context=memory,
            context_mask=padding_mask(src_keep),
            caches=None if cache is None else cache.layers,
        )

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        """Logits (B, T_tgt, vocab) for teacher-forced decoding of `tgt` given `src`."""
        keep = self.src_keep(src)
        return self.logits(self.decode(tgt, self.encode(src, keep), keep))


_ARCHS = {"encoder": EncoderModel, "decoder": DecoderModel, "encoder-decoder": EncoderDecoderModel}


def build_model(cfg: ModelConfig, device: str | torch.device | None = None) -> nn.Module:
    """Build the model `cfg` describes. device="meta" allocates nothing (for counting); None builds
    on the current default device (so a model built inside another's meta build stays on meta)."""
    with torch.device(device) if device is not None else contextlib.nullcontext():
        if cfg.dit is not None:  # a denoiser of images, not a token model
            from .dit import DiTModel

            return DiTModel(cfg)
        return VisionEncoderModel(cfg) if cfg.vision else _ARCHS[cfg.arch](cfg)
