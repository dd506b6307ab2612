"""Cached decoding must equal full recomputation: same token ids, logits within 1e-5."""

import pytest
import torch

from transformer_catalog.families import get_config
from transformer_catalog.generate import SamplingConfig, beam_search, filter_logits, generate, iter_tokens
from transformer_catalog.nn import ModelConfig, build_model


def _models():
    ed = build_model(get_config("transformer-tiny", N=2, d_model=32, d_ff=64, h=4, dropout=0.0, vocab_size=40)).eval()
    dec_cfg = ModelConfig(arch="decoder", d_model=32, n_decoder_layers=2, dropout=0.0)
    dec_cfg = dec_cfg.replace(**{"attention.n_heads": 4, "ffn.d_ff": 64, "embedding.vocab_size": 40})
    return {"encoder-decoder": ed, "decoder": build_model(dec_cfg).eval()}


def _inputs(arch):
    if arch == "encoder-decoder":
        src = torch.randint(3, 40, (3, 9))
        src[2, -3:] = 0  # padding in one source
        return dict(start=torch.full((3, 1), 1), src=src)
    return dict(start=torch.randint(3, 40, (3, 4)))


@pytest.mark.parametrize("arch", ["encoder-decoder", "decoder"])
def test_cached_greedy_equals_recomputation(arch):
    model = _models()[arch]
    kw = _inputs(arch)
    cached = list(iter_tokens(model, max_new_tokens=12, use_cache=True, **kw))
    full = list(iter_tokens(model, max_new_tokens=12, use_cache=False, **kw))
    assert len(cached) == len(full) == 12
    for (t1, l1), (t2, l2) in zip(cached, full):
        assert torch.equal(t1, t2)
        assert (l1 - l2).abs().max().item() <= 1e-5


@pytest.mark.parametrize("arch", ["encoder-decoder", "decoder"])
def test_cached_sampling_equals_recomputation(arch):
    model = _models()[arch]
    kw = _inputs(arch)
    s = SamplingConfig(temperature=0.9, top_k=10, top_p=0.9)
    a = generate(model, max_new_tokens=10, sampling=s, use_cache=True, generator=torch.Generator().manual_seed(3), **kw)
    b = generate(model, max_new_tokens=10, sampling=s, use_cache=False, generator=torch.Generator().manual_seed(3), **kw)
    assert torch.equal(a, b)


@pytest.mark.parametrize("arch", ["encoder-decoder", "decoder"])
def test_cached_beam_search_equals_recomputation(arch):
    model = _models()[arch]
    kw = _inputs(arch)
    a = beam_search(model, max_new_tokens=8, beam_size=4, eos_id=2, use_cache=True, **kw)
    b = beam_search(model, max_new_tokens=8, beam_size=4, eos_id=2, use_cache=False, **kw)
    assert a == b and any(len(h) > 0 for h in a)


def test_beam_of_one_is_greedy():
    model = _models()["encoder-decoder"]
    kw = _inputs("encoder-decoder")
    greedy = generate(model, max_new_tokens=8, **kw).tolist()
    beam = beam_search(model, max_new_tokens=8, beam_size=1, alpha=0.0, **kw)
    assert beam == greedy


def test_beam_search_finds_better_sequences_than_greedy():
    """Beam search maximises total log-probability at least as well as greedy (alpha=0)."""
    model = _models()["decoder"]
    start = torch.randint(3, 40, (4, 3))

    def logprob(seq):
        ids = torch.cat([start, torch.tensor(seq)], dim=1)
        lp = torch.log_softmax(model(ids)[:, start.size(1) - 1 : -1], -1)
        return lp.gather(-1, torch.tensor(seq)[..., None]).sum(dim=(1, 2))

    greedy = generate(model, start, max_new_tokens=6).tolist()
    beam = beam_search(model, start, max_new_tokens=6, beam_size=5, alpha=0.0)
    assert (logprob(beam) >= logprob(greedy) - 1e-5).all()


def test_filter_logits_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isfinite(filter_logits(logits, top_k=2)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.7)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.5)).tolist() == [[True, False, False, False]]
