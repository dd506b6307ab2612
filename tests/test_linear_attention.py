"""Causal linear attention: the parallel, recurrent and chunked forms give the same outputs (and gradients)
within 1e-5; the recurrent state continues across calls; a model whose mixer is linear decodes through its
cache exactly as it recomputes, at a per-token cost that does not grow with the context."""

import pytest
import torch

from transformer_catalog.nn.linear_attention import (
    feature_map,
    linear_chunked,
    linear_parallel,
    linear_recurrent,
)

TOL = 1e-5


def _qkv(B=2, H=3, T=45, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, T, d, generator=g, requires_grad=True)
    k = torch.randn(B, H, T, d, generator=g, requires_grad=True)
    v = torch.randn(B, H, T, d, generator=g, requires_grad=True)
    return q, k, v


def _close(a, b):
    assert (a - b).abs().max().item() <= TOL * max(1.0, b.abs().max().item())


def test_parallel_and_recurrent_forms_are_equal():
    q, k, v = _qkv()
    par = linear_parallel(feature_map(q), feature_map(k), v)
    rec, _ = linear_recurrent(feature_map(q), feature_map(k), v)
    _close(rec, par)
    grad = torch.randn_like(par)
    for a, b in zip(torch.autograd.grad(rec, (q, k, v), grad), torch.autograd.grad(par, (q, k, v), grad)):
        _close(a, b)


@pytest.mark.parametrize("chunk", [1, 7, 16, 64])
def test_chunked_form_equals_parallel_form(chunk):
    q, k, v = _qkv(T=50)
    par = linear_parallel(feature_map(q), feature_map(k), v)
    chu, _ = linear_chunked(feature_map(q), feature_map(k), v, chunk=chunk)
    _close(chu, par)
    grad = torch.randn_like(par)
    for a, b in zip(torch.autograd.grad(chu, (q, k, v), grad), torch.autograd.grad(par, (q, k, v), grad)):
        _close(a, b)


def test_state_continues_across_calls_and_is_the_sum_of_outer_products():
    q, k, v = (t.detach() for t in _qkv(T=30))
    fq, fk = feature_map(q), feature_map(k)
    whole, state = linear_recurrent(fq, fk, v)
    first, mid = linear_chunked(fq[:, :, :11], fk[:, :, :11], v[:, :, :11], chunk=4)
    rest, end = linear_recurrent(fq[:, :, 11:], fk[:, :, 11:], v[:, :, 11:], mid)
    _close(torch.cat([first, rest], dim=2), whole)
    ones = torch.ones(*v.shape[:-1], 1)
    _close(end, fk.transpose(-2, -1) @ torch.cat([v, ones], -1))


def test_the_normaliser_matters():
    """A form that dropped the denominator would be a different function: guard against it."""
    q, k, v = (t.detach() for t in _qkv(T=20))
    fq, fk = feature_map(q), feature_map(k)
    unnormalised = (fq @ fk.transpose(-2, -1) * torch.ones(20, 20).tril()) @ v
    assert (linear_parallel(fq, fk, v) - unnormalised).abs().max() > 1.0


# -- the mixer in every decoder family ------------------------------------------------------------------
from mixer_specs import decoder_families, tiny_decoder  # noqa: E402

from transformer_catalog.errors import TcatError  # noqa: E402
from transformer_catalog.generate import iter_tokens  # noqa: E402
from transformer_catalog.nn import build_model  # noqa: E402
from transformer_catalog.nn.linear_attention import LinearAttention  # noqa: E402

POSITION_BIAS = ("alibi", "relative", "disentangled", "xl")  # logit biases: nothing to add them to


def _ids(cfg, shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, cfg.embedding.vocab_size - 1, shape, generator=g)
    return ids + (ids >= cfg.embedding.pad_id).long()


@pytest.mark.parametrize("layout,name", decoder_families())
def test_linear_mixer_in_every_decoder_family(layout, name):
    base = tiny_decoder(name)
    if base.position.kind in POSITION_BIAS:
        with pytest.raises(TcatError, match="mixer"):
            base.replace(mixer="linear")
        return
    cfg = base.replace(mixer="linear")
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    assert all(isinstance(b.self_attn, LinearAttention) for b in model.decoder.blocks)
    x = _ids(cfg, (2, 9))
    with torch.no_grad():
        # causal: a prefix's logits do not depend on what follows
        assert (model(x)[:, :5] - model(x[:, :5])).abs().max() <= 1e-4
        # decoding through the recurrent state equals recomputing the whole prefix
        cached = list(iter_tokens(model, x[:, :4], 6, use_cache=True))
        full = list(iter_tokens(model, x[:, :4], 6, use_cache=False))
        for (t1, l1), (t2, l2) in zip(cached, full):
            assert torch.equal(t1, t2) and (l1 - l2).abs().max() <= 1e-4
        # a left-padded prompt decodes as the prompt alone
        prompt = x[:, :7].clone()
        prompt[1, :3] = cfg.embedding.pad_id
        keep = torch.ones_like(prompt, dtype=torch.bool)
        keep[1, :3] = False
        steps = list(iter_tokens(model, prompt, 4, keep=keep))
        alone = list(iter_tokens(model, prompt[1:, 3:], 4))
        for (t1, l1), (t2, l2) in zip(steps, alone):
            assert torch.equal(t1[1:], t2) and (l1[1] - l2[0]).abs().max() <= 1e-4


def test_linear_mixer_trains_and_keeps_a_constant_size_state():
    cfg = tiny_decoder(dict(decoder_families())["gpt2"]).replace(mixer="linear")
    model = build_model(cfg)
    x = _ids(cfg, (2, 12))
    loss = model(x).logsumexp(-1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    cache = model.new_cache()
    with torch.no_grad():
        model.eval()(x[:, :3], cache)
        size = cache.layers[0].state.shape
        model(x[:, 3:4], cache)
    assert cache.layers[0].state.shape == size and cache.layers[0].k is None  # no keys or values kept
    assert cache.length == 4


def test_compiled_decoding_falls_back_for_a_mixer():
    """A static (compiled) cache holds keys and values; a linear or Hyena mixer says so in one line and
    `generate --compile` decodes eagerly instead of failing."""
    base = tiny_decoder(dict(decoder_families())["gpt2"])
    assert build_model(base).static_cache_unsupported() is None
    for mixer in ("linear", "hyena"):
        assert build_model(base.replace(mixer=mixer)).static_cache_unsupported() == f"mixer {mixer}"


def test_beam_search_reorders_the_recurrent_state():
    """Beam search reorders the cache's rows every step: the state must follow its hypothesis."""
    from transformer_catalog.generate import beam_search

    cfg = tiny_decoder(dict(decoder_families())["gpt2"]).replace(mixer="linear")
    torch.manual_seed(1)
    model = build_model(cfg).eval()
    start = _ids(cfg, (2, 3), seed=3)
    with torch.no_grad():
        cached = beam_search(model, start, 6, beam_size=3, use_cache=True)
        full = beam_search(model, start, 6, beam_size=3, use_cache=False)
    assert cached == full
