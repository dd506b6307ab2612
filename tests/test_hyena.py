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
