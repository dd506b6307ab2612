"""Mixtures of experts: a router sends each token to top_k of n_experts feed-forward experts.

One module covers the published variants, each an explicit field of MoEConfig (never a model's
name): softmax or sigmoid router scores, a learned router bias (gpt-oss), a selection-only bias
(DeepSeek-V3's auxiliary-loss-free balancing), group-limited routing (DeepSeek-V2/V3), a scale on
the routed weights, renormalised top-k weights, an always-on shared expert (DeepSeek, Llama 4),
router weights applied to the experts' inputs (Llama 4), expert biases and gpt-oss's clamped
SwiGLU, and Switch's per-sequence capacity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config_parts import FFNConfig, MoEConfig
from .init import initialised, xavier


def _init(module: nn.Module, p: Tensor) -> None:
    """Expert weights (stacked matrices) Xavier, expert by expert; expert biases start at 0."""
    if p.dim() == 3:
        xavier(module, p)
    else:
        nn.init.zeros_(p)


@initialised(_init)  # the router and the shared expert are Linears with their own rule
class MoEFeedForward(nn.Module):
    """Top-k mixture of experts (Shazeer et al., 2017; Switch; Mixtral; DeepSeekMoE). A linear router
    scores the experts per token; each token's output is the weighted sum of its top-k experts, plus
    the shared expert when there is one. Experts are gated like the dense feed-forward (ffn.gated).
    Expert weights are stored stacked: gate_up (E, 2 d_ff, d) when gated, else up (E, d_ff, d); and
    down (E, d, d_ff); with moe.expert_bias also in_bias (E, 2 d_ff or d_ff) and down_bias (E, d).

    After each forward, `aux_loss` holds the load-balancing loss E * sum_e f_e * P_e, where f_e is
    the share of token assignments that went to expert e and P_e its mean router probability
    (sigmoid scores are normalised per token first)."""

    def __init__(self, d_model: int, ffn: FFNConfig, moe: MoEConfig):
        super().__init__()
        from .layers import _ACTIVATIONS, FeedForward  # layers re-exports this class: import it late

        d_ff = moe.d_ff or ffn.d_ff
        self.top_k, self.renormalize, self.n_experts = moe.top_k, moe.renormalize, moe.n_experts
        self.capacity, self.cfg = moe.capacity, moe
        self.router = nn.Linear(d_model, moe.n_experts, bias=moe.router_bias)
        # a buffer, not a parameter: DeepSeek-V3 adjusts it by load counts, not by gradients
        self.register_buffer("selection_bias", torch.zeros(moe.n_experts) if moe.selection_bias else None)
        rows = 2 * d_ff if ffn.gated else d_ff
        self.gate_up = nn.Parameter(torch.empty(moe.n_experts, rows, d_model)) if ffn.gated else None
        self.up = None if ffn.gated else nn.Parameter(torch.empty(moe.n_experts, rows, d_model))
        self.down = nn.Parameter(torch.empty(moe.n_experts, d_model, d_ff))
        self.in_bias = nn.Parameter(torch.zeros(moe.n_experts, rows)) if moe.expert_bias else None
        self.down_bias = nn.Parameter(torch.zeros(moe.n_experts, d_model)) if moe.expert_bias else None
        self.gated = ffn.gated
        self.act = _ACTIVATIONS[ffn.activation]
        shared = FFNConfig(d_ff=moe.shared_d_ff, activation=ffn.activation, gated=ffn.gated, bias=ffn.bias)
        self.shared = FeedForward(d_model, shared, 0.0) if moe.shared_d_ff else None
        self.aux_loss: Tensor | None = None
        self.hooks = None  # a hooks.Tap while hooks are installed (nn/hooks.py)

    def _within_capacity(self, experts: Tensor, shape: torch.Size) -> Tensor:
        """(tokens, k) bool: the assignment fits its expert's capacity. Each sequence fills the
        experts in token order (then slot order), as Switch and Hugging Face count."""
        per_row = experts.reshape(shape[0], -1) if len(shape) == 3 else experts.reshape(1, -1)
        one_hot = F.one_hot(per_row, self.n_experts)  # (rows, tokens * k, E)
        priority = (one_hot.cumsum(dim=1) * one_hot).sum(-1)  # 1 for an expert's first token, 2 for its second...
        return (priority <= self.capacity).reshape(experts.shape)

    def route(self, x: Tensor, shape: torch.Size | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(scores (N, E), weights (N, k), experts (N, k)) for tokens x (N, d), of a batch of `shape`.
        The hook mlp.hook_router reads or replaces the scores before any expert is chosen."""
        m = self.cfg
        logits = self.router(x).float()
        scores = logits.softmax(dim=-1) if m.scoring == "softmax" else logits.sigmoid()
        if self.hooks is not None:  # (B, T, E) for the hook, as every other point is per position
            shape = x.shape if shape is None else shape
            scores = self.hooks("mlp.hook_router", scores.reshape(*shape[:-1], -1)).reshape(scores.shape)
        choice = scores if self.selection_bias is None else scores + self.selection_bias
        if m.groups > 1:  # keep the top_groups best groups of experts, rule out the others
            grouped = choice.view(x.size(0), m.groups, -1)
            if m.group_score == "max":
                rank = grouped.max(dim=-1).values
            else:
                rank = grouped.topk(2, dim=-1).values.sum(-1)
            kept = torch.zeros_like(rank, dtype=torch.bool).scatter_(1, rank.topk(m.top_groups, dim=-1).indices, True)
            choice = choice.masked_fill(~kept.repeat_interleave(m.n_experts // m.groups, dim=1), float("-inf"))
        experts = choice.topk(self.top_k, dim=-1).indices
        weights = scores.gather(1, experts)  # the selection bias chooses, the scores weigh
        if self.renormalize:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        return scores, weights * m.routed_scale, experts

    def expert(self, e: int, x: Tensor) -> Tensor:
        """Expert e on its tokens x (n, d)."""
        m = self.cfg
        bias = None if self.in_bias is None else self.in_bias[e]
        if self.gated:
            gate, up = F.linear(x, self.gate_up[e], bias).chunk(2, dim=-1)
            if m.clamp is not None:
                gate, up = gate.clamp(max=m.clamp), up.clamp(-m.clamp, m.clamp)
            h = self.act(gate) * (up + m.up_offset if m.up_offset else up)
        else:
            h = self.act(F.linear(x, self.up[e], bias))
        return F.linear(h, self.down[e], None if self.down_bias is None else self.down_bias[e])

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        scores, weights, experts = self.route(x, shape)
        probs = scores if self.cfg.scoring == "softmax" else scores / scores.sum(dim=-1, keepdim=True)
        counts = torch.bincount(experts.reshape(-1), minlength=self.n_experts).float()
        self.aux_loss = self.n_experts * (counts / x.size(0) * probs.mean(0)).sum()
        keep = (
            torch.ones_like(experts, dtype=torch.bool)
            if self.capacity is None
            else self._within_capacity(experts, shape)
        )
        out = torch.zeros_like(x)
        for e in torch.unique(experts[keep]).tolist():  # only the experts some token reached
            token, slot = torch.where((experts == e) & keep)
            w = weights[token, slot, None].to(x.dtype)
            if self.cfg.weight_inputs:
                y = self.expert(e, x[token] * w)
            else:
                y = self.expert(e, x[token]) * w
            out.index_add_(0, token, y.to(out.dtype))
        if self.shared is not None:
            out = out + self.shared(x)
        return out.reshape(shape)


def inactive_parameters(cfg) -> int:
    """Parameters of the routed experts a token does not visit, over the whole model (ModelConfig
    `cfg`): total minus this is the count active per token. From the config's numbers alone."""
    m = cfg.moe
    if m is None:
        return 0
    d_ff = m.d_ff or cfg.ffn.d_ff
    per_expert = (3 if cfg.ffn.gated else 2) * cfg.d_model * d_ff
    if m.expert_bias:
        per_expert += (2 * d_ff if cfg.ffn.gated else d_ff) + cfg.d_model
    stacks = (
        cfg.n_encoder_layers if cfg.arch != "decoder" else 0,
        cfg.n_decoder_layers if cfg.arch != "encoder" else 0,
    )
    layers = sum(cfg.experts_at(i) for n in stacks for i in range(1 if cfg.share_layers else n))
    return layers * (m.n_experts - m.top_k) * per_expert
