"""Hugging Face parity of the 2024-2026 dense families, both ways and without downloads (as
test_hf_parity.py): a tiny random transformers model from its config class, re-initialised with
peaked weights, converted with the production converter; logits within TOL both ways, cached
generation equal to recomputation, greedy tokens equal to transformers' `generate`.

CASES holds each family's defaults scaled down; HELD_OUT holds configurations beyond them (odd head
counts, other grouped-query ratios, rope variants, untied heads, other window patterns), run through
the same checks."""

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

from test_hf_parity import TOL, _diff, _peaked, _save  # noqa: E402

from transformer_catalog.errors import TcatError  # noqa: E402
from transformer_catalog.generate import iter_tokens  # noqa: E402
from transformer_catalog.interop import from_hf, to_hf  # noqa: E402
from transformer_catalog.nn.count import count_parameters  # noqa: E402

# The bound for cached against recomputed logits: one query through SDPA against a whole
# sequence sums in another order; Gemma's sqrt(d)-scaled embeddings at std 0.5 measured 1.4e-5.
CACHE_TOL = 1e-4
COMMON = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=100,
    max_position_embeddings=64,
    bos_token_id=0,
    eos_token_id=0,
    pad_token_id=0,
)


def _lm(config_cls, model_cls, **kw):
    return lambda: getattr(transformers, model_cls)(getattr(transformers, config_cls)(**{**COMMON, **kw}))


# name -> (builder, model_type to export as)
CASES = {
    "qwen2": (_lm("Qwen2Config", "Qwen2ForCausalLM"), "qwen2"),
    "qwen3": (_lm("Qwen3Config", "Qwen3ForCausalLM", head_dim=16), "qwen3"),
    "gemma": (_lm("GemmaConfig", "GemmaForCausalLM", head_dim=16), "gemma"),
    "gemma2": (
        _lm(
            "Gemma2Config",
            "Gemma2ForCausalLM",
            num_hidden_layers=4,
            head_dim=16,
            query_pre_attn_scalar=12,
            sliding_window=5,
        ),
        "gemma2",
    ),
    "gemma3": (
        _lm(
            "Gemma3TextConfig",
            "Gemma3ForCausalLM",
            num_hidden_layers=7,
            head_dim=16,
            query_pre_attn_scalar=16,
            sliding_window=5,
            rope_parameters={
                "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
                "sliding_attention": {"rope_type": "default", "rope_theta": 1e4},
            },
        ),
        "gemma3_text",
    ),
    "phi3": (_lm("Phi3Config", "Phi3ForCausalLM", num_key_value_heads=4), "phi3"),
    "olmo2": (_lm("Olmo2Config", "Olmo2ForCausalLM"), "olmo2"),
    "smollm3": (_lm("SmolLM3Config", "SmolLM3ForCausalLM", num_hidden_layers=4), "smollm3"),
    "olmo3": (_lm("Olmo3Config", "Olmo3ForCausalLM", num_hidden_layers=4, sliding_window=5), "olmo3"),
    "persimmon": (_lm("PersimmonConfig", "PersimmonForCausalLM", num_key_value_heads=None), "persimmon"),
    "cohere": (_lm("CohereConfig", "CohereForCausalLM"), "cohere"),
    "cohere2": (_lm("Cohere2Config", "Cohere2ForCausalLM", num_hidden_layers=4, sliding_window=5), "cohere2"),
    "stablelm": (_lm("StableLmConfig", "StableLmForCausalLM", num_key_value_heads=4), "stablelm"),
    "nemotron": (_lm("NemotronConfig", "NemotronForCausalLM"), "nemotron"),
    "granite": (
        _lm(
            "GraniteConfig",
            "GraniteForCausalLM",
            embedding_multiplier=12.0,
            residual_multiplier=0.22,
            attention_multiplier=0.15625,
            logits_scaling=8.0,
        ),
        "granite",
    ),
}
HELD_OUT = {
    "qwen2-odd-heads-mqa-tied": (
        _lm(
            "Qwen2Config",
            "Qwen2ForCausalLM",
            hidden_size=36,
            num_attention_heads=3,
            num_key_value_heads=1,
            tie_word_embeddings=True,
        ),
        "qwen2",
    ),
    "qwen2-sliding-upper-layers": (
        _lm(
            "Qwen2Config",
            "Qwen2ForCausalLM",
            num_hidden_layers=4,
            use_sliding_window=True,
            sliding_window=5,
            max_window_layers=2,
        ),
        "qwen2",
    ),
    "qwen3-bias-6-heads-rope-linear": (
        _lm(
            "Qwen3Config",
            "Qwen3ForCausalLM",
            num_attention_heads=6,
            num_key_value_heads=3,
            head_dim=8,
            attention_bias=True,
            rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 5e5},
        ),
        "qwen3",
    ),
    "gemma-untied-mha-odd-heads": (
        _lm(
            "GemmaConfig",
            "GemmaForCausalLM",
            num_attention_heads=5,
            num_key_value_heads=5,
            head_dim=12,
            tie_word_embeddings=False,
            rope_parameters={"rope_type": "default", "rope_theta": 1e5},
        ),
        "gemma",
    ),
    "gemma2-softcaps-small-mqa": (
        _lm(
            "Gemma2Config",
            "Gemma2ForCausalLM",
            num_hidden_layers=3,
            head_dim=8,
            num_key_value_heads=1,
            attn_logit_softcapping=2.0,
            final_logit_softcapping=5.0,
            sliding_window=3,
        ),
        "gemma2",
    ),
    "gemma3-pattern-3-logit-softcap-untied": (
        _lm(
            "Gemma3TextConfig",
            "Gemma3ForCausalLM",
            num_hidden_layers=5,
            hidden_size=48,
            head_dim=8,
            num_attention_heads=6,
            num_key_value_heads=2,
            sliding_window=4,
            sliding_window_pattern=3,
            final_logit_softcapping=10.0,
            tie_word_embeddings=False,
        ),
        "gemma3_text",
    ),
    "phi3-gqa-partial-rotary-window": (
        _lm(
            "Phi3Config",
            "Phi3ForCausalLM",
            hidden_size=48,
            num_attention_heads=6,
            num_key_value_heads=2,
            sliding_window=5,
            rope_parameters={"rope_type": "default", "rope_theta": 1e4, "partial_rotary_factor": 0.5},
        ),
        "phi3",
    ),
    "olmo2-odd-heads-bias-rope-theta": (
        _lm(
            "Olmo2Config",
            "Olmo2ForCausalLM",
            hidden_size=40,
            num_attention_heads=5,
            num_key_value_heads=5,
            attention_bias=True,
            rope_parameters={"rope_type": "default", "rope_theta": 5e5},
        ),
        "olmo2",
    ),
    "olmo3-scaled-global-layers": (
        _lm(
            "Olmo3Config",
            "Olmo3ForCausalLM",
            num_hidden_layers=4,
            sliding_window=4,
            num_key_value_heads=1,
            rope_parameters={
                "full_attention": {"rope_type": "linear", "factor": 4.0, "rope_theta": 5e5},
                "sliding_attention": {"rope_type": "default", "rope_theta": 5e5},
            },
        ),
        "olmo3",
    ),
    "persimmon-6-heads-full-rotary-no-qk-norm": (
        _lm(
            "PersimmonConfig",
            "PersimmonForCausalLM",
            num_key_value_heads=None,
            hidden_size=48,
            num_attention_heads=6,
            qk_layernorm=False,
            rope_parameters={"rope_type": "default", "rope_theta": 2.5e4, "partial_rotary_factor": 1.0},
        ),
        "persimmon",
    ),
    "cohere-untied-bias-mha-logit-scale": (
        _lm(
            "CohereConfig",
            "CohereForCausalLM",
            num_key_value_heads=4,
            attention_bias=True,
            tie_word_embeddings=False,
            logit_scale=0.5,
            rope_parameters={"rope_type": "default", "rope_theta": 8e3},
        ),
        "cohere",
    ),
    "cohere-qk-norm-gqa": (
        _lm("CohereConfig", "CohereForCausalLM", num_attention_heads=8, num_key_value_heads=2, use_qk_norm=True),
        "cohere",
    ),
    "cohere2-pattern-2-mqa": (
        _lm(
            "Cohere2Config",
            "Cohere2ForCausalLM",
            num_hidden_layers=4,
            sliding_window=3,
            num_key_value_heads=1,
            layer_types=["sliding_attention", "full_attention"] * 2,
        ),
        "cohere2",
    ),
    "smollm3-irregular-nope-untied-mqa": (
        _lm(
            "SmolLM3Config",
            "SmolLM3ForCausalLM",
            num_hidden_layers=5,
            num_key_value_heads=1,
            no_rope_layers=[1, 0, 0, 1, 1],
            tie_word_embeddings=False,
            mlp_bias=True,
        ),
        "smollm3",
    ),
    "stablelm2-12b-like": (
        _lm(
            "StableLmConfig",
            "StableLmForCausalLM",
            hidden_size=64,
            num_attention_heads=8,
            num_key_value_heads=2,
            use_qkv_bias=True,
            qk_layernorm=True,
            use_parallel_residual=True,
        ),
        "stablelm",
    ),
    "nemotron-head-dim-mha-bias": (
        _lm(
            "NemotronConfig",
            "NemotronForCausalLM",
            num_key_value_heads=4,
            head_dim=12,
            attention_bias=True,
            mlp_bias=True,
            rope_parameters={"rope_type": "default", "rope_theta": 1e4, "partial_rotary_factor": 1.0},
        ),
        "nemotron",
    ),
}
ALL = {**CASES, **HELD_OUT}


def _model(name):
    torch.manual_seed(0)
    return _peaked(ALL[name][0]())


@pytest.mark.parametrize("name", sorted(ALL))
def test_logits_match_both_ways(name, tmp_path):
    hf = _model(name)
    ids = torch.randint(1, 100, (2, 12))
    with torch.no_grad():
        expected = hf(ids).logits
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(ids)
        assert _diff(got, expected) <= TOL
        assert count_parameters(ours.config) == hf.num_parameters()  # the count tcat verify reports
        to_hf(ours, tmp_path / "back", ALL[name][1])
        back = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "back").eval()
        assert _diff(back(ids).logits, got) <= TOL


@pytest.mark.parametrize("name", sorted(ALL))
def test_cache_equals_recomputation_and_greedy_equals_generate(name, tmp_path):
    """20 greedy tokens (past every sliding window here), through our cache and without it, and
    transformers' generate on the same prompt."""
    hf = _model(name)
    ours = from_hf(_save(hf, tmp_path / "hf"))
    start = torch.randint(1, 100, (2, 6))
    a = list(iter_tokens(ours, start, 20, use_cache=True))
    b = list(iter_tokens(ours, start, 20, use_cache=False))
    for (t1, l1), (t2, l2) in zip(a, b):
        assert torch.equal(t1, t2) and _diff(l1, l2) <= CACHE_TOL
    hf.generation_config.eos_token_id = None
    hf.generation_config.pad_token_id = 0
    out = hf.generate(
        start,
        attention_mask=torch.ones_like(start),
        max_new_tokens=20,
        do_sample=False,
        output_logits=True,
        return_dict_in_generate=True,
    )
    mine = torch.stack([t for t, _ in a], 1)
    assert mine.tolist() == out.sequences[:, 6:].tolist()
    # every step's logits too: peaked models may repeat a token, which alone would prove little
    for (_, logits), theirs in zip(a, out.logits):
        assert _diff(logits, theirs) <= CACHE_TOL


def _edit_config(path, **changes):
    cfg = json.loads((path / "config.json").read_text())
    cfg.update(changes)
    (path / "config.json").write_text(json.dumps(cfg))


@pytest.mark.parametrize(
    "name,changes,message",
    [
        (
            "qwen2",
            {"layer_types": ["full_attention", "chunked_attention"], "use_sliding_window": True},
            "layer_types='chunked_attention' is not supported",
        ),
        (
            "qwen3",
            {"rope_parameters": {"rope_type": "proportional", "rope_theta": 1e4}},
            "rope_type='proportional' is not supported",
        ),
        ("gemma3", {"attn_logit_softcapping": 50.0}, "attn_logit_softcapping=50.0 is ignored by Gemma 3"),
        ("gemma2", {"use_bidirectional_attention": True}, "use_bidirectional_attention=True is not supported"),
        (
            "gemma3",
            {
                "rope_parameters": {
                    "full_attention": {"rope_type": "default", "rope_theta": 1e6},
                    "sliding_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4},
                }
            },
            "rope_parameters.sliding_attention.rope_type='linear' is not supported",
        ),
    ],
)
def test_unsupported_settings_are_named(name, changes, message, tmp_path):
    path = _save(_model(name), tmp_path / "hf")
    _edit_config(path, **changes)
    with pytest.raises(TcatError, match=message):
        from_hf(path)


def test_export_refuses_a_model_the_target_reads_differently(tmp_path):
    """Qwen2's config cannot say "no bias on q, k, v": exporting such a model as qwen2 is refused,
    naming the field, and nothing is written."""
    ours = from_hf(_save(_model("qwen3"), tmp_path / "hf"))
    with pytest.raises(TcatError, match="export as qwen2: attention.qkv_bias=False cannot be expressed"):
        to_hf(ours, tmp_path / "out", "qwen2")
    assert not (tmp_path / "out").exists()


def _modernbert(**kw):
    cfg = dict(
        vocab_size=100,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=4,
        num_attention_heads=4,
        max_position_embeddings=64,
        local_attention=4,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        cls_token_id=1,
        sep_token_id=2,
    )
    return transformers.ModernBertModel(transformers.ModernBertConfig(**{**cfg, **kw}))


@pytest.mark.parametrize(
    "name,kw",
    [
        ("defaults", {}),
        # held out: biases everywhere, every other layer global, 6 heads, other RoPE bases, window 6
        (
            "biases-6-heads-thetas",
            dict(
                hidden_size=48,
                num_attention_heads=6,
                norm_bias=True,
                attention_bias=True,
                mlp_bias=True,
                local_attention=6,
                layer_types=["full_attention", "sliding_attention"] * 2,
                rope_parameters={
                    "full_attention": {"rope_type": "default", "rope_theta": 5e4},
                    "sliding_attention": {"rope_type": "default", "rope_theta": 500.0},
                },
            ),
        ),
    ],
)
def test_modernbert_both_ways_with_padding(name, kw, tmp_path):
    """Hidden states on a right-padded batch longer than the local window (4 or 6: half on each side),
    both ways; the padded row's real tokens equal the row run alone."""
    torch.manual_seed(0)
    hf = _peaked(_modernbert(**kw))
    ids = torch.randint(3, 100, (2, 14))
    mask = torch.ones_like(ids)
    ids[1, 9:], mask[1, 9:] = 0, 0
    real = mask.bool()
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(ids, keep=real)
        assert _diff(got, expected, real) <= TOL
        alone = ours(ids[1:2, :9])
        assert _diff(alone[0], got[1, :9]) <= TOL
        to_hf(ours, tmp_path / "back", "modernbert")
        back = transformers.AutoModel.from_pretrained(tmp_path / "back").eval()
        assert _diff(back(input_ids=ids, attention_mask=mask).last_hidden_state, got, real) <= TOL
    assert count_parameters(ours.config) == hf.num_parameters()
    assert ours.config.norm.first_attn_norm is False and ours.config.attention.window == kw.get("local_attention", 4)


def test_modernbert_masked_lm_checkpoint_loads_its_encoder(tmp_path):
    hf = transformers.ModernBertForMaskedLM(_modernbert().config)
    _peaked(hf)
    ids = torch.randint(3, 100, (1, 10))
    with torch.no_grad():
        expected = hf.model(ids).last_hidden_state
        got = from_hf(_save(hf, tmp_path / "hf"))(ids)
    assert _diff(got, expected) <= TOL
