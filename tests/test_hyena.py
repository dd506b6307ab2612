"""Hyena order 2: the FFT convolution is the causal linear convolution; the implicit filters do not depend
on the sequence length they are asked for; the operator is causal and does not serve a KV cache."""

import pytest
import torch

from transformer_catalog.errors import TcatError
from transformer_catalog.nn.hyena import ImplicitFilter, direct_causal_conv, fft_causal_conv


def test_fft_convolution_is_the_causal_linear_convolution():
    g = torch.Generator().manual_seed(0)
    x, h = torch.randn(2, 5, 37, generator=g), torch.randn(5, 37, generator=g)
    assert (fft_causal_conv(x, h) - direct_causal_conv(x, h)).abs().max() < 1e-4
    # a circular (unpadded) FFT convolution would wrap the end of the sequence onto its start
    circular = torch.fft.irfft(torch.fft.rfft(x) * torch.fft.rfft(h), n=37)
    assert (circular - direct_causal_conv(x, h)).abs().max() > 1e-2


def test_implicit_filter_is_the_same_at_every_length_and_decays():
    f = ImplicitFilter(6, max_len=256)
    for layer in f.layers:
        torch.nn.init.normal_(layer.weight)
    torch.nn.init.constant_(f.freq, 1.0)
    short, long = f(40), f(256)
    assert short.shape == (6, 40) and long.shape == (6, 256)
    assert torch.equal(short, long[:, :40])  # a prefix's outputs never depend on what follows it
    assert long[0, 200:].abs().max() < long[0, :20].abs().max()  # the fastest channel has decayed
    with pytest.raises(TcatError, match="max_len=256"):
        f(257)


# -- the mixer in every decoder family ------------------------------------------------------------------
from mixer_specs import decoder_families, tiny_decoder  # noqa: E402

from transformer_catalog.generate import iter_tokens  # noqa: E402
from transformer_catalog.nn import build_model  # noqa: E402
from transformer_catalog.nn.hyena import Hyena  # noqa: E402


def _ids(cfg, shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, cfg.embedding.vocab_size - 1, shape, generator=g)
    return ids + (ids >= cfg.embedding.pad_id).long()


@pytest.mark.parametrize("layout,name", decoder_families())
def test_hyena_mixer_in_every_decoder_family(layout, name):
    base = tiny_decoder(name)
    if base.position.kind in ("alibi", "relative", "disentangled", "xl"):
        with pytest.raises(TcatError, match="mixer"):
            base.replace(mixer="hyena")
        return
    cfg = base.replace(mixer="hyena")
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    assert all(isinstance(b.self_attn, Hyena) for b in model.decoder.blocks)
    x = _ids(cfg, (2, 9))
    with torch.no_grad():
        assert (model(x)[:, :5] - model(x[:, :5])).abs().max() <= 1e-4  # causal
        changed = x.clone()
        changed[:, 2] = (changed[:, 2] + 1) % cfg.embedding.vocab_size
        assert (model(changed)[:, 2:] - model(x)[:, 2:]).abs().max() > 1e-6  # and it does mix the sequence
        prompt = x[:, :7].clone()
        prompt[1, :3] = cfg.embedding.pad_id
        keep = torch.ones_like(prompt, dtype=torch.bool)
        keep[1, :3] = False
        steps = list(iter_tokens(model, prompt, 3, keep=keep, use_cache=False))
        alone = list(iter_tokens(model, prompt[1:, 3:], 3, use_cache=False))
        for (t1, l1), (t2, l2) in zip(steps, alone):
            assert torch.equal(t1[1:], t2) and (l1[1] - l2[0]).abs().max() <= 1e-4
        with pytest.raises(TcatError, match="Hyena mixer keeps no KV cache"):
            list(iter_tokens(model, prompt, 2))


def test_hyena_trains_and_refuses_what_it_cannot_be():
    cfg = tiny_decoder(dict(decoder_families())["gpt2"])
    model = build_model(cfg.replace(mixer="hyena"))
    x = _ids(cfg, (2, 12))
    model(x).logsumexp(-1).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters() if p.requires_grad)
    with pytest.raises(TcatError, match="model config: mixer"):
        cfg.replace(arch="encoder", mixer="hyena", n_encoder_layers=1)


def test_operator_gates_binds_then_sums_then_reads():
    """The order-2 operator, written out with the O(T^2) convolution: y = W_out(x2 * (h (*) (x1 * v) + D x1 v)).
    Gating after the long convolution instead (the order an earlier version had) gives other numbers."""
    from transformer_catalog.nn.hyena import SHORT

    cfg = tiny_decoder(dict(decoder_families())["llama"]).replace(mixer="hyena")
    torch.manual_seed(0)
    op = build_model(cfg).decoder.blocks[0].self_attn
    x = torch.randn(2, 11, cfg.d_model)
    d = cfg.d_model
    u = op.in_proj(x).transpose(1, 2)
    u = torch.nn.functional.conv1d(torch.nn.functional.pad(u, (SHORT - 1, 0)), op.short[:, None, :], groups=3 * d)
    v, x1, x2 = u.split(d, dim=1)
    h = op.filters[0](11)
    bound = x1 * v
    want = op.out_proj((x2 * (direct_causal_conv(bound, h) + op.skip[0][None, :, None] * bound)).transpose(1, 2))
    got = op(x)
    assert (got - want).abs().max() < 1e-4
    late = x2 * (direct_causal_conv(x1 * direct_causal_conv(v, h), h))
    assert (op.out_proj(late.transpose(1, 2)) - got).abs().max() > 1e-3
    assert len(op.filters) == 1 and op.skip.shape == (1, d)  # order 2: the first filter is the short one
