"""Mixtures of experts and latent attention in the catalog: active parameters (what a token uses)
beside totals in `tcat verify`, tiny builds of the new layouts' specs, and routing by hand."""

import pytest
import torch

from transformer_catalog.catalog.load import load_catalog
from transformer_catalog.catalog.specs import resolve
from transformer_catalog.catalog.verify import verify
from transformer_catalog.nn.count import count_parameters
from transformer_catalog.nn.model import build_model
from transformer_catalog.nn.moe import MoEFeedForward, inactive_parameters


@pytest.mark.parametrize("name", ["DeepSeek-V3", "gpt-oss:20b", "Qwen3-Coder:30B-A3B", "Mixtral 8x7B"])
def test_inactive_parameters_are_the_experts_a_token_skips(name):
    """Counted on a built (tiny) model: per expert layer, (n_experts - top_k) experts' weights and biases."""
    cfg = resolve(name, scale="tiny").config
    model = build_model(cfg, device="meta")
    skipped = 0
    for m in model.modules():
        if isinstance(m, MoEFeedForward):
            per_expert = sum(p[0].numel() for p in (m.gate_up, m.up, m.down, m.in_bias, m.down_bias) if p is not None)
            skipped += (m.n_experts - m.top_k) * per_expert
    assert skipped > 0 and inactive_parameters(cfg) == skipped
    assert count_parameters(cfg) - skipped < count_parameters(cfg)


def test_verify_checks_active_parameters_of_mixtures():
    checks = {(c.entry, c.variant): c for c in verify(load_catalog(), ["DeepSeek-V3", "gpt-oss", "DeepSeek-V2"])}
    total, active = checks[("DeepSeek-V3", "671B")], checks[("DeepSeek-V3", "671B active")]
    assert total.status == active.status == "ok"
    assert abs(total.computed / 671e9 - 1) < 0.001 and abs(active.computed / 37e9 - 1) < 0.02
    # OpenAI leaves the input embedding table out of its active count: stated, with the arithmetic
    oss = checks[("gpt-oss", "120b active")]
    assert oss.status == "explained" and "5.13B" in oss.note
    assert checks[("DeepSeek-V2", "236B active")].status == "ok"


@pytest.mark.parametrize(
    "name",
    [
        "DeepSeek-V3",
        "DeepSeek-Coder-V2:Lite",
        "gpt-oss:120b",
        "Qwen3-Coder:480B-A35B",
        "Llama 4:Scout",
        "Llama 4:Maverick",
    ],
)
def test_tiny_builds_of_the_new_layouts_run_and_cache(name):
    from transformer_catalog.generate import iter_tokens

    model = build_model(resolve(name, scale="tiny").config).eval()
    start = torch.randint(1, 100, (2, 4))
    a = list(iter_tokens(model, start, 6, use_cache=True))
    b = list(iter_tokens(model, start, 6, use_cache=False))
    assert all(torch.equal(x[0], y[0]) for x, y in zip(a, b))


def _moe(**fields):
    from transformer_catalog.nn.config_parts import FFNConfig, MoEConfig
    from transformer_catalog.nn.init import init_weights

    m = MoEFeedForward(4, FFNConfig(d_ff=3, activation="silu", gated=True, bias=False), MoEConfig(**fields))
    init_weights(m)
    return m


def test_group_limited_routing_by_hand():
    """8 experts in 4 groups of 2 (DeepSeek-V3's rule). Sigmoid scores s = sigmoid(logits):
    [.953, .047, .622, .599, .550, .500, .924, .269]; the selection bias -2 on expert 6 makes its
    group's sum -.807. Group sums [1.0, 1.221, 1.050, -.807] keep groups 1 and 2 (experts 2-5), so
    the top 2 are experts 2 and 3, not 0 and 6 (the best two scores), weighted by their unbiased
    scores, renormalised, times routed_scale 2."""
    m = _moe(n_experts=8, top_k=2, scoring="sigmoid", selection_bias=True, groups=4, top_groups=2, group_score="top2")
    m.cfg.routed_scale = 2.0
    logits = torch.tensor([3.0, -3.0, 0.5, 0.4, 0.2, 0.0, 2.5, -1.0])
    with torch.no_grad():
        m.router.weight.zero_()
        m.router.weight[:, 0] = logits  # the token e_0 gets exactly these logits
        m.selection_bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -2.0, 0.0]))
        _, weights, experts = m.route(torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    assert sorted(experts[0].tolist()) == [2, 3]
    s2, s3 = torch.sigmoid(torch.tensor([0.5, 0.4])).tolist()
    got = dict(zip(experts[0].tolist(), weights[0].tolist()))
    assert got[2] == pytest.approx(2 * s2 / (s2 + s3)) and got[3] == pytest.approx(2 * s3 / (s2 + s3))
    m.cfg.top_groups = 4  # without the group limit the best two scores win
    with torch.no_grad():
        assert sorted(m.route(torch.tensor([[1.0, 0.0, 0.0, 0.0]]))[2][0].tolist()) == [0, 2]


def test_weight_inputs_scales_the_expert_input_not_its_output():
    """Llama 4: expert(w * x), not w * expert(x); they differ for a nonlinear expert."""
    torch.manual_seed(0)
    a = _moe(n_experts=2, top_k=1, scoring="sigmoid", renormalize=False)
    b = _moe(n_experts=2, top_k=1, scoring="sigmoid", renormalize=False, weight_inputs=True)
    b.load_state_dict(a.state_dict())
    x = torch.randn(5, 4)
    with torch.no_grad():
        _, w, e = a.route(x)
        want = torch.stack([b.expert(int(e[i, 0]), x[i : i + 1] * w[i, 0]) for i in range(5)])[:, 0]
        assert torch.allclose(b(x), want, atol=1e-6) and not torch.allclose(a(x), b(x), atol=1e-3)


def test_every_hook_point_of_latent_attention_and_routers_fires():
    """DeepSeek-V3 (tiny): every named hook point is reached, with the documented shapes; replacing
    the pattern of a latent-attention layer changes the logits (the hooks are live, not decorative)."""
    from transformer_catalog.nn.hooks import hook_names, hooks, run_with_cache

    cfg = resolve("DeepSeek-V3", scale="tiny").config
    model = build_model(cfg).eval()
    ids = torch.randint(1, 100, (2, 5))
    logits, cache = run_with_cache(model, ids)
    assert set(cache) == set(hook_names(model))
    assert cache["blocks.0.attn.hook_pattern"].shape == (2, 4, 5, 5)
    assert cache["blocks.0.attn.hook_z"].shape == (2, 4, 5, cfg.attention.latent.v_head_dim)
    assert cache["blocks.1.mlp.hook_router"].shape == (2, 5, cfg.moe.n_experts)
    with torch.no_grad(), hooks(model, {"blocks.0.attn.hook_pattern": lambda x, name: torch.zeros_like(x)}):
        assert (model(ids) - logits).abs().max() > 1e-3


@pytest.mark.parametrize(
    "name,present,absent",
    [
        ("DeepSeek-V3", ["multi-head latent attention", "shared expert", "sigmoid routing", "group-limited routing",
                         "auxiliary-loss-free balancing"], ["multi-head", "attention sinks"]),
        ("DeepSeek-V2", ["multi-head latent attention", "group-limited routing"], ["sigmoid routing"]),
        ("gpt-oss", ["attention sinks", "clamped SwiGLU", "local/global layers"], ["shared expert"]),
        ("Llama 4:Scout", ["chunked attention", "shared expert", "sigmoid routing", "router-weighted expert inputs"],
         ["group-limited routing"]),
        ("Mixtral 8x7B", ["mixture of experts"], ["shared expert", "sigmoid routing", "clamped SwiGLU"]),
    ],
)  # fmt: skip
def test_tcat_changes_names_the_new_attention_and_routing_variants(name, present, absent):
    from transformer_catalog.catalog.changes import derive

    names = {u.change for u in derive(resolve(name).config)}
    assert set(present) <= names and not set(absent) & names


def test_qwen3_line_through_one_layout_equals_the_dense_family():
    """qwen3.yaml builds every size through qwen3_moe; with num_experts 0 that is exactly the dense
    Qwen3 family's config (so the dense counts did not move), and the MoE sizes have experts."""
    from transformer_catalog.families import family

    entry = load_catalog().get("Qwen3")
    spec = entry.spec.to_dict()
    for variant, args in spec["variants"].items():
        merged = {**spec["args"], **args}
        ours = resolve(f"Qwen3:{variant}").config
        if merged["num_experts"] == 0:
            assert ours.moe is None
            assert ours.to_dict() == family("qwen").config(**{**merged, "model_type": "qwen3"}).to_dict()
        else:
            assert ours.moe.n_experts == 128 and ours.attention.qk_norm == "head"


def test_latent_attention_flops_use_the_value_size():
    """Attention products per token and layer: 2 x keys x heads x (q.k head size + value size); under
    latent attention the values are v_head_dim wide, not head_dim."""
    from transformer_catalog.nn.count import forward_flops_per_token

    cfg = resolve("DeepSeek-V3", scale="tiny").config  # head_dim 24, v_head_dim 16, 4 heads, 2 layers
    a = cfg.attention
    grown = forward_flops_per_token(cfg, 100) - forward_flops_per_token(cfg, 10)
    assert grown == 2 * cfg.n_decoder_layers * 90 * a.n_heads * (cfg.head_dim + a.latent.v_head_dim)
