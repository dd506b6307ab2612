"""The core fields of the 2024-2026 decoders, each against what it means, without transformers:
NoPE layers, the local layers' RoPE base, sandwich and sublayer-output norms, soft-capping, q/k norm,
unit-offset gains, the first block without an attention norm; their validation and counting.
(test_hf_parity_modern.py holds them to transformers' implementations.)"""

import pytest
import torch

from transformer_catalog.errors import TcatError
from transformer_catalog.nn import build_model
from transformer_catalog.nn.config import ModelConfig
from transformer_catalog.nn.count import count_parameters, parameter_breakdown


def _decoder(**changes) -> ModelConfig:
    base = ModelConfig(arch="decoder", d_model=32, n_encoder_layers=0, n_decoder_layers=3, dropout=0.0).replace(
        **{
            "attention.n_heads": 4,
            "position.kind": "rope",
            "position.max_len": 64,
            "norm.kind": "rmsnorm",
            "norm.bias": False,
            "norm.placement": "pre",
            "norm.final": True,
            "ffn.d_ff": 64,
            "embedding.vocab_size": 50,
            "embedding.scale": False,
        }
    )
    return base.replace(**changes)


def _logits(cfg: ModelConfig, ids: torch.Tensor, state=None) -> tuple[torch.Tensor, dict]:
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    if state is not None:
        model.load_state_dict(state)
    with torch.no_grad():
        return model(ids), model.state_dict()


IDS = torch.randint(1, 50, (2, 10), generator=torch.Generator().manual_seed(3))


def test_nope_layers_use_no_positions():
    """rope_layers "N" everywhere computes what position.kind "none" computes, with the same weights;
    a mixed pattern differs from both."""
    nope, state = _logits(_decoder(**{"position.rope_layers": "N"}), IDS)
    none, _ = _logits(_decoder(**{"position.kind": "none"}), IDS, state)
    mixed, _ = _logits(_decoder(**{"position.rope_layers": "RRN"}), IDS, state)
    assert torch.allclose(nope, none, atol=1e-6)
    assert not torch.allclose(mixed, none, atol=1e-3)
    cfg = _decoder(**{"position.rope_layers": "RRN"})
    assert [cfg.rotates_at(i) for i in range(6)] == [True, True, False, True, True, False]


def test_local_layers_rotate_with_their_own_base():
    """Every layer local (a window longer than the sequence) with rope_local_theta 500 equals every
    layer rotating with base 500; global layers keep rope_theta."""
    window = {"attention.window": 64, "attention.window_pattern": "L"}
    local, state = _logits(_decoder(**window, **{"position.rope_theta": 1e4, "position.rope_local_theta": 500.0}), IDS)
    direct, _ = _logits(_decoder(**window, **{"position.rope_theta": 500.0}), IDS, state)
    ignored, _ = _logits(_decoder(**{"position.rope_theta": 1e4, "position.rope_local_theta": 500.0}), IDS, state)
    plain, _ = _logits(_decoder(**{"position.rope_theta": 1e4}), IDS, state)
    assert torch.allclose(local, direct, atol=1e-6)
    assert torch.allclose(ignored, plain, atol=1e-6)  # no local layers: the local base is unused
    assert not torch.allclose(local, plain, atol=1e-3)


@pytest.mark.parametrize("placement", ["sandwich", "sublayer_output"])
def test_norm_placements_are_their_formulas(placement):
    """One block by hand: sandwich x + N2(f(N1(x))), sublayer_output x + N(f(x))."""
    cfg = _decoder(**{"norm.placement": placement, "n_decoder_layers": 1})
    torch.manual_seed(1)
    block = build_model(cfg).decoder.blocks[0].eval()
    with torch.no_grad():
        for p in block.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # gains away from 1
        x = torch.randn(2, 5, 32)
        got = block(x, causal=True)
        attn = lambda h: block.self_attn(h, causal=True)  # noqa: E731
        if placement == "sandwich":
            h = x + block.post_attn_norm(attn(block.self_attn_norm(x)))
            want = h + block.post_ffn_norm(block.ffn(block.ffn_norm(h)))
        else:
            h = x + block.self_attn_norm(attn(x))
            want = h + block.ffn_norm(block.ffn(h))
    assert torch.allclose(got, want, atol=1e-6)


def test_softcaps_bound_logits_and_scores():
    capped, state = _logits(_decoder(**{"embedding.logit_softcap": 2.0}), IDS)
    free, _ = _logits(_decoder(), IDS, state)
    assert capped.abs().max() < 2.0 and torch.allclose(capped, 2.0 * torch.tanh(free / 2.0), atol=1e-6)
    # an attention soft-cap changes the scores (SDPA cannot: the eager path runs)
    scored, _ = _logits(_decoder(**{"attention.softcap": 0.5}), IDS, state)
    huge, _ = _logits(_decoder(**{"attention.softcap": 1e6}), IDS, state)
    assert not torch.allclose(scored, free, atol=1e-3) and torch.allclose(huge, free, atol=1e-4)


@pytest.mark.parametrize("scope,shape", [("head", [8]), ("all", [32]), ("head_gains", [4, 8])])
def test_qk_norm_is_per_head_or_across_heads(scope, shape):
    cfg = _decoder(**{"attention.qk_norm": scope, "attention.n_kv_heads": 4})
    attn = build_model(cfg).decoder.blocks[0].self_attn
    assert list(attn.q_norm.weight.shape) == shape and list(attn.k_norm.weight.shape) == shape
    with torch.no_grad():
        normed = attn._norm_q(torch.randn(2, 5, 32) * 3)  # gains of 1: unit RMS over what is normalised
    rms = (normed if scope == "all" else normed.view(2, 5, 4, 8)).pow(2).mean(-1)
    assert torch.allclose(rms, torch.ones_like(rms), atol=1e-3)


@pytest.mark.parametrize("kind", ["rmsnorm", "layernorm"])
def test_unit_offset_gain_starts_at_one(kind):
    """Gemma's RMSNorm and Nemotron's LayerNorm1P store gain - 1: zeros that compute a gain of 1."""
    cfg = _decoder(**{"norm.unit_offset": True, "norm.kind": kind})
    model = build_model(cfg)
    norm = model.decoder.final_norm
    assert torch.equal(norm.weight, torch.zeros(32))  # stored as gain - 1
    x = torch.randn(3, 32)
    centred = x - x.mean(-1, keepdim=True) if kind == "layernorm" else x
    assert torch.allclose(
        norm(x), centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + cfg.norm.eps), atol=1e-5
    )
    with torch.no_grad():
        norm.weight.fill_(1.0)  # a stored 1 is a gain of 2
    assert torch.allclose(
        norm(x), 2 * centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + cfg.norm.eps), atol=1e-5
    )


def test_first_block_without_attention_norm_is_counted_once():
    cfg = ModelConfig(arch="encoder", d_model=32, n_encoder_layers=4, n_decoder_layers=0).replace(
        **{"norm.placement": "pre", "norm.final": True, "norm.first_attn_norm": False, "attention.n_heads": 4}
    )
    model = build_model(cfg, device="meta")
    assert isinstance(model.encoder.blocks[0].self_attn_norm, torch.nn.Identity)
    assert not isinstance(model.encoder.blocks[1].self_attn_norm, torch.nn.Identity)
    real = sum(p.numel() for p in model.parameters())
    assert count_parameters(cfg) == real == sum(parameter_breakdown(cfg).values())
    assert count_parameters(cfg.replace(**{"norm.first_attn_norm": True})) == real + 2 * 32


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"attention.softcap": 0.0}, "attention.softcap: must be positive"),
        ({"embedding.logit_softcap": -1.0}, "embedding.logit_softcap: must be positive"),
        ({"embedding.logit_scale": 0.0}, "embedding.logit_scale: must be positive"),
        ({"residual_multiplier": -1.0}, "residual_multiplier: must be positive"),
        (
            {"position.rope_local_theta": 1e4, "position.rope_scaling": "dynamic", "position.rope_factor": 2.0},
            "position.rope_local_theta: a local base does not combine with dynamic",
        ),
        ({"position.rope_layers": "RX"}, "position.rope_layers: 'RX' must be a string of R"),
        ({"position.kind": "learned", "position.rope_layers": "RN"}, "need position.kind: rope"),
        ({"position.rope_local_theta": -5.0}, "position.rope_local_theta: must be positive"),
        (
            {"norm.kind": "layernorm", "norm.affine": False, "norm.unit_offset": True},
            "norm.unit_offset: .* needs a gain",
        ),
        ({"norm.placement": "post", "norm.first_attn_norm": False}, "norm.first_attn_norm: .* needs norm.placement"),
        ({"norm.placement": "sandwich", "norm.final": False}, "norm.final: a sandwich-norm stack needs a final"),
        ({"attention.qk_norm": "some"}, r"attention.qk_norm: 'some' is not one of"),
    ],
)
def test_impossible_settings_name_their_field(changes, message):
    with pytest.raises(TcatError, match=message):
        _decoder(**changes)


def test_new_fields_round_trip_through_dicts():
    cfg = _decoder(
        **{
            "attention.qk_norm": "head",
            "attention.softcap": 50.0,
            "position.rope_local_theta": 1e4,
            "position.rope_layers": "RRRN",
            "norm.placement": "sandwich",
            "norm.unit_offset": True,
            "embedding.logit_softcap": 30.0,
        }
    )
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_flops_count_chunked_layers_like_windows():
    """Llama 4's chunked local layers see at most `chunk` keys: FLOPs as a window of that size."""
    from transformer_catalog.nn.count import forward_flops_per_token

    local = {"attention.window_pattern": "LG", "attention.n_kv_heads": 4}
    chunked = forward_flops_per_token(_decoder(**local, **{"attention.chunk": 8}), context=64)
    windowed = forward_flops_per_token(_decoder(**local, **{"attention.window": 8}), context=64)
    full = forward_flops_per_token(_decoder(**local), context=64)
    assert chunked == windowed < full


def test_multipliers_scale_embeddings_and_sublayer_outputs():
    """Granite: embeddings x embedding.multiplier; x + m * Sublayer(Norm(x)) for each sublayer."""
    cfg = _decoder(**{"residual_multiplier": 0.25, "embedding.multiplier": 3.0, "n_decoder_layers": 1})
    torch.manual_seed(1)
    model = build_model(cfg).eval()
    block = model.decoder.blocks[0]
    with torch.no_grad():
        assert torch.allclose(model.embed(IDS), 3.0 * model.embed.tokens(IDS))
        x = torch.randn(2, 5, 32)
        h = x + 0.25 * block.self_attn(block.self_attn_norm(x), causal=True)
        want = h + 0.25 * block.ffn(block.ffn_norm(h))
        assert torch.allclose(block(x, causal=True), want, atol=1e-6)


def test_tcat_changes_names_the_new_fields():
    """`tcat changes` derives each new field from the built config (catalog/changes.py)."""
    from transformer_catalog.catalog.changes import derive

    cfg = _decoder(
        **{
            "attention.qk_norm": "all",
            "attention.softcap": 50.0,
            "norm.placement": "sandwich",
            "norm.unit_offset": True,
            "position.rope_layers": "RRRN",
            "position.rope_local_theta": 1e4,
            "residual_multiplier": 0.5,
            "embedding.multiplier": 2.0,
            "embedding.logit_softcap": 30.0,
            "embedding.logit_scale": 0.25,
        }
    )
    changes = {(u.category, u.change): u.detail for u in derive(cfg)}
    assert changes[("attention", "QK-norm")] == "across heads"
    assert changes[("position", "NoPE layers")] == "pattern RRRN (R rotary, N none)"
    for key in [
        ("attention", "logit soft-capping"),
        ("norm", "sandwich norms"),
        ("norm", "gain stored as 1 + w"),
        ("position", "local RoPE base"),
        ("block", "residual multiplier"),
        ("embedding", "embedding multiplier"),
        ("embedding", "output soft-capping"),
        ("embedding", "scaled output logits"),
    ]:
        assert key in changes, key
    plain = {(u.category, u.change) for u in derive(_decoder())}
    assert not plain & {("attention", "QK-norm"), ("position", "NoPE layers"), ("norm", "gain stored as 1 + w")}
