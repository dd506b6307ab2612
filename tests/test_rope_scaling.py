"""RoPE context-extension scalings (nn/rope.py): the formulas, the bad settings, and parity both ways
with transformers' Llama for the rope_types the converter reads (dynamic, yarn, longrope), built
from its config class (no download), with logits within 1e-4 of the logits' scale.

The Llama models are re-initialised with large weights so that attention is peaked: a wrong
frequency then moves the logits by far more than the tolerance (each test also checks that the
scaled model's logits differ from the unscaled model's, so the sequences reach the scaled regime)."""

import math

import pytest
import torch

from transformer_catalog.errors import TcatError
from transformer_catalog.nn.config import ModelConfig, PositionConfig
from transformer_catalog.nn.rope import attention_factor, base_frequencies, rotary_tables, scaled_frequencies

transformers = pytest.importorskip("transformers")

TOL = 1e-4
ROT = 16  # head_dim 64 / 4 heads


def _llama(arch="Llama", **kw):
    cfg = dict(
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=100,
        max_position_embeddings=64,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    model = getattr(transformers, f"{arch}ForCausalLM")(getattr(transformers, f"{arch}Config")(**{**cfg, **kw}))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return model.eval()


def _diff(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


LONGROPE = {
    "rope_type": "longrope",
    "short_factor": [1.0, 1.1, 1.2, 1.5, 2.0, 2.5, 3.0, 3.5],
    "long_factor": [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0],
    "original_max_position_embeddings": 16,
    "rope_theta": 10000.0,
}
SCALED = {
    # dynamic: unscaled up to max_position_embeddings (16), growing beyond
    "dynamic": dict(max_position_embeddings=16, rope_parameters={"rope_type": "dynamic", "factor": 4.0}),
    # original 64: the ramp's ends (0 and 2.02 of 8 frequencies) round to 0 and 3 (truncate, the default)
    "yarn": dict(
        max_position_embeddings=256,
        rope_parameters={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64},
    ),
    "yarn-mscale-untruncated": dict(
        max_position_embeddings=64,
        rope_parameters={
            "rope_type": "yarn",
            "factor": 8.0,
            "original_max_position_embeddings": 16,
            "mscale": 1.0,
            "mscale_all_dim": 0.5,
            "beta_fast": 16.0,
            "beta_slow": 2.0,
            "truncate": False,
        },
    ),
    # no factor: transformers derives it from the two lengths (64 / 16), as Phi-3's configs rely on
    "longrope": dict(max_position_embeddings=64, rope_parameters=LONGROPE),
    # Phi-3's layout: the pretraining length at the top level, half of each head rotating (4 frequencies)
    "phi3-longrope-partial-rotary": dict(
        arch="Phi3",
        max_position_embeddings=64,
        original_max_position_embeddings=16,
        rope_parameters={
            "rope_type": "longrope",
            "rope_theta": 10000.0,
            "partial_rotary_factor": 0.5,
            "short_factor": [1.0, 1.3, 2.0, 2.5],
            "long_factor": [1.5, 3.0, 6.0, 10.0],
        },
    ),
}


@pytest.mark.parametrize("name", sorted(SCALED))
@pytest.mark.parametrize("length", [12, 40])  # within and beyond the original 16 positions
def test_llama_rope_scaling_parity_both_ways(name, length, tmp_path):
    from transformer_catalog.interop import from_hf, to_hf

    torch.manual_seed(0)
    hf = _llama(**SCALED[name])
    ids = torch.randint(1, 100, (2, length))
    hf.save_pretrained(tmp_path / "hf", safe_serialization=True)
    with torch.no_grad():
        expected = hf(ids).logits
        ours = from_hf(tmp_path / "hf")
        assert ours.config.position.rope_scaling == SCALED[name]["rope_parameters"]["rope_type"]
        got = ours(ids)
        assert _diff(got, expected) <= TOL
        to_hf(ours, tmp_path / "back", "phi3" if name.startswith("phi3") else "llama")
        back = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "back").eval()
        assert _diff(back(ids).logits, got) <= TOL
        unscaled_rope = {"rope_type": "default", "rope_theta": 10000.0}
        if name.startswith("phi3"):
            unscaled_rope["partial_rotary_factor"] = 0.5
        plain = _llama(SCALED[name].get("arch", "Llama"), max_position_embeddings=64, rope_parameters=unscaled_rope)
        plain.load_state_dict(hf.state_dict())
        unscaled = plain(ids).logits
    # the sequence reached the scaled regime: the scaling changed the logits (yarn and longrope at every length)
    if length > 16 or name.startswith(("yarn", "longrope")):
        assert _diff(unscaled, expected) > 100 * TOL


@pytest.mark.parametrize("name", ["dynamic", "longrope"])
def test_length_dependent_scalings_decode_as_transformers_generate(name, tmp_path):
    """Greedy tokens through the cache across the original length (16): the frequencies change
    mid-generation, and the cached keys keep the rotation they were written with, as in transformers."""
    from transformer_catalog.generate import iter_tokens
    from transformer_catalog.interop import from_hf

    torch.manual_seed(0)
    hf = _llama(**SCALED[name])
    hf.save_pretrained(tmp_path / "hf", safe_serialization=True)
    ours = from_hf(tmp_path / "hf")
    start = torch.randint(1, 100, (2, 6))
    hf.generation_config.eos_token_id = None
    hf.generation_config.pad_token_id = 0
    theirs = hf.generate(start, attention_mask=torch.ones_like(start), max_new_tokens=24, do_sample=False)[:, 6:]
    mine = torch.stack([t for t, _ in iter_tokens(ours, start, 24)], 1)
    assert mine.tolist() == theirs.tolist()
    assert len(set(mine[0].tolist())) > 3


def test_static_ntk_exports_as_a_raised_base(tmp_path):
    from transformer_catalog.families import family
    from transformer_catalog.interop import to_hf
    from transformer_catalog.nn.model import build_model

    cfg = family("llama").config_from_hf(_llama().config.to_dict())
    cfg = cfg.replace(**{"position.rope_scaling": "ntk", "position.rope_factor": 4.0})
    torch.manual_seed(0)
    ours = build_model(cfg).eval()
    ids = torch.randint(1, 100, (1, 40))
    to_hf(ours, tmp_path / "back", "llama")
    back = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "back").eval()
    with torch.no_grad():
        assert _diff(back(ids).logits, ours(ids)) <= TOL
    assert back.config.rope_parameters["rope_theta"] == pytest.approx(10000.0 * 4.0 ** (ROT / (ROT - 2)))


def _cfg(**rope) -> PositionConfig:
    return PositionConfig(kind="rope", **{"rope_original_len": 64, **rope})


def test_position_interpolation_turns_position_p_times_s_like_p():
    s = 4.0
    inv = base_frequencies(ROT, 10000.0)
    cos, sin = rotary_tables(ROT, _cfg(rope_scaling="linear", rope_factor=s), torch.arange(0.0, 256.0, s))
    ref_cos, ref_sin = rotary_tables(ROT, _cfg(), torch.arange(0.0, 64.0))
    assert torch.allclose(cos, ref_cos, atol=1e-5) and torch.allclose(sin, ref_sin, atol=1e-5)
    assert torch.allclose(scaled_frequencies(inv, _cfg(rope_scaling="linear", rope_factor=s)), inv / s)


def test_yarn_keeps_fast_frequencies_interpolates_slow_ones_and_sharpens():
    s = 8.0
    inv = base_frequencies(ROT, 10000.0)
    yarn = scaled_frequencies(inv, _cfg(rope_scaling="yarn", rope_factor=s, rope_original_len=4096))
    turns = 4096 * inv / (2 * math.pi)  # rotations over the original length
    fast, slow = turns > 32, turns < 1
    assert fast.any() and slow.any() and (~fast & ~slow).any()
    assert torch.equal(yarn[fast], inv[fast])
    assert torch.allclose(yarn[slow], inv[slow] / s)
    between = ~fast & ~slow
    assert ((yarn[between] < inv[between]) & (yarn[between] >= inv[between] / s)).all()
    assert attention_factor(_cfg(rope_scaling="yarn", rope_factor=s)) == pytest.approx(0.1 * math.log(s) + 1)
    assert attention_factor(_cfg(rope_scaling="yarn", rope_factor=s, rope_attention_factor=1.5)) == 1.5
    cos, _ = rotary_tables(ROT, _cfg(rope_scaling="yarn", rope_factor=s), torch.zeros(1))
    assert torch.allclose(cos, torch.full_like(cos, 0.1 * math.log(s) + 1))
    assert attention_factor(_cfg(rope_scaling="linear", rope_factor=s)) == 1.0


def test_dynamic_ntk_is_unscaled_up_to_the_original_length_and_ntk_beyond():
    s, n = 4.0, 128
    inv = base_frequencies(ROT, 10000.0)
    dynamic = _cfg(rope_scaling="dynamic", rope_factor=s)
    assert torch.equal(scaled_frequencies(inv, dynamic, 64), inv)
    grown = s * n / 64 - (s - 1)  # the NTK factor at length n
    assert torch.allclose(
        scaled_frequencies(inv, dynamic, n),
        scaled_frequencies(inv, _cfg(rope_scaling="ntk", rope_factor=grown)),
        rtol=1e-5,
    )


def test_longrope_switches_factor_sets_at_the_original_length():
    inv = base_frequencies(ROT, 10000.0)
    short, long = [1.0 + i for i in range(8)], [2.0 + i for i in range(8)]
    cfg = _cfg(rope_scaling="longrope", rope_factor=4.0, rope_short_factor=short, rope_long_factor=long)
    assert torch.allclose(scaled_frequencies(inv, cfg, 64), inv / torch.tensor(short))
    assert torch.allclose(scaled_frequencies(inv, cfg, 65), inv / torch.tensor(long))
    assert attention_factor(cfg) == pytest.approx(math.sqrt(1 + math.log(4.0) / math.log(64)))


def _model_cfg(**rope) -> dict:
    return {
        "arch": "decoder",
        "d_model": 64,
        "n_encoder_layers": 0,
        "n_decoder_layers": 1,
        "attention": {"n_heads": 4},
        "position": {"kind": "rope", "max_len": 64, **rope},
        "ffn": {"d_ff": 64},
        "embedding": {"vocab_size": 50},
    }


@pytest.mark.parametrize("kind", ["linear", "ntk", "llama3", "dynamic", "yarn"])
@pytest.mark.parametrize("factor", [0.0, -2.0, float("nan")])
def test_a_scaling_factor_that_is_not_positive_is_refused(kind, factor):
    with pytest.raises(TcatError, match=r"position\.rope_factor: a scaling factor must be positive"):
        ModelConfig.from_dict(_model_cfg(rope_scaling=kind, rope_factor=factor))
    ModelConfig.from_dict(_model_cfg(rope_scaling=kind, rope_factor=2.0))  # a positive one is fine


@pytest.mark.parametrize(
    "rope, match",
    [
        ({"rope_short_factor": [1.0] * 7, "rope_long_factor": [1.0] * 8}, r"rope_short_factor: longrope needs .* 8"),
        ({"rope_short_factor": [1.0] * 8, "rope_long_factor": None}, r"rope_long_factor: longrope needs"),
        ({"rope_short_factor": [1.0] * 8, "rope_long_factor": [1.0] * 7 + [0.0]}, r"must be a positive number"),
        ({"rope_short_factor": [1.0] * 8, "rope_long_factor": [1.0] * 8, "rope_attention_factor": 0.0}, r"positive"),
    ],
)
def test_bad_longrope_settings_are_refused(rope, match):
    with pytest.raises(TcatError, match=match):
        ModelConfig.from_dict(_model_cfg(rope_scaling="longrope", rope_factor=2.0, **rope))


def test_yarn_ramp_ends_must_be_ordered():
    with pytest.raises(TcatError, match="rope_beta_slow"):
        ModelConfig.from_dict(_model_cfg(rope_scaling="yarn", rope_factor=2.0, rope_beta_fast=1.0, rope_beta_slow=4.0))


@pytest.mark.parametrize("kind", ["dynamic", "longrope", "yarn"])
def test_static_cache_decodes_as_the_growing_cache(kind):
    """Compiled decoding reads the cache position as a 0-d tensor: the length-dependent frequencies are
    then picked by tensor ops, and must give what the growing cache's integer positions give."""
    from transformer_catalog.nn.model import build_model

    rope = {"rope_scaling": kind, "rope_factor": 2.0, "rope_original_len": 8}
    if kind == "longrope":
        rope |= {"rope_short_factor": [1.0 + i / 4 for i in range(8)], "rope_long_factor": [2.0 + i for i in range(8)]}
    cfg = ModelConfig.from_dict(
        {**_model_cfg(**rope), "n_decoder_layers": 2, "norm": {"placement": "pre", "final": True}}
    )
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    ids = torch.randint(1, 50, (2, 16))
    static, growing = model.new_static_cache(2, 16), model.new_cache()
    with torch.no_grad():
        a, b = [model(ids[:, :5], static)], [model(ids[:, :5], growing)]
        static.advance(5)
        for t in range(5, 16):  # crosses the original length (8)
            a.append(model(ids[:, t : t + 1], static))
            static.advance(1)
            b.append(model(ids[:, t : t + 1], growing))
        a, b = torch.cat(a, 1), torch.cat(b, 1)
        full = model(ids)
    assert (a - b).abs().max().item() < 1e-5
    if kind == "yarn":  # fixed frequencies: the cache changes nothing
        assert (a - full).abs().max().item() < 1e-5
    else:  # the frequencies changed with the length: later tokens differ from one full pass
        assert (a[:, -1] - full[:, -1]).abs().max().item() > 1e-4
