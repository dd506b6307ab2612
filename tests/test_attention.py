import pytest
import torch

from transformer_catalog.nn import (
    AttentionConfig,
    ModelConfig,
    MultiHeadAttention,
    attend,
    build_model,
    causal_mask,
    eager_attention,
    padding_mask,
)


def test_causal_mask_is_bottom_right_aligned():
    # 2 new queries over 4 keys (2 cached): query 0 is position 2, sees keys 0..2.
    m = causal_mask(2, 4)
    assert m.tolist() == [[True, True, True, False], [True, True, True, True]]
    assert causal_mask(3, 3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]


def test_eager_formula_matches_hand_computation():
    q = torch.tensor([[[[1.0, 0.0]]]])
    k = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    v = torch.tensor([[[[10.0, 0.0], [0.0, 10.0]]]])
    w = torch.softmax(torch.tensor([1.0, 0.0]) / 2**0.5, dim=0)
    expected = w[0] * v[0, 0, 0] + w[1] * v[0, 0, 1]
    assert torch.allclose(eager_attention(q, k, v, None)[0, 0, 0], expected)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n_q,n_k", [(5, 5), (1, 6), (3, 7)])
def test_sdpa_equals_eager_with_masks(causal, n_q, n_k):
    B, H, d = 3, 4, 8
    q, k, v = torch.randn(B, H, n_q, d), torch.randn(B, H, n_k, d), torch.randn(B, H, n_k, d)
    keep = torch.ones(B, n_k, dtype=torch.bool)
    keep[1, -2:] = False  # padded keys in one row (never the whole row)
    mask = padding_mask(keep)
    for m in (None, mask):
        a = attend(q, k, v, m, causal, backend="sdpa")
        b = attend(q, k, v, m, causal, backend="eager")
        assert (a - b).abs().max().item() < 1e-5


def test_padding_mask_blocks_padded_keys():
    attn = MultiHeadAttention(ModelConfig(d_model=16, attention=AttentionConfig(n_heads=2, backend="eager")))
    x = torch.randn(1, 4, 16)
    keep = torch.tensor([[True, True, False, False]])
    base = attn(x, mask=padding_mask(keep))
    x2 = x.clone()
    x2[:, 2:] = torch.randn(1, 2, 16)  # change only the padded positions
    assert torch.allclose(attn(x2, mask=padding_mask(keep))[:, :2], base[:, :2], atol=1e-6)


@pytest.mark.parametrize("arch", ["encoder", "decoder", "encoder-decoder"])
def test_model_sdpa_equals_eager(arch):
    cfg = ModelConfig(
        arch=arch,
        d_model=32,
        n_encoder_layers=2,
        n_decoder_layers=2,
        dropout=0.0,
        attention=AttentionConfig(n_heads=4, backend="sdpa"),
    )
    cfg.embedding.vocab_size = 50
    sdpa = build_model(cfg).eval()
    eager = build_model(cfg.replace(**{"attention.backend": "eager"})).eval()
    eager.load_state_dict(sdpa.state_dict())
    src = torch.randint(1, 50, (2, 7))
    src[0, -3:] = 0  # padding
    tgt = torch.randint(1, 50, (2, 5))
    args = (src, tgt) if arch == "encoder-decoder" else (src,)
    diff = (sdpa(*args) - eager(*args)).abs().max().item()
    assert diff < 1e-5


def test_sliding_window_limits_what_a_query_sees():
    from transformer_catalog.nn.attention import window_mask

    assert window_mask(3, 5, 2).tolist() == [
        [False, True, True, False, False],
        [False, False, True, True, False],
        [False, False, False, True, True],
    ]
    q, k, v = torch.randn(1, 2, 8, 4), torch.randn(1, 2, 8, 4), torch.randn(1, 2, 8, 4)
    full = attend(q, k, v, causal=True)
    assert torch.allclose(attend(q, k, v, causal=True, window=8), full, atol=1e-6)  # window >= length: no change
    windowed = attend(q, k, v, causal=True, window=3)
    assert torch.allclose(windowed[..., :3, :], full[..., :3, :], atol=1e-6)  # early queries see < 3 keys anyway
    assert not torch.allclose(windowed[..., 3:, :], full[..., 3:, :], atol=1e-3)
    eager = attend(q, k, v, causal=True, window=3, backend="eager")
    assert (eager - windowed).abs().max() < 1e-5


def test_block_sparse_pattern_is_bigbirds():
    """Blocks of 2 tokens, 8 blocks: each query block sees its neighbours, the first and last block
    and 1 random block; the global blocks see everything; the draw is fixed per seed and layer."""
    from transformer_catalog.nn.config import BlockSparseConfig
    from transformer_catalog.nn.sparse import block_sparse_mask

    cfg = BlockSparseConfig(block_size=2, window_blocks=3, global_blocks=2, random_blocks=1)
    m = block_sparse_mask(16, cfg, heads=2, layer=0)[0]
    assert m.shape == (2, 16, 16)
    blocks = m[:, ::2, ::2]  # one token per block suffices: the pattern is constant within blocks
    assert torch.equal(m, blocks.repeat_interleave(2, 1).repeat_interleave(2, 2))
    assert blocks[:, [0, 7]].all() and blocks[:, :, [0, 7]].all()  # global blocks
    for q in range(1, 7):
        neighbours = {q - 1, q, q + 1} | {0, 7}
        assert all(blocks[h, q, k] for h in range(2) for k in neighbours)
        assert all(int(blocks[h, q].sum()) == len(neighbours) + 1 for h in range(2))  # exactly one random block
    assert torch.equal(m, block_sparse_mask(16, cfg, heads=2, layer=0)[0])
    assert not torch.equal(m, block_sparse_mask(16, cfg, heads=2, layer=1)[0])


def test_block_sparse_encoder_ignores_keys_outside_the_pattern():
    cfg = ModelConfig.from_dict(
        {
            "arch": "encoder",
            "d_model": 16,
            "n_encoder_layers": 1,
            "dropout": 0.0,
            "embedding": {"vocab_size": 50},
            "attention": {
                "n_heads": 1,
                "block_sparse": {"block_size": 2, "window_blocks": 1, "global_blocks": 0, "random_blocks": 0},
            },
        }
    )
    model = build_model(cfg).eval()
    ids = torch.randint(1, 50, (1, 8))
    changed = ids.clone()
    changed[0, 6] = (ids[0, 6] % 49) + 1  # in block 3 only
    with torch.no_grad():
        a, b = model(ids), model(changed)
    assert torch.allclose(a[0, :6], b[0, :6], atol=1e-6)  # blocks 0-2 never see block 3
    assert not torch.allclose(a[0, 7], b[0, 7])


def test_encoder_window_is_symmetric():
    from transformer_catalog.nn.attention import local_mask

    assert local_mask(5, 2).int().tolist() == [
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 1, 1],
        [0, 0, 0, 1, 1],
    ]


def test_ntk_rope_scaling_keeps_the_highest_frequency_and_divides_the_lowest():
    from transformer_catalog.nn.config import PositionConfig
    from transformer_catalog.nn.layers import scaled_frequencies

    d, theta, factor = 64, 10000.0, 4.0
    inv = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d)
    ntk = scaled_frequencies(inv, PositionConfig(kind="rope", rope_scaling="ntk", rope_factor=factor))
    assert ntk[0] == inv[0] and torch.isclose(ntk[-1], inv[-1] / factor)
    raised = 1.0 / (theta * factor ** (d / (d - 2))) ** (torch.arange(0, d, 2, dtype=torch.float32) / d)
    assert torch.allclose(ntk, raised, rtol=1e-5)


def test_kv_cache_grows_in_place_past_its_first_capacity():
    from transformer_catalog.nn.attention import LayerCache

    cache, ks, vs = LayerCache(), [], []
    for n in (3, 1, 70, 1, 200):  # crosses the initial 64 and a doubling
        k, v = torch.randn(2, 4, n, 8), torch.randn(2, 4, n, 8)
        ks.append(k)
        vs.append(v)
        got_k, got_v = cache.append(k, v)
        assert torch.equal(got_k, torch.cat(ks, dim=2)) and torch.equal(got_v, torch.cat(vs, dim=2))
    assert cache.length == 275
    cache.reorder(torch.tensor([1, 1]))
    assert torch.equal(cache.k[0], torch.cat(ks, dim=2)[1])


# -- the position-scheme protocol (nn/positions.py) ----------------------------------------------------
def _decoder(kind: str, layers: int = 3, **over) -> ModelConfig:
    return ModelConfig(arch="decoder", d_model=32, n_decoder_layers=layers, dropout=0.0).replace(
        **{
            "attention.n_heads": 4,
            "ffn.d_ff": 48,
            "embedding.vocab_size": 40,
            "position.kind": kind,
            "norm.placement": "pre",
            "norm.final": True,
            **over,
        }
    )


@pytest.mark.parametrize("kind", ["rope", "alibi", "relative", "xl"])
def test_a_stack_runs_its_position_scheme_once_per_forward(kind, monkeypatch):
    from transformer_catalog.nn.positions import scheme_for

    cls = scheme_for(kind)
    calls = []
    original = cls.prepare
    monkeypatch.setattr(cls, "prepare", lambda self, n, past=0: calls.append((n, past)) or original(self, n, past))
    torch.manual_seed(0)
    model = build_model(_decoder(kind)).eval()
    ids = torch.randint(1, 40, (2, 5))
    with torch.no_grad():
        model(ids)
        if kind != "xl":
            cache = model.new_cache()
            model(ids[:, :4], cache)
            model(ids[:, 4:], cache)
    assert calls == ([(5, 0)] if kind == "xl" else [(5, 0), (4, 0), (1, 4)])  # not once per layer


def test_a_new_position_scheme_is_one_class(monkeypatch):
    """A scheme written against the protocol alone — ALiBi's bias plus a per-query constant, which
    softmax ignores — gives the built-in ALiBi model's logits, with and without a KV cache."""
    from transformer_catalog.nn import positions
    from transformer_catalog.nn.layers import ALiBi, alibi_slopes

    class ShiftedALiBi(positions.PositionScheme):
        attribute = "relative_bias"

        def __init__(self, n_heads):
            super().__init__()
            self.register_buffer("slopes", alibi_slopes(n_heads), persistent=False)

        @classmethod
        def build(cls, cfg, causal):
            return cls(cfg.attention.n_heads)

        def prepare(self, n_queries, past=0):
            keys = torch.arange(past + n_queries, dtype=torch.float32)
            queries = torch.arange(past, past + n_queries, dtype=torch.float32)
            return self.slopes[:, None, None] * (keys[None, None, :] - queries[None, :, None]) + 3.0

        def bias(self, state, q, k, attention, scale):
            return state[None]

    cfg = _decoder("alibi")
    torch.manual_seed(0)
    builtin = build_model(cfg).eval()
    monkeypatch.setitem(positions._SCHEMES, "alibi", ShiftedALiBi)
    torch.manual_seed(0)
    custom = build_model(cfg).eval()
    assert isinstance(custom.decoder.relative_bias, ShiftedALiBi) and isinstance(builtin.decoder.relative_bias, ALiBi)
    custom.load_state_dict(builtin.state_dict())
    ids = torch.randint(1, 40, (2, 7))
    with torch.no_grad():
        want = builtin(ids)
        assert (custom(ids) - want).abs().max() < 1e-5
        cache = custom.new_cache()
        steps = torch.cat([custom(ids[:, :4], cache), custom(ids[:, 4:6], cache), custom(ids[:, 6:], cache)], dim=1)
    assert (steps - want).abs().max() < 1e-5


def test_position_weights_keep_their_checkpoint_names():
    """Schemes are held under the attribute their weights have always had in checkpoints (and in the
    Hugging Face conversion rules): T5's encoder.relative_bias, DeBERTa's encoder.disentangled."""
    t5 = build_model(
        ModelConfig(d_model=32, n_encoder_layers=1, n_decoder_layers=1).replace(
            **{"attention.n_heads": 4, "embedding.vocab_size": 40, "position.kind": "relative"}
        ),
        device="meta",
    )
    assert {"encoder.relative_bias.weight", "decoder.relative_bias.weight"} <= set(t5.state_dict())
    deberta = build_model(
        ModelConfig(arch="encoder", d_model=32, n_encoder_layers=1, n_decoder_layers=0).replace(
            **{"attention.n_heads": 4, "embedding.vocab_size": 40, "position.kind": "disentangled"}
        ),
        device="meta",
    )
    assert {"encoder.disentangled.weight", "encoder.disentangled.norm.weight"} <= set(deberta.state_dict())
    xl = build_model(_decoder("xl", layers=1), device="meta").state_dict()
    assert {"decoder.blocks.0.self_attn.pos_proj.weight", "decoder.blocks.0.self_attn.pos_u"} <= set(xl)
    rope = build_model(_decoder("rope", layers=2), device="meta")
    assert rope.decoder.position_scheme is rope.decoder.rotary  # one rotary table per stack, not per layer
    assert not any(k.endswith(("cos", "sin")) for k in rope.state_dict())
