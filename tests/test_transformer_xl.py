"""Transformer-XL: relative positional attention checked against the paper's formula term by term,
and segment-level recurrence: segments fed one after another with memory give the logits of one
long pass; the memory carries no gradient; context reaches past a segment."""

import pytest
import torch

from transformer_catalog.errors import TcatError
from transformer_catalog.nn import ModelConfig, build_model
from transformer_catalog.nn.xl import RelativeSinusoids, xl_bias


def _xl(placement="post", memory=6, layers=2):
    return build_model(
        ModelConfig.from_dict(
            {
                "arch": "decoder",
                "d_model": 32,
                "n_encoder_layers": 0,
                "n_decoder_layers": layers,
                "dropout": 0.0,
                "memory": memory,
                "attention": {"n_heads": 4, "qkv_bias": False, "out_bias": False},
                "position": {"kind": "xl", "max_len": 64},
                "norm": {"placement": placement, "final": placement == "pre"},
                "embedding": {"vocab_size": 50, "head_bias": True},
            }
        )
    ).eval()


def test_relative_logits_follow_the_paper_term_by_term():
    torch.manual_seed(0)
    H, d, n_q, n_k = 2, 8, 3, 5
    q, k = torch.randn(1, H, n_q, d), torch.randn(1, H, n_k, d)
    proj = torch.nn.Linear(16, H * d, bias=False)
    u, v = torch.randn(H, d), torch.randn(H, d)
    R = RelativeSinusoids(16, 10).table
    got = xl_bias(q, k, proj, u, v, R, scale=0.5)
    W_R = proj.weight.view(H, d, 16)
    for h in range(H):
        for i in range(n_q):
            pos = n_k - n_q + i  # queries are the last positions
            for j in range(pos + 1):
                b = u[h] @ k[0, h, j]  # term (c): global content bias
                d_term = (q[0, h, i] + v[h]) @ (W_R[h] @ R[pos - j])  # terms (b) + (d): position
                assert abs(got[0, h, i, j] - 0.5 * (b + d_term)) < 1e-5


@pytest.mark.parametrize("placement", ["post", "pre"])
def test_segments_with_memory_equal_one_long_pass(placement):
    torch.manual_seed(0)
    model = _xl(placement, memory=12)  # long enough to hold both earlier segments
    ids = torch.randint(1, 50, (2, 18))
    with torch.no_grad():
        full = model(ids)
        memory = model.new_memory()
        parts = [model(ids[:, s : s + 6], memory=memory) for s in (0, 6, 12)]
    assert (torch.cat(parts, 1) - full).abs().max() < 1e-5


def test_memory_has_no_gradient_and_context_reaches_past_the_segment():
    torch.manual_seed(0)
    model = _xl(memory=4, layers=2)
    ids = torch.randint(1, 50, (1, 12))
    memory = model.new_memory()
    for s in (0, 4, 8):
        out = model(ids[:, s : s + 4], memory=memory)
    assert all(not m.requires_grad for m in memory.layers)
    out.sum().backward()  # backpropagates through the last segment only
    with torch.no_grad():
        changed = ids.clone()
        changed[0, 1] = (ids[0, 1] % 49) + 1  # a token of the first segment
        memory = model.new_memory()
        for s in (0, 4, 8):
            again = model(changed[:, s : s + 4], memory=memory)
        # two layers carry it two segments forward: the third segment's logits change
        assert (again - out).abs().max() > 1e-4


def test_memory_needs_relative_positions_and_not_a_cache():
    with pytest.raises(TcatError, match="memory: segment recurrence needs position.kind: xl"):
        ModelConfig.from_dict(
            {
                "arch": "decoder",
                "n_encoder_layers": 0,
                "memory": 4,
                "position": {"kind": "learned"},
                "norm": {"placement": "pre", "final": True},
            }
        )
    model = _xl()
    with pytest.raises(TcatError, match="either a KV cache"):
        model(torch.ones(1, 2, dtype=torch.long), cache=model.new_cache(), memory=model.new_memory())
