"""Per-block torch.compile (train/compile.py): the compiled blocks compute what the eager ones do,
forward and backward, and keep the state-dict names (checkpoints stay interchangeable)."""

import pytest
import torch
import torch.nn.functional as F

from transformer_catalog.families import family
from transformer_catalog.nn import build_model
from transformer_catalog.runtime import has_cxx_compiler
from transformer_catalog.train.compile import compile_blocks


@pytest.mark.skipif(not has_cxx_compiler(), reason="inductor needs a C++ compiler")
def test_compiled_blocks_match_eager_forward_and_backward():
    cfg = family("gpt2").config(n_layer=2, n_embd=32, n_head=4, n_positions=32, vocab_size=100, resid_pdrop=0.0)
    cfg = cfg.replace(**{"attention.dropout": 0.0, "dropout": 0.0})
    torch.manual_seed(0)
    eager = build_model(cfg)
    compiled = build_model(cfg)
    compiled.load_state_dict(eager.state_dict())
    assert compile_blocks(compiled) == 2
    assert list(compiled.state_dict()) == list(eager.state_dict())
    ids = torch.randint(0, 100, (2, 16))
    losses = []
    for model in (eager, compiled):
        out = model(ids[:, :-1])
        loss = F.cross_entropy(out.reshape(-1, 100), ids[:, 1:].reshape(-1))
        loss.backward()
        losses.append(loss.item())
    assert abs(losses[0] - losses[1]) < 1e-5
    worst = max((a.grad - b.grad).abs().max().item() for a, b in zip(eager.parameters(), compiled.parameters()))
    assert worst < 1e-4, worst
