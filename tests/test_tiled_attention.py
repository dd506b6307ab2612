"""Tiled (flash-style) attention equals PyTorch's SDPA in fp32, forward and gradients, within 1e-5: plain,
causal, causal with a KV-cache offset, sliding windows, padding masks and grouped-query heads; its backward
stores no score matrix; blocks outside a window are skipped; it is selectable as attention backend "tiled"."""

import pytest
import torch
import torch.nn.functional as F

from transformer_catalog.errors import TcatError
from transformer_catalog.nn.tiled import _TiledAttention, check_blocks, tiled_attention

TOL = 1e-5


def _reference_mask(n_q, n_k, causal, window, mask):
    m = mask
    qi = torch.arange(n_k - n_q, n_k)[:, None]
    ki = torch.arange(n_k)[None, :]
    if causal:
        c = ki <= qi
        if window is not None:
            c = c & (ki > qi - window)
        m = c if m is None else m & c
    elif window is not None:
        c = (qi - ki).abs() <= window // 2
        m = c if m is None else m & c
    return m


def _compare(B, Hq, Hkv, Tq, Tk, d, causal=False, window=None, mask=None, bq=16, bk=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, Hq, Tq, d, generator=g).requires_grad_()
    k = torch.randn(B, Hkv, Tk, d, generator=g).requires_grad_()
    v = torch.randn(B, Hkv, Tk, d, generator=g).requires_grad_()
    y = tiled_attention(q, k, v, mask, causal, None, window, bq, bk)
    grad = torch.randn(y.shape, generator=g)
    got = (y, *torch.autograd.grad(y, (q, k, v), grad))
    group = Hq // Hkv
    ref = F.scaled_dot_product_attention(
        q,
        k.repeat_interleave(group, 1),
        v.repeat_interleave(group, 1),
        attn_mask=_reference_mask(Tq, Tk, causal, window, mask),
    )
    want = (ref, *torch.autograd.grad(ref, (q, k, v), grad))
    for name, a, b in zip(("output", "dq", "dk", "dv"), got, want, strict=True):
        err = (a - b).abs().max().item()
        assert err <= TOL * max(1.0, b.abs().max().item()), f"{name}: {err}"


@pytest.mark.parametrize(
    "case",
    [
        dict(B=2, Hq=4, Hkv=4, Tq=37, Tk=37, d=16),  # ragged last blocks of queries and keys
        dict(B=2, Hq=4, Hkv=4, Tq=40, Tk=40, d=16, causal=True),
        dict(B=1, Hq=4, Hkv=4, Tq=7, Tk=45, d=8, causal=True),  # queries are the newest (a KV cache)
        dict(B=2, Hq=4, Hkv=2, Tq=33, Tk=33, d=8, causal=True),  # grouped-query
        dict(B=1, Hq=6, Hkv=1, Tq=29, Tk=29, d=8, causal=True),  # multi-query
        dict(B=1, Hq=2, Hkv=2, Tq=50, Tk=50, d=8, causal=True, window=7),
        dict(B=1, Hq=2, Hkv=2, Tq=50, Tk=50, d=8, window=9),  # bidirectional window (Longformer-style)
        dict(B=2, Hq=2, Hkv=2, Tq=24, Tk=24, d=8, bq=64, bk=64),  # one block bigger than the sequence
    ],
)
def test_tiled_equals_sdpa_forward_and_gradients(case):
    _compare(**case)


def test_padding_masks_and_full_masks_are_applied_block_by_block():
    keep = torch.ones(3, 41, dtype=torch.bool)
    keep[0, :9] = False  # left padding
    keep[1, 30:] = False  # right padding
    _compare(3, 4, 2, 41, 41, 8, causal=True, mask=keep[:, None, None, :])
    g = torch.Generator().manual_seed(3)
    full = torch.rand(2, 1, 30, 30, generator=g) > 0.4
    full |= torch.eye(30, dtype=torch.bool)  # no empty row: SDPA's answer there is NaN
    _compare(2, 2, 2, 30, 30, 8, mask=full)


def test_a_row_that_sees_nothing_gives_zeros_not_nan():
    q, k, v = torch.randn(1, 1, 4, 8), torch.randn(1, 1, 4, 8), torch.randn(1, 1, 4, 8)
    mask = torch.tensor([True, True, True, False])[None, None, :, None] & torch.ones(1, 1, 4, 4, dtype=torch.bool)
    y = tiled_attention(q.requires_grad_(), k, v, mask, block_q=2, block_k=2)
    assert torch.isfinite(y).all() and (y[0, 0, 3] == 0).all()
    y.sum().backward()
    assert torch.isfinite(q.grad).all() and (q.grad[0, 0, 3] == 0).all()


def test_backward_saves_no_score_matrix():
    """What autograd keeps between forward and backward is O(T d): Q, K, V, O and a log-sum-exp per row."""
    T, d = 512, 16
    q, k, v = (torch.randn(1, 2, T, d, requires_grad=True) for _ in range(3))
    y = tiled_attention(q, k, v, causal=True)
    saved = [t.numel() for t in y.grad_fn.saved_tensors]
    assert sum(saved) <= 4 * 2 * T * d + 2 * T  # SDPA's eager math would keep 2 * T * T per head
    assert isinstance(y.grad_fn, _TiledAttention._backward_cls)


def test_window_skips_blocks_it_cannot_see(monkeypatch):
    """With a causal window, a query block reads only the key blocks the window reaches: the number of
    block products grows linearly with length."""
    calls = []
    real = torch.Tensor.__matmul__

    def counting(a, b):
        calls.append(1)
        return real(a, b)

    def blocks_for(T):
        calls.clear()
        q = k = v = torch.randn(1, 1, T, 8)
        monkeypatch.setattr(torch.Tensor, "__matmul__", counting)
        tiled_attention(q, k, v, causal=True, window=16, block_q=16, block_k=16)
        monkeypatch.setattr(torch.Tensor, "__matmul__", real)
        return len(calls)

    small, mid, big = blocks_for(128), blocks_for(256), blocks_for(512)
    assert big - mid == 2 * (mid - small)  # linear in length (a quadratic count would grow 4x per doubling)
    assert big <= 2 * 2 * 512 // 16  # two matmuls per (query block, key block): at most 2 key blocks each


def test_bad_blocks_are_refused():
    with pytest.raises(TcatError, match="does not divide"):
        check_blocks(1000, 64)
    with pytest.raises(TcatError, match="between 1 and the sequence length"):
        check_blocks(512, 1024)
    check_blocks(1024, 128)
    with pytest.raises(TcatError, match="key heads do not divide"):
        tiled_attention(torch.randn(1, 4, 8, 8), torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8))


# -- the backend in every family ---------------------------------------------------------------------------
from transformer_catalog.catalog.load import load_catalog  # noqa: E402
from transformer_catalog.catalog.verify import build_config, tiny_config  # noqa: E402
from transformer_catalog.nn import build_model  # noqa: E402


def _layouts():
    seen = {}
    for e in load_catalog().entries:
        if e.spec and e.spec.to_dict()["layout"] not in seen:
            seen[e.spec.to_dict()["layout"]] = e.name
    return sorted(seen.items())


@pytest.mark.parametrize("layout,name", _layouts())
def test_tiled_backend_equals_sdpa_in_every_family(layout, name):
    spec = load_catalog().get(name).spec.to_dict()
    cfg = tiny_config(build_config(spec, next(iter(spec["variants"])))).replace(
        dropout=0.0, **{"attention.dropout": 0.0}
    )
    if cfg.position.kind in ("relative", "alibi", "disentangled", "xl"):
        with pytest.raises(TcatError, match="attention.backend: tiled attention takes no"):
            cfg.replace(**{"attention.backend": "tiled"})
        return
    torch.manual_seed(0)
    sdpa = build_model(cfg)
    tiled = build_model(cfg.replace(**{"attention.backend": "tiled"}))
    tiled.load_state_dict(sdpa.state_dict())
    if cfg.vision is not None:
        v = cfg.vision
        inputs = (torch.randn(2, v.channels, v.image_size, v.image_size),)
    else:
        ids = torch.randint(1, cfg.embedding.vocab_size - 1, (2, 9))
        inputs = (ids, ids) if cfg.arch == "encoder-decoder" else (ids,)
    out = []
    for model in (sdpa, tiled):
        y = model(*inputs)
        y.float().square().mean().backward()
        out.append((y.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}))
    (ya, ga), (yb, gb) = out
    assert (ya - yb).abs().max() <= 1e-4 * max(1.0, ya.abs().max().item())
    assert ga.keys() == gb.keys()
    for n in ga:
        assert (ga[n] - gb[n]).abs().max() <= 1e-4 * max(1e-3, ga[n].abs().max().item()), n
