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


@pytest.mark.parametrize("position", ["learned", "rope"])
def test_static_cache_equals_recomputation(position):
    """Fixed-size cache buffers, a position tensor and a mask of the filled part: the same logits as
    recomputing the whole prefix (eager; the compiled step runs this same code)."""
    from transformer_catalog.nn.attention import StaticKVCache

    cfg = ModelConfig(arch="decoder", d_model=32, n_decoder_layers=2, dropout=0.0)
    cfg = cfg.replace(**{"attention.n_heads": 4, "attention.n_kv_heads": 2, "ffn.d_ff": 64, "embedding.vocab_size": 40,
                         "position.kind": position, "norm.placement": "pre", "norm.final": True})
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    ids = torch.randint(3, 40, (2, 10))
    cache = model.new_static_cache(2, 16)
    assert isinstance(cache, StaticKVCache)
    with torch.no_grad():
        full = model(ids)
        first = model(ids[:, :6], cache)  # a prompt of 6, then one token at a time
        cache.advance(6)
        steps = [first]
        for t in range(6, 10):
            steps.append(model(ids[:, t:t + 1], cache))
            cache.advance(1)
    assert (torch.cat(steps, dim=1) - full).abs().max().item() < 1e-5


def test_static_cache_refuses_what_it_cannot_hold():
    from transformer_catalog.errors import TcatError

    window = ModelConfig(arch="decoder", d_model=32, n_decoder_layers=1).replace(
        **{"attention.n_heads": 4, "attention.window": 4, "attention.window_pattern": "L", "embedding.vocab_size": 40})
    with pytest.raises(TcatError, match="sliding-window"):
        build_model(window).new_static_cache(1, 8)
    plain = build_model(ModelConfig(arch="decoder", d_model=32, n_decoder_layers=1).replace(
        **{"attention.n_heads": 4, "embedding.vocab_size": 40, "position.max_len": 16}))
    with pytest.raises(TcatError, match="longer than the model's position.max_len"):
        plain.new_static_cache(1, 17)


def test_compiled_decoding_gives_the_eager_tokens():
    from transformer_catalog.runtime import has_cxx_compiler

    if not has_cxx_compiler():
        pytest.skip("inductor needs a C++ compiler")
    cfg = get_config("gpt2", n_layer=2, n_embd=32, n_head=4, n_positions=64, vocab_size=50)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    start = torch.randint(0, 50, (2, 5))
    eager = list(iter_tokens(model, start, 12))
    compiled = list(iter_tokens(model, start, 12, compile=True))
    assert all(torch.equal(a, b) for (a, _), (b, _) in zip(eager, compiled))
    assert max((a - b).abs().max().item() for (_, a), (_, b) in zip(eager, compiled)) < 1e-4
    with pytest.warns(UserWarning, match="encoder-decoder"):  # what cannot compile decodes eagerly, and says why
        ed = _models()["encoder-decoder"]
        list(iter_tokens(ed, torch.full((1, 1), 1), 3, src=torch.randint(3, 40, (1, 5)), compile=True))
