import pytest

from transformer_catalog.errors import TcatError
from transformer_catalog.families import get_config, transformer
from transformer_catalog.nn import ModelConfig, count_parameters, parameter_breakdown


def _by_hand(N, d, ff, V):
    attn = 4 * (d * d + d)  # W_Q, W_K, W_V, W_O with biases
    ffn = d * ff + ff + ff * d + d
    ln = 2 * d
    encoder = N * (attn + ffn + 2 * ln)
    decoder = N * (2 * attn + ffn + 3 * ln)
    return encoder + decoder + V * d  # one shared embedding = output projection


@pytest.mark.parametrize("name,N,d,ff", [("transformer-base", 6, 512, 2048), ("transformer-big", 6, 1024, 4096)])
def test_parameter_count_matches_the_formula_and_the_paper(name, N, d, ff):
    cfg = get_config(name)
    assert cfg.embedding.vocab_size == transformer.PAPER_VOCAB_SIZE == 37000
    total = count_parameters(cfg)
    assert total == _by_hand(N, d, ff, 37000)
    assert sum(parameter_breakdown(cfg).values()) == total
    # Table 3: 65M and 213M. With the 37k shared vocabulary counted once we are within 3%.
    assert abs(total - transformer.PAPER_PARAMS[name]) / transformer.PAPER_PARAMS[name] < 0.03


def test_paper_configs_read_like_table_3():
    base, big = get_config("transformer-base"), get_config("transformer-big")
    assert (base.n_encoder_layers, base.d_model, base.ffn.d_ff, base.attention.n_heads, base.dropout) == (
        6,
        512,
        2048,
        8,
        0.1,
    )
    assert (big.n_encoder_layers, big.d_model, big.ffn.d_ff, big.attention.n_heads, big.dropout) == (
        6,
        1024,
        4096,
        16,
        0.3,
    )
    assert base.norm.placement == "post" and not base.norm.final
    assert base.position.kind == "sinusoidal" and base.embedding.tie_output and base.embedding.share_src_tgt


def test_untied_output_adds_a_vocabulary_matrix():
    cfg = get_config("transformer-base")
    untied = cfg.replace(**{"embedding.tie_output": False})
    assert count_parameters(untied) - count_parameters(cfg) == 37000 * 512


def test_config_round_trips_through_a_dict():
    cfg = get_config("transformer-small").replace(**{"norm.placement": "pre", "norm.final": True})
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "data,message",
    [
        ({"d_model": 100, "attention": {"n_heads": 3}}, "attention.n_heads: d_model=100 is not divisible by n_heads=3"),
        ({"attention": {"n_head": 8}}, "attention.n_head: unknown field"),
        ({"arch": "transducer"}, "arch: 'transducer' is not one of"),
        ({"dropout": 1.5}, "dropout: must be in [0, 1)"),
        ({"d_model": "512"}, "d_model: expected an integer"),
        ({"norm": {"placement": "pre"}}, "norm.final: a pre-norm stack needs a final norm"),
        ({"embedding": {"vocab_size": 10, "pad_id": 10}}, "embedding.pad_id: 10 is outside the vocabulary"),
        ({"moe": {"pattern": "DX"}}, "moe.pattern: 'DX' must be a string of E (experts) and D (dense)"),
        ({"moe": {"capacity": 0}}, "moe.capacity: must be at least 1"),
    ],
)
def test_impossible_configs_fail_with_the_field_path(data, message):
    with pytest.raises(TcatError) as e:
        ModelConfig.from_dict(data)
    assert message in str(e.value)


def test_unknown_named_config_suggests():
    with pytest.raises(TcatError, match="did you mean 'transformer-big'"):
        get_config("transformer-bigg")


def test_configs_from_earlier_versions_still_load():
    old = get_config("transformer-small").to_dict()
    old["attention"] = {k: v for k, v in old["attention"].items() if k not in ("qkv_bias", "out_bias")} | {
        "bias": False
    }
    cfg = ModelConfig.from_dict(old)
    assert cfg.attention.qkv_bias is False and cfg.attention.out_bias is False


def test_expert_layers_follow_the_pattern_in_counts_and_breakdown():
    """Experts every other layer (Switch): the shortcut count (one-layer build + one block per layer
    kind) and the breakdown both equal a full meta build."""
    import torch

    from transformer_catalog.nn import build_model

    cfg = get_config("transformer-small").replace(
        n_encoder_layers=5, n_decoder_layers=4, moe={"n_experts": 4, "top_k": 1, "pattern": "DE"}
    )
    full = sum(p.numel() for p in build_model(cfg, device="meta").parameters())
    dense = get_config("transformer-small").replace(n_encoder_layers=5, n_decoder_layers=4)
    assert count_parameters(cfg) == full == sum(parameter_breakdown(cfg).values())
    ffn = cfg.ffn.d_ff * cfg.d_model * 2
    # 2 + 2 expert layers, each: 3 more experts and a router, minus the dense layer's biases (experts have none)
    assert full - count_parameters(dense) == (2 + 2) * (3 * ffn + 4 * cfg.d_model - cfg.ffn.d_ff - cfg.d_model)
    assert isinstance(build_model(cfg, device="meta").encoder.blocks[1].ffn.up, torch.nn.Parameter)


def _deberta_like(**over):
    data = {
        "arch": "encoder",
        "d_model": 16,
        "n_encoder_layers": 2,
        "n_decoder_layers": 0,
        "attention": {"n_heads": 4},
        "ffn": {"d_ff": 24},
        "position": {"kind": "disentangled", "relative_buckets": 8, "relative_max_distance": 16},
        "embedding": {"vocab_size": 40, "n_token_types": 2, "norm": True},
    }
    return ModelConfig.from_dict(data | over)


def test_breakdown_counts_by_module_type_as_by_hand():
    """Tokens, segments and the disentangled position table (with its LayerNorm) are embeddings; the
    embedding norm and the blocks' norms are norms; an untied output head with a bias is the head."""
    d, ff, V, L = 16, 24, 40, 2
    attn, ffn, norm = 4 * (d * d + d), d * ff + ff + ff * d + d, 2 * d
    assert parameter_breakdown(_deberta_like()) == {
        "embeddings": V * d + 2 * d + (2 * 8 * d + norm),
        "norms": norm + L * 2 * norm,
        "attention": L * attn,
        "feed-forward": L * ffn,
    }
    decoder = ModelConfig.from_dict(
        {
            "arch": "decoder",
            "d_model": d,
            "n_encoder_layers": 0,
            "n_decoder_layers": L,
            "attention": {"n_heads": 4},
            "ffn": {"d_ff": ff},
            "position": {"kind": "learned", "max_len": 32},
            "norm": {"placement": "pre", "final": True},
            "embedding": {"vocab_size": V, "tie_output": False, "head_bias": True},
        }
    )
    assert parameter_breakdown(decoder) == {
        "embeddings": V * d + 32 * d,
        "norms": L * 2 * norm + norm,
        "attention": L * attn,
        "feed-forward": L * ffn,
        "head": V * d + V,
    }


def test_breakdown_does_not_depend_on_submodule_names():
    from collections import OrderedDict

    from transformer_catalog.nn import build_model
    from transformer_catalog.nn.count import _by_kind

    model = build_model(_deberta_like(), device="meta")
    before = _by_kind(model)
    for m in model.modules():  # the names the former substring rule keyed on
        m._modules = OrderedDict(
            (
                {
                    "embed": "inputs",
                    "disentangled": "table",
                    "self_attn": "mix",
                    "ffn": "mlp",
                    "self_attn_norm": "n1",
                    "ffn_norm": "n2",
                    "norm": "ln",
                }.get(k, k),
                v,
            )
            for k, v in m._modules.items()
        )
    assert _by_kind(model) == before and before["embeddings"] > 0 and before["attention"] > 0
