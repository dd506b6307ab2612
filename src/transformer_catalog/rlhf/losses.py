"""The losses of preference and reinforcement learning from feedback, on tensors only (no models).

- `gae`, `whiten`: PPO's generalised advantage estimation (Schulman et al. 2016, arXiv 1506.02438, eq. 16)
  over a batch of responses, and advantage whitening over a batch's real tokens.
- `dpo_loss` (Rafailov et al. 2023, arXiv 2305.18290, eq. 7), `ipo_loss` (Azar et al. 2023, arXiv 2310.12036,
  eq. 17), `kto_loss` (Ethayarajh et al. 2024, arXiv 2402.01306, eq. 7/8): from the summed log-probabilities
  of each response under the policy and the frozen reference.
- `group_advantages`, `grpo_loss` (Shao et al. 2024, DeepSeekMath, arXiv 2402.03300, section 4.1): the group-
  relative advantage of each of G samples of one prompt, and GRPO's clipped surrogate with the k3 KL estimate.

tests/test_rlhf_losses.py holds each to TRL 1.16 on the same tensors, or to the paper's formula where TRL
keeps the computation private or no longer ships it (PPO).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class PreferenceLoss(NamedTuple):
    """The mean loss, and the implicit rewards beta * log(pi / pi_ref) of each chosen and rejected response."""

    loss: Tensor
    chosen_rewards: Tensor
    rejected_rewards: Tensor


# -- log-probabilities -----------------------------------------------------------------------------------------
def token_logps(logits: Tensor, targets: Tensor) -> Tensor:
    """log p(target_t | ...) at every position: logits (B, T, V) predicting targets (B, T)."""
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16 logits: softmax in fp32
    return torch.gather(F.log_softmax(logits, dim=-1), 2, targets.unsqueeze(-1)).squeeze(-1)


def sequence_logps(logits: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """(B,): the summed log-probability of each row's response tokens (mask 1 on the response, 0 elsewhere)."""
    return (token_logps(logits, targets) * mask).sum(-1)


# -- PPO -------------------------------------------------------------------------------------------------------
def gae(
    rewards: Tensor, values: Tensor, mask: Tensor | None = None, gamma: float = 1.0, lam: float = 0.95
) -> tuple[Tensor, Tensor]:
    """Advantages and returns (both (B, T)) by generalised advantage estimation:
    delta_t = r_t + gamma V_{t+1} - V_t and A_t = delta_t + gamma lam A_{t+1}, computed backwards.

    `mask` (B, T) marks each row's response tokens, a prefix of the row (padding after the end). The
    episode ends at a row's last real token: nothing is bootstrapped past it (V = 0 there), so a row's
    advantages never see its padding. Returns are A + V (the value head's regression target). Padding
    positions hold 0 in both outputs."""
    if rewards.shape != values.shape:
        raise ValueError(f"rewards {tuple(rewards.shape)} and values {tuple(values.shape)} differ in shape")
    m = torch.ones_like(values) if mask is None else mask.to(values.dtype)
    values = values * m
    after = torch.cat([m[:, 1:], torch.zeros_like(m[:, :1])], dim=1)  # 1 where the next token is real
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1) * after
    deltas = rewards * m + gamma * next_values - values
    advantages = torch.zeros_like(values)
    running = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.size(1))):
        running = (deltas[:, t] + gamma * lam * running * after[:, t]) * m[:, t]
        advantages[:, t] = running
    return advantages, (advantages + values) * m


def whiten(x: Tensor, mask: Tensor | None = None, shift_mean: bool = True, eps: float = 1e-8) -> Tensor:
    """(x - mean) / sqrt(var + eps) over the real entries (mask 1), with the unbiased variance, as TRL's PPO
    whitened advantages; `shift_mean=False` adds the mean back (whitening rewards keeps their sign).
    Masked-out entries become 0."""
    m = torch.ones_like(x) if mask is None else mask.to(x.dtype)
    n = m.sum()
    if n < 2:
        raise ValueError("whitening needs at least two real entries (the variance of one is undefined)")
    mean = (x * m).sum() / n
    var = ((x - mean) ** 2 * m).sum() / (n - 1)  # Bessel's correction
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * m


# -- pairwise preference losses ----------------------------------------------------------------------------------
def _check_beta(beta: float) -> None:
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta}")


def dpo_loss(
    policy_chosen: Tensor,
    policy_rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    beta: float = 0.1,
) -> PreferenceLoss:
    """DPO: -log sigmoid(beta * [(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))]), averaged
    over pairs. Inputs are (B,) summed response log-probabilities."""
    _check_beta(beta)
    chosen = policy_chosen - ref_chosen
    rejected = policy_rejected - ref_rejected
    losses = -F.logsigmoid(beta * (chosen - rejected))
    return PreferenceLoss(losses.mean(), beta * chosen.detach(), beta * rejected.detach())


def ipo_loss(
    policy_chosen: Tensor,
    policy_rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    beta: float = 0.1,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
) -> PreferenceLoss:
    """IPO: (h - 1 / (2 beta))^2 with h the difference of the two log-ratios (the paper's tau is beta).
    With lengths (tokens per response) each log-ratio is divided by its length first: the per-token form
    TRL uses, which its authors confirmed is what the paper's results used; without, the sequence form."""
    _check_beta(beta)
    chosen = policy_chosen - ref_chosen
    rejected = policy_rejected - ref_rejected
    c = chosen if chosen_lengths is None else chosen / chosen_lengths.clamp(min=1)
    r = rejected if rejected_lengths is None else rejected / rejected_lengths.clamp(min=1)
    losses = (c - r - 1 / (2 * beta)) ** 2
    return PreferenceLoss(losses.mean(), beta * chosen.detach(), beta * rejected.detach())


def kto_loss(
    policy_logps: Tensor,
    ref_logps: Tensor,
    desirable: Tensor,
    kl_policy_logps: Tensor,
    kl_ref_logps: Tensor,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> PreferenceLoss:
    """KTO on unpaired responses: a desirable response costs w_d (1 - sigmoid(beta (r - z))), an undesirable
    one w_u (1 - sigmoid(beta (z - r))), r = log pi(y|x) - log pi_ref(y|x), averaged over all responses.
    z, the reference point, estimates KL(pi || pi_ref) from mismatched (prompt, response) pairs of the batch
    (`kl_*_logps`), clamped at 0 and not differentiated (the paper's z_0). Rewards are returned for the
    desirable responses (chosen) and the undesirable ones (rejected)."""
    _check_beta(beta)
    desirable = desirable.bool()
    ratio = policy_logps - ref_logps
    z = (kl_policy_logps - kl_ref_logps).mean().clamp(min=0).detach()
    good = desirable_weight * (1 - torch.sigmoid(beta * (ratio[desirable] - z)))
    bad = undesirable_weight * (1 - torch.sigmoid(beta * (z - ratio[~desirable])))
    loss = torch.cat([good, bad]).mean()
    return PreferenceLoss(loss, beta * ratio[desirable].detach(), beta * ratio[~desirable].detach())


# -- GRPO ------------------------------------------------------------------------------------------------------------
def group_advantages(rewards: Tensor, group_size: int, scale: bool = True, eps: float = 1e-4) -> Tensor:
    """(N * G,) rewards of N prompts' groups of G consecutive samples -> each sample's advantage: its reward
    minus its group's mean, divided by the group's (unbiased) standard deviation + eps when `scale` (the
    outcome-supervision advantage of GRPO; `scale=False` is Dr. GRPO's unscaled variant). A group whose
    samples all score alike gets advantage 0: it carries no signal."""
    if group_size < 2:
        raise ValueError(f"group size must be at least 2 (a group of one has no baseline), got {group_size}")
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    grouped = rewards.float().view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale:
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)
    return centred.reshape(rewards.shape)


def grpo_loss(
    logps: Tensor,
    old_logps: Tensor,
    ref_logps: Tensor | None,
    advantages: Tensor,
    mask: Tensor,
    clip: float = 0.2,
    beta: float = 0.04,
) -> tuple[Tensor, Tensor]:
    """GRPO's objective as a loss, and the mean per-token KL (k3: exp(q - p) - (q - p) - 1, q = log pi_ref,
    p = log pi, unbiased and positive). Per token: -min(rho A, clip(rho, 1 +- clip) A) + beta KL, with rho =
    pi / pi_old; averaged over each response's tokens, then over responses (the paper's 1/G sum_i 1/|o_i|).
    logps, old_logps, ref_logps, mask: (B, T); advantages: (B,)."""
    m = mask.to(logps.dtype)
    ratio = torch.exp(logps - old_logps)
    adv = advantages.unsqueeze(1)
    per_token = -torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
    kl = torch.zeros_like(logps)
    if ref_logps is not None:  # measured even at beta = 0: the drift from the reference is worth watching
        kl = torch.exp(ref_logps - logps) - (ref_logps - logps) - 1
        if beta != 0:
            per_token = per_token + beta * kl
    lengths = m.sum(-1).clamp(min=1)
    loss = ((per_token * m).sum(-1) / lengths).mean()
    return loss, ((kl * m).sum(-1) / lengths).mean().detach()
