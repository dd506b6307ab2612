"""rlhf/losses.py against TRL 1.16 on the same tensors (<= 1e-6), and against the papers where TRL keeps the
computation private or no longer has it.

How TRL is run: its loss code lives inside each trainer's `_compute_loss`, which a trainer instance reaches only
after tokenizing a dataset. We call that unbound method with a plain namespace standing in for the trainer (the
attributes the method reads: beta, loss type, an accelerator whose gathers are the identity) and, for DPO / IPO /
KTO, real tiny Llama models built from `LlamaConfig` (random weights, float64, no hub access) with TRL's own fused
log-probability head. TRL computes the per-token log-probabilities from the models and its loss from them; we record
those log-probabilities as they leave the models and compute our loss from the same tensors. (TRL's fused head
returns float32 log-probabilities whatever the model's dtype, so `sequence_logps` on the models' float64 logits is
checked against it separately, at float32's 1e-5.)
"""

from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from transformer_catalog.rlhf.losses import (
    dpo_loss,
    gae,
    group_advantages,
    grpo_loss,
    ipo_loss,
    kto_loss,
    sequence_logps,
    whiten,
)

trl = pytest.importorskip("trl", reason="TRL is a test-only oracle: pip install 'trl==1.16.*' --no-deps")

TOL = 1e-6


def _tiny_llama(seed: int):
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
    )
    model = LlamaForCausalLM(cfg).double().eval()
    for p in model.parameters():  # peaked weights: log-ratios of several nats, so a wrong sign or scale shows
        p.data.normal_(0, 0.5)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "mean_logits", "is_top1"))
    return model


def _batch(rows: int, spans: list[tuple[int, int]], length: int = 9, seed: int = 0):
    """Token ids, attention mask (padding after each response) and completion mask (the response span)."""
    ids = torch.randint(0, 32, (rows, length), generator=torch.Generator().manual_seed(seed))
    completion = torch.zeros(rows, length, dtype=torch.long)
    attention = torch.ones(rows, length, dtype=torch.long)
    for i, (start, end) in enumerate(spans):
        completion[i, start:end] = 1
        attention[i, end:] = 0
    return ids, attention, completion


def _stub(**fields):
    accelerator = SimpleNamespace(
        device=torch.device("cpu"),
        gather=lambda x: x,
        gather_for_metrics=lambda x: x,
        reduce=lambda x, reduction="sum": x,
        num_processes=1,
    )
    base = dict(
        accelerator=accelerator,
        aux_loss_enabled=False,
        _metrics=defaultdict(lambda: defaultdict(list)),
        _total_train_tokens=0,
        _tp_size=1,
        args=SimpleNamespace(gradient_checkpointing_kwargs=None, use_bias_correction_kl=False, delta=None),
    )
    base.update(fields)
    return SimpleNamespace(**base)


def _ours(model, ids, attention, completion):
    """Summed response log-probabilities from the model's logits (position t predicts token t + 1)."""
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attention).logits
    return sequence_logps(logits[:, :-1], ids[:, 1:], completion[:, 1:])


class Recorder:
    """Calls a model and keeps the summed log-probabilities of each call's fused-head output, in call order."""

    def __init__(self, model):
        self.model, self.sums = model, []

    def __call__(self, *args, **kwargs):
        out = self.model(*args, **kwargs)
        self.sums.append(out.log_probs.detach().double().sum(-1))
        return out


PAIR_SPANS = [(3, 9), (4, 7), (2, 9), (3, 8), (4, 9), (2, 5)]  # rows 0-2 chosen, 3-5 rejected (TRL's layout)


@pytest.fixture(scope="module")
def models():
    return _tiny_llama(0), _tiny_llama(1)


def _trl_pair_loss(models, loss_type: str, beta: float) -> tuple[float, torch.Tensor, torch.Tensor]:
    from trl import DPOTrainer

    policy, ref = models
    pol_rec, ref_rec = Recorder(policy), Recorder(ref)
    ids, attention, completion = _batch(6, PAIR_SPANS)
    stub = _stub(
        model=policy,
        ref_model=ref_rec,
        ld_alpha=None,
        precompute_ref_logps=False,
        f_divergence_type="reverse_kl",
        loss_types=[loss_type],
        loss_weights=[1.0],
        beta=beta,
        label_smoothing=0.0,
        use_weighting=False,
    )
    inputs = {"input_ids": ids, "attention_mask": attention, "completion_mask": completion}
    loss = DPOTrainer._compute_loss(stub, pol_rec, inputs, False)
    return float(loss.detach()), pol_rec.sums[0], ref_rec.sums[0]


@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0])
def test_dpo_loss_equals_trl(models, beta):
    theirs, pol, ref = _trl_pair_loss(models, "sigmoid", beta)
    ours = dpo_loss(pol[:3], pol[3:], ref[:3], ref[3:], beta=beta)
    assert abs(float(ours.loss) - theirs) <= TOL
    assert abs(theirs - math.log(2)) > 1e-3  # the models differ: not the loss of a policy equal to its reference
    torch.testing.assert_close(ours.chosen_rewards, beta * (pol[:3] - ref[:3]))


@pytest.mark.parametrize("beta", [0.1, 1.0])
def test_ipo_loss_equals_trl_per_token_form(models, beta):
    """TRL (and, per its comment, the IPO authors' results) divide each log-ratio by its response length."""
    theirs, pol, ref = _trl_pair_loss(models, "ipo", beta)
    lengths = torch.tensor([float(e - s) for s, e in PAIR_SPANS])
    ours = ipo_loss(
        pol[:3], pol[3:], ref[:3], ref[3:], beta=beta, chosen_lengths=lengths[:3], rejected_lengths=lengths[3:]
    )
    assert abs(float(ours.loss) - theirs) <= TOL
    # without lengths: the paper's sequence-level eq. 17
    plain = ipo_loss(pol[:3], pol[3:], ref[:3], ref[3:], beta=beta).loss
    h = (pol[:3] - ref[:3]) - (pol[3:] - ref[3:])
    assert abs(float(plain) - float(((h - 1 / (2 * beta)) ** 2).mean())) <= TOL


@pytest.mark.parametrize(
    "labels,kl_seed", [([True, False, True, True, False], 8), ([True, True, False, False, False], 2)]
)
def test_kto_loss_equals_trl(models, labels, kl_seed):
    """kl_seed 8: the KL estimate z is positive (0.33 nats); kl_seed 2: negative, so clamped to 0."""
    from trl import KTOTrainer

    policy, ref = models
    spans = [(3, 9), (4, 7), (2, 9), (3, 8), (4, 9)]
    ids, attention, completion = _batch(5, spans, seed=1)
    # the KL estimate's mismatched pairs: each prompt with the next row's response, as TRL's collator cycles them
    kl_ids, kl_attention, kl_completion = _batch(5, [(2, 8), (3, 9), (4, 8), (2, 6), (3, 7)], seed=kl_seed)
    inputs = {
        "input_ids": ids,
        "attention_mask": attention,
        "completion_mask": completion,
        "KL_input_ids": kl_ids,
        "KL_attention_mask": kl_attention,
        "KL_completion_mask": kl_completion,
        "label": torch.tensor(labels),
    }
    for beta, w_d, w_u in ((0.1, 1.0, 1.0), (0.7, 1.0, 1.33)):
        pol_rec, ref_rec = Recorder(policy), Recorder(ref)
        stub = _stub(
            model=policy,
            ref_model=ref_rec,
            calculate_KL=True,
            precompute_ref_logps=False,
            loss_type="kto",
            beta=beta,
            desirable_weight=w_d,
            undesirable_weight=w_u,
        )
        stub._compute_kl_logps = lambda model, batch, stub=stub: KTOTrainer._compute_kl_logps(stub, model, batch)
        theirs = float(KTOTrainer._compute_loss(stub, pol_rec, dict(inputs), False).detach())
        (pol_kl, pol_main), (ref_kl, ref_main) = pol_rec.sums, ref_rec.sums  # TRL scores the KL pairs first
        ours = kto_loss(
            pol_main,
            ref_main,
            torch.tensor(labels),
            pol_kl,
            ref_kl,
            beta=beta,
            desirable_weight=w_d,
            undesirable_weight=w_u,
        )
        assert abs(float(ours.loss) - theirs) <= TOL
        z = stub._metrics["eval"]["kl"][-1]
        assert z > 0.3 if kl_seed == 8 else z == 0.0


def test_sequence_logps_equals_trls_fused_head(models):
    ids, attention, completion = _batch(6, PAIR_SPANS)
    for model in models:
        with torch.no_grad():
            out = model(
                input_ids=ids,
                attention_mask=attention,
                labels=ids.masked_fill(completion == 0, -100),
                fused_lm_head=True,
            )
        theirs = out.log_probs.double().sum(-1)
        ours = _ours(model, ids, attention, completion)
        assert (ours - theirs).abs().max() <= 1e-5  # TRL's head works in float32
        assert ours.abs().min() > 1.0  # several nats: masking the wrong tokens would show


def test_grpo_group_advantages_are_the_papers_with_trls_std():
    """TRL computes the advantages inline in GRPOTrainer._generate_and_score_completions (private): we compare with
    DeepSeekMath's formula (r - mean(group)) / std(group), using TRL's public `nanstd` (Bessel-corrected) and its
    1e-4 in the denominator, which is what that private code divides by."""
    from trl.trainer.utils import nanstd

    g = torch.Generator().manual_seed(0)
    rewards = torch.cat([torch.rand(24, generator=g), torch.tensor([1.0] * 8)])  # 4 groups of 8; the last constant
    grouped = rewards.view(-1, 8)
    expected = ((grouped - grouped.mean(1, keepdim=True)) / (nanstd(grouped, dim=1, keepdim=True) + 1e-4)).view(-1)
    ours = group_advantages(rewards, 8)
    assert (ours - expected).abs().max() <= TOL
    assert torch.equal(ours[-8:], torch.zeros(8))  # a group that all scored alike teaches nothing
    unscaled = group_advantages(rewards, 8, scale=False)
    assert (unscaled - (grouped - grouped.mean(1, keepdim=True)).view(-1)).abs().max() <= TOL
    # groups are consecutive samples: the same rewards grouped in 4s give other advantages
    assert (group_advantages(rewards, 4) - ours).abs().max() > 0.1


def test_grpo_loss_equals_trl():
    from trl import GRPOTrainer

    g = torch.Generator().manual_seed(0)
    B, T = 4, 5
    logps = -torch.rand(B, T, generator=g, dtype=torch.float64) * 2
    old = logps + 0.3 * torch.randn(B, T, generator=g, dtype=torch.float64)  # ratios outside 1 +- 0.2: clipping acts
    ref = logps + 0.2 * torch.randn(B, T, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 0, 0, 0, 0]])
    advantages = torch.randn(B, generator=g, dtype=torch.float64)
    for beta, clip in ((0.04, 0.2), (0.0, 0.1), (0.5, 0.3)):
        stub = _stub(
            _get_per_token_logps_and_entropies=lambda *a, **k: (logps, torch.zeros_like(logps), None),
            top_entropy_quantile=1.0,
            off_policy_mask_threshold=None,
            importance_sampling_level="token",
            beta=beta,
            loss_type="grpo",
            epsilon_low=clip,
            epsilon_high=clip,
            use_vllm=False,
            model=SimpleNamespace(training=True),
            current_gradient_accumulation_steps=1,
            _entropy_bonus_enabled=False,
        )
        inputs = {
            "prompt_ids": torch.zeros(B, 2, dtype=torch.long),
            "prompt_mask": torch.ones(B, 2, dtype=torch.long),
            "completion_ids": torch.zeros(B, T, dtype=torch.long),
            "completion_mask": mask,
            "advantages": advantages,
            "old_per_token_logps": old,
            "ref_per_token_logps": ref,
        }
        theirs = float(GRPOTrainer._compute_loss(stub, None, inputs))
        ours, kl = grpo_loss(logps, old, ref, advantages, mask, clip=clip, beta=beta)
        assert abs(float(ours) - theirs) <= TOL
        assert float(kl) > 0


# -- PPO: TRL 1.16 no longer ships PPO (its PPOTrainer and trl.core.masked_whiten were removed), so GAE and
# whitening are held to their definitions: GAE's paper (Schulman et al. 2016, eq. 16) and the unbiased masked
# whitening that TRL's PPO used.


def test_gae_on_a_hand_computed_case():
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    values = torch.tensor([[0.5, 0.2, 0.1], [0.3, 0.4, 9.0]])  # 9.0 sits on padding: it must not leak in
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    adv, ret = gae(rewards, values, mask, gamma=0.9, lam=0.8)
    # row 0: delta = (0 + .9*.2 - .5, 0 + .9*.1 - .2, 1 - .1) = (-.32, -.11, .9)
    #        A_2 = .9, A_1 = -.11 + .72*.9 = .538, A_0 = -.32 + .72*.538 = .06736
    # row 1: ends at t = 1: delta = (.9*.4 - .3, 2 - .4) = (.06, 1.6); A_1 = 1.6, A_0 = .06 + .72*1.6 = 1.212
    expected = torch.tensor([[0.06736, 0.538, 0.9], [1.212, 1.6, 0.0]])
    torch.testing.assert_close(adv, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(ret, torch.tensor([[0.56736, 0.738, 1.0], [1.512, 2.0, 0.0]]), atol=1e-6, rtol=0)


def test_gae_is_the_discounted_sum_of_td_errors():
    """A_t = sum_l (gamma lam)^l delta_{t+l}, delta_t = r_t + gamma V_{t+1} - V_t (V = 0 past the end)."""
    g = torch.Generator().manual_seed(0)
    B, T, gamma, lam = 3, 7, 0.97, 0.9
    rewards, values = (
        torch.randn(B, T, generator=g, dtype=torch.float64),
        torch.randn(B, T, generator=g, dtype=torch.float64),
    )
    lengths = [7, 4, 1]
    mask = torch.tensor([[1] * n + [0] * (T - n) for n in lengths])
    adv, _ = gae(rewards, values, mask, gamma=gamma, lam=lam)
    for b, n in enumerate(lengths):
        v = values[b, :n].tolist() + [0.0]
        delta = [rewards[b, t].item() + gamma * v[t + 1] - v[t] for t in range(n)]
        for t in range(n):
            want = sum((gamma * lam) ** k * delta[t + k] for k in range(n - t))
            assert abs(adv[b, t].item() - want) <= TOL
        assert torch.all(adv[b, n:] == 0)
    # lam = 1 is the Monte-Carlo return minus the value; lam = 0 the one-step TD error
    mc, _ = gae(rewards, values, gamma=1.0, lam=1.0)
    torch.testing.assert_close(mc, rewards.flip(1).cumsum(1).flip(1) - values, atol=1e-9, rtol=0)
    td, _ = gae(rewards, values, gamma=gamma, lam=0.0)
    nxt = torch.cat([values[:, 1:], torch.zeros(B, 1, dtype=values.dtype)], 1)
    torch.testing.assert_close(td, rewards + gamma * nxt - values, atol=1e-9, rtol=0)


def test_whiten_uses_the_unbiased_masked_variance():
    x = torch.tensor([[1.0, 2.0, 4.0], [3.0, 100.0, -50.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    real = torch.tensor([1.0, 2.0, 4.0, 3.0], dtype=torch.float64)
    mean, var = real.mean(), real.var(unbiased=True)
    out = whiten(x, mask)
    torch.testing.assert_close(out[mask.bool()], (real - mean) / torch.sqrt(var + 1e-8), atol=1e-9, rtol=0)
    assert torch.all(out[~mask.bool()] == 0)
    kept = whiten(x, mask, shift_mean=False)
    torch.testing.assert_close(kept[mask.bool()], (real - mean) / torch.sqrt(var + 1e-8) + mean, atol=1e-9, rtol=0)
    assert abs(float(out[mask.bool()].std(unbiased=True)) - 1) < 1e-6


def test_impossible_settings_are_refused():
    a = torch.zeros(2)
    for bad in (0.0, -0.1):
        with pytest.raises(ValueError, match="beta"):
            dpo_loss(a, a, a, a, beta=bad)
        with pytest.raises(ValueError, match="beta"):
            ipo_loss(a, a, a, a, beta=bad)
    with pytest.raises(ValueError, match="group size"):
        group_advantages(torch.zeros(4), 1)
    with pytest.raises(ValueError, match="groups of 3"):
        group_advantages(torch.zeros(4), 3)
    with pytest.raises(ValueError, match="two real entries"):
        whiten(torch.ones(1, 3), torch.tensor([[1, 0, 0]]))
