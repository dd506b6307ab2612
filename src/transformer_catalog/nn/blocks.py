"""One Transformer layer, shared by every stack: self-attention, optional cross-attention, FFN.

Each sub-layer is wrapped in a residual connection and a norm (section 3.1). The paper places
the norm after the residual sum ("post-norm"): x = LayerNorm(x + Dropout(Sublayer(x))). Most
later models place it before the sub-layer ("pre-norm"): x = x + Dropout(Sublayer(LayerNorm(x))).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from .attention import LayerCache, MultiHeadAttention
from .config import ModelConfig
from .hyena import Hyena
from .layers import FeedForward, MoEFeedForward, dropout, make_norm
from .linear_attention import LinearAttention
from .mla import LatentAttention
from .positions import Positions, PositionScheme, scheme_for
from .xl import Memory


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, cross_attention: bool = False, layer: int = 0):
        super().__init__()
        d = cfg.d_model
        # x + Sublayer(Norm(x)) for pre and sandwich; sublayer_output normalises the output instead
        self.placement = cfg.norm.placement
        self.pre_norm = self.placement in ("pre", "sandwich")
        attention = MultiHeadAttention if cfg.attention.latent is None else LatentAttention  # MLA: DeepSeek
        mixer = {"attention": attention, "linear": LinearAttention, "hyena": Hyena}[cfg.mixer]  # config mixer
        self.self_attn = mixer(cfg, layer=layer)
        first_identity = layer == 0 and not cfg.norm.first_attn_norm  # ModernBERT: the embeddings are normalised
        self.self_attn_norm = nn.Identity() if first_identity else make_norm(d, cfg.norm)
        if cross_attention:
            self.cross_attn = MultiHeadAttention(cfg, cross=True)
            self.cross_attn_norm = make_norm(d, cfg.norm)
        else:
            self.cross_attn = None
        if cfg.experts_at(layer):
            self.ffn = MoEFeedForward(d, cfg.ffn, cfg.moe)
        else:  # ffn.d_ff 0: an attention-only block
            self.ffn = FeedForward(d, cfg.ffn, cfg.dropout) if cfg.ffn.d_ff else None
        self.parallel = cfg.parallel_residual
        self.ffn_norm = None if cfg.norm.shared_parallel or self.ffn is None else make_norm(d, cfg.norm)
        # sandwich (Gemma 2/3): a second norm on each sublayer's output, before the residual sum
        sandwich = self.placement == "sandwich"
        self.post_attn_norm = make_norm(d, cfg.norm) if sandwich else None
        self.post_cross_attn_norm = make_norm(d, cfg.norm) if sandwich and cross_attention else None
        self.post_ffn_norm = make_norm(d, cfg.norm) if sandwich and self.ffn is not None else None
        self.dropout = nn.Dropout(cfg.dropout)
        self.residual_multiplier = cfg.residual_multiplier
        self.hooks = None  # a hooks.Tap while hooks are installed (nn/hooks.py)

    def _residual(
        self,
        x: Tensor,
        norm: nn.Module,
        sublayer: Callable[[Tensor], Tensor],
        out: str,
        resid: str,
        post: nn.Module | None = None,
    ) -> Tensor:
        """The sublayer in its residual connection; `out` and `resid` name its hook points (`out`: what
        is added to the residual stream). `post`: the sandwich's norm on the sublayer's output."""
        h = self.hooks
        if self.placement == "post":
            y = self._out(sublayer(x))
            return norm(x + y) if h is None else h(resid, norm(x + h(out, y)))
        if self.placement == "sublayer_output":
            y = self._out(norm(sublayer(x)))
        else:
            y = sublayer(norm(x))
            y = self._out(y if post is None else post(y))
        return x + y if h is None else h(resid, x + h(out, y))

    def _out(self, y: Tensor) -> Tensor:
        """A sublayer's output as added to the residual stream: dropout, then residual_multiplier (Granite)."""
        y = dropout(self.dropout, y)
        return y if self.residual_multiplier == 1.0 else y * self.residual_multiplier

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        causal: bool = False,
        context: Tensor | None = None,
        context_mask: Tensor | None = None,
        cache: LayerCache | None = None,
        positions: Positions | None = None,
        memory: Tensor | None = None,
    ) -> Tensor:
        if memory is not None and self.pre_norm:  # the memory holds layer inputs: normalise them like x
            memory = self.self_attn_norm(memory)
        h = self.hooks
        if h is not None:
            x = h("hook_resid_pre", x)

        def self_attention(inp):
            return self.self_attn(inp, mask=mask, causal=causal, cache=cache, positions=positions, memory=memory)

        if self.parallel:
            a = self.self_attn_norm(x)
            f = a if self.ffn_norm is None else self.ffn_norm(x)
            if h is None:
                x = x + self._out(self_attention(a))
                return x if self.ffn is None else x + self._out(self.ffn(f))
            x = x + h("hook_attn_out", self._out(self_attention(a)))
            if self.ffn is not None:
                x = x + h("hook_mlp_out", self._out(self.ffn(f)))
            return h("hook_resid_post", x)
        x = self._residual(
            x, self.self_attn_norm, self_attention, "hook_attn_out", "hook_resid_mid", self.post_attn_norm
        )
        if self.cross_attn is not None:
            x = self._residual(
                x,
                self.cross_attn_norm,
                lambda c: self.cross_attn(c, context=context, mask=context_mask, cache=cache),
                "hook_cross_attn_out",
                "hook_resid_cross",
                self.post_cross_attn_norm,
            )
        if self.ffn is None:
            return x if h is None else h("hook_resid_post", x)
        return self._residual(x, self.ffn_norm, self.ffn, "hook_mlp_out", "hook_resid_post", self.post_ffn_norm)


class Stack(nn.Module):
    """N identical blocks, plus the final norm that pre-norm stacks need, and the position scheme
    that all of a stack's layers share (nn/positions.py), run once per forward."""

    def __init__(self, cfg: ModelConfig, n_layers: int, cross_attention: bool = False, causal: bool = False):
        super().__init__()
        self.n_layers = n_layers
        self.blocks = nn.ModuleList(
            Block(cfg, cross_attention, layer=i) for i in range(1 if cfg.share_layers else n_layers)
        )
        self.final_norm = make_norm(cfg.d_model, cfg.norm) if cfg.norm.final else None
        scheme = scheme_for(cfg.position.kind)
        # held under the scheme's own attribute: that is the name its weights have in checkpoints
        self.position_attribute = None if scheme is None else scheme.attribute
        if scheme is not None:
            self.add_module(scheme.attribute, scheme.build(cfg, causal))
        self.hooks = None  # a hooks.Tap while hooks are installed (nn/hooks.py)

    @property
    def position_scheme(self) -> PositionScheme | None:
        return None if self.position_attribute is None else self._modules[self.position_attribute]

    def forward(
        self, x: Tensor, caches: list[LayerCache] | None = None, memory: Memory | None = None, **kwargs
    ) -> Tensor:
        scheme = self.position_scheme
        if scheme is not None:
            kwargs["positions"] = scheme(x.size(1), 0 if caches is None else caches[0].length)
        blocks = list(self.blocks._modules.values())
        tap = self.hooks
        for i in range(self.n_layers):  # with shared layers, one block is applied n_layers times
            block = blocks[i % len(blocks)]
            if tap is not None:
                tap.layer = i  # the names of this application's hook points
            layer_in = x
            x = block(
                x,
                cache=None if caches is None else caches[i],
                memory=None if memory is None else memory.layers[i],
                **kwargs,
            )
            if memory is not None:
                memory.update(i, layer_in)
        if tap is not None:
            tap.layer = None
            return x if self.final_norm is None else tap("ln_final.hook_normalized", self.final_norm(x))
        return x if self.final_norm is None else self.final_norm(x)
