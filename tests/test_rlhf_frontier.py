"""The rlhf-frontier experiment's stated miss: it must report how far each method moved, from the measured points."""

from transformer_catalog.experiments import rlhf_frontier as E
from transformer_catalog.rlhf.frontier import dominance


def _pt(method, coef, seed, reward, kl):
    return {"method": method, "coef": coef, "seed": seed, "reward": reward, "kl": kl}


def _metrics(points, sft_reward, verdict, seeds=3, dpo_gain=0.05, control_gain=0.0):
    return {
        "seeds_done": seeds,
        "verdict": verdict["verdict"],
        "sft_reward": sft_reward,
        "dpo_gain_at_control_beta": dpo_gain,
        "control_gain": control_gain,
    }


def test_miss_states_each_coefficients_gain_and_kl():
    sft = 0.5
    points = [_pt("ppo", 0.05, s, 0.6 + 0.01 * s, 1.0 + 0.1 * s) for s in range(3)]
    points += [_pt("dpo", 0.5, s, 0.54, 2.0) for s in range(3)] + [_pt("dpo", 2.0, s, 0.52, 0.5) for s in range(3)]
    verdict = dominance(points, sft_reward=sft)
    assert verdict["verdict"] == "ppo"
    text = E.miss(_metrics(points, sft, verdict), verdict, points)
    # seed means: DPO +0.04 at KL 2.00 (beta 0.5), +0.02 at KL 0.50 (beta 2); PPO +0.11 at KL 1.10
    assert "+0.02 at KL 0.50 (beta 2), +0.04 at KL 2.00 (beta 0.5) for DPO" in text
    assert "+0.11 at KL 1.10 (kl coef 0.05) for PPO" in text
    assert "verdict: ppo" in text and "moved the policy little" not in text
    assert "shuffled" not in text  # the control held (0.0 < half of 0.05)


def test_miss_is_empty_when_dpo_dominates_and_the_control_fails():
    sft = 0.5
    points = [_pt("ppo", 0.05, s, 0.55, 1.0) for s in range(3)] + [_pt("dpo", 0.5, s, 0.7, 0.8) for s in range(3)]
    verdict = dominance(points, sft_reward=sft)
    assert verdict["verdict"] == "dpo"
    assert E.miss(_metrics(points, sft, verdict), verdict, points) == ""
    assert "only 2 seed(s)" in E.miss(_metrics(points, sft, verdict, seeds=2), verdict, points)
    assert "shuffled-preference DPO gained +0.04" in E.miss(
        _metrics(points, sft, verdict, control_gain=0.04), verdict, points
    )
