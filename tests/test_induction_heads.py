"""Induction heads: the scores on hand-built attention patterns, the data, the attention-only model,
ablation and patching on hook_z, and the tiny run (a two-layer model forms an induction head, a
one-layer model does not)."""

import json

import pytest
import torch

from transformer_catalog.experiments import induction_heads as ih


def causal_uniform(batch: int, heads: int, t: int) -> torch.Tensor:
    return torch.ones(t, t).tril().div(torch.arange(1, t + 1)[:, None]).expand(batch, heads, t, t)


def test_induction_score_is_one_for_a_perfect_pattern_and_one_over_t_for_a_uniform_one():
    half, t = 8, 16
    perfect = torch.zeros(2, 3, t, t)
    for i in range(t):
        perfect[:, :, i, i - half + 1 if i >= half else 0] = 1.0
    assert ih.induction_score(perfect, half).tolist() == [1.0, 1.0, 1.0]
    uniform = torch.full((2, 3, t, t), 1 / t)
    assert torch.allclose(ih.induction_score(uniform, half), torch.full((3,), 1 / t))
    # attending to the earlier occurrence itself (not the token after it) is not induction
    duplicate = torch.zeros(1, 1, t, t)
    for i in range(half, t):
        duplicate[0, 0, i, i - half] = 1.0
    assert ih.induction_score(duplicate, half).item() == 0.0


def test_previous_token_score():
    t = 10
    shifted = torch.zeros(1, 2, t, t)
    shifted[0, 0, torch.arange(1, t), torch.arange(t - 1)] = 1.0
    shifted[0, 1] = torch.eye(t)  # attends to itself
    assert ih.previous_token_score(shifted).tolist() == [1.0, 0.0]


def test_prefix_matching_score_finds_the_token_after_the_latest_earlier_occurrence():
    ids = torch.tensor([[5, 1, 2, 5, 3, 5, 4]])  # 5 recurs at 3 (earlier: 0) and at 5 (latest earlier: 3)
    t = ids.size(1)
    pattern = torch.zeros(1, 2, t, t)
    pattern[0, 0, 3, 1] = pattern[0, 0, 5, 4] = 1.0  # head 0: the token after the latest earlier 5
    pattern[0, 1, 3, 1] = pattern[0, 1, 5, 1] = 1.0  # head 1: right at 3, after the oldest 5 at 5
    assert ih.prefix_matching_score(pattern, ids).tolist() == [1.0, 0.5]
    uniform = torch.full((1, 1, t, t), 1 / t)
    assert ih.prefix_matching_score(uniform, ids).item() == pytest.approx(1 / t)
    assert ih.prefix_matching_score(uniform, torch.arange(t)[None]).item() == 0.0  # nothing recurs


def test_icl_score_is_late_minus_early():
    losses = torch.tensor([4.0, 3.0, 2.0, 1.0])
    assert ih.icl_score(losses, 0, 3) == -3.0


def test_repeated_spans_repeat_each_span_at_a_varying_distance():
    g = torch.Generator().manual_seed(0)
    x = ih.repeated_spans(64, 32, 50, 4, g)
    assert x.shape == (64, 32) and x.min() >= 0 and x.max() < 50
    lengths = set()
    for row in x:
        # the first span A of length L is followed by its copy: row[:L] == row[L:2L] for some L
        found = [n for n in range(4, 17) if torch.equal(row[:n], row[n : 2 * n])]
        assert found, row
        lengths.add(found[0])
    assert len(lengths) > 3  # the distance between the copies varies
    first, both = ih.repeated_halves(3, 5, 50, g)
    assert torch.equal(both[:, :5], first) and torch.equal(both[:, 5:], first)


def test_the_model_is_attention_only():
    cfg = ih.Config.tiny()
    model = ih.build(cfg, 2)
    for block in model.decoder.blocks:
        assert not any(p.requires_grad for p in block.ffn.parameters())
        assert torch.count_nonzero(block.ffn(torch.randn(2, 5, cfg.d_model))) == 0


def test_ablation_and_patching_act_on_the_chosen_heads():
    torch.manual_seed(0)
    cfg = ih.Config.tiny()
    model = ih.build(cfg, 2).eval()
    g = torch.Generator().manual_seed(1)
    clean_first, repeated = ih.repeated_halves(4, cfg.seq_len // 2, cfg.vocab, g)
    corrupt_first = torch.randint(cfg.vocab, clean_first.shape, generator=g)
    every = [(i, h) for i in range(2) for h in range(cfg.heads)]
    # patching every head restores the clean run exactly: with zero feed-forwards, the repeated half's
    # logits depend on the first half only through the attention outputs
    result = ih.patching(model, 2, clean_first, corrupt_first, every)
    assert result["clean"] != result["corrupted"]
    assert len(result["single"]) == 2 and len(result["single"][0]) == cfg.heads
    if len(every) <= ih.MAX_HEADS:
        assert result["top"][-1] == pytest.approx(1.0, abs=1e-4)
    with torch.no_grad():
        assert ih.in_context_gain(model, repeated, cfg.seq_len // 2, [(1, 0)]) != ih.in_context_gain(
            model, repeated, cfg.seq_len // 2
        )
    hooks = ih._set_heads([(1, 0)])
    z = torch.ones(2, cfg.heads, 3, 4)
    out = hooks["blocks.1.attn.hook_z"](z, "blocks.1.attn.hook_z")
    assert out[:, 0].abs().sum() == 0 and torch.equal(out[:, 1:], z[:, 1:])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("induction")
    try:
        return ih.run(ih.Config.tiny(), out), out
    finally:
        torch.set_num_threads(threads)


def test_tiny_run_forms_an_induction_head_in_two_layers_only(tiny):
    results, out = tiny
    m = results["metrics"]
    assert m["best_induction_2l"] >= ih.TARGET_SCORE > m["best_induction_1l"], m
    assert m["best_induction_2l"] > m["best_induction_1l"] + 0.3
    assert m["icl_score_2l"] < m["icl_score_1l"] < 0.5
    assert results["claim_holds"] and results["control_fails"], m
    assert m["gain_removed_by_ablation"] >= ih.TARGET_REMOVED
    assert m["restored_by_top_heads"] >= ih.TARGET_RESTORED and m["heads_patched"] <= ih.MAX_HEADS
    assert json.loads((out / "results.json").read_text()) == results
    assert (out / "induction-heads.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = json.loads((out / "curves.json").read_text())
    assert len(curves["two_layer"]) == ih.Config.tiny().steps // ih.Config.tiny().eval_every + 1


def test_shipped_full_result_holds():
    path = ih.__file__.rsplit("/", 1)[0] + "/results/induction-heads/results.json"
    results = json.loads(open(path).read())
    assert results["setting"] == "full" and results["claim_holds"] and results["control_fails"]
    assert results["metrics"]["best_induction_2l"] >= ih.TARGET_SCORE > results["metrics"]["best_induction_1l"]
    assert results["cpu_seconds"] < 6 * 60
