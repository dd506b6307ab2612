"""The grokking experiment's pieces: the data, the Fourier measure, and the claim on a tiny setting."""

import math

import pytest
import torch

from transformer_catalog.experiments import grokking


def test_modular_addition_pairs_answers_and_a_disjoint_split():
    x, y, tr, te = grokking.modular_addition(7, 0.3, seed=0)
    assert x.shape == (49, 3) and (x[:, 2] == 7).all()  # [a, b, =]
    assert torch.equal(y, (x[:, 0] + x[:, 1]) % 7)
    assert len(tr) == round(0.3 * 49) and len(set(tr.tolist()) & set(te.tolist())) == 0
    assert sorted(tr.tolist() + te.tolist()) == list(range(49))
    _, _, tr2, _ = grokking.modular_addition(7, 0.3, seed=1)
    assert not torch.equal(tr, tr2)  # the seed moves the split


@pytest.mark.parametrize("freqs", [[5], [2, 9], [1, 3, 4]])
def test_key_frequencies_counts_the_sinusoids_an_embedding_is_made_of(freqs):
    p, d = 23, 12
    t = torch.arange(p, dtype=torch.float64)[:, None]
    phase = torch.rand(1, d, generator=torch.Generator().manual_seed(0)) * 6.28
    emb = sum(torch.cos(2 * math.pi * k * t / p + phase) for k in freqs)
    emb = torch.cat([emb, torch.zeros(1, d)])  # the "=" token's row is ignored
    count, share = grokking.key_frequencies(emb, p)
    assert count == len(freqs)
    assert sorted(range(1, len(share) + 1), key=lambda k: -share[k - 1])[: len(freqs)] == sorted(
        freqs, key=lambda k: -share[k - 1]
    )
    noise = torch.randn(p + 1, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert grokking.key_frequencies(noise, p)[0] > len(freqs) + 3  # white noise spreads over every frequency


def test_tiny_grokking_generalises_only_with_weight_decay():
    cfg = grokking.Config.tiny()
    claim = grokking.train(cfg, cfg.weight_decay)
    control = grokking.train(cfg, 0.0)
    assert grokking.first_step(claim["curve"], "train_acc", 0.99) is not None
    assert grokking.first_step(control["curve"], "train_acc", 0.99) is not None  # the control fits too
    best = max(r["test_acc"] for r in claim["curve"])
    best_control = max(r["test_acc"] for r in control["curve"])
    assert best >= 0.9, best
    assert best_control < 0.7, best_control
