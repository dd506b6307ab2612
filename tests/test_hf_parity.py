"""Hugging Face parity, both ways, without downloads: build a tiny random transformers model from
its config class, convert it with the production converter, match logits; export ours back to a
Hugging Face folder, load it with transformers, match again.

The tiny models are re-initialised with large weights (`_peaked`): with transformers' default
init (std 0.02) attention is nearly uniform, so a bug confined to attention scores (scores x1.25,
q and k swapped, a wrong RoPE blend) moves the logits by only ~1e-4 and hides under the
tolerance. With std 0.5 every head attends to a few keys (`test_parity_models_attend_sharply`
checks the entropy), biases and norm gains are random (a dropped bias shows), and the measured
float32 differences stay below ~2e-5 on logits of magnitude ~10 (TOL)."""

import json
import os

import pytest
import torch

transformers = pytest.importorskip("transformers")

from transformer_catalog.errors import TcatError  # noqa: E402
from transformer_catalog.generate import iter_tokens  # noqa: E402
from transformer_catalog.interop import from_hf, to_hf  # noqa: E402

# max |ours - transformers| / max |transformers| with _peaked weights, measured over this file (set
# TCAT_PARITY_LOG=FILE to record them): median 6e-7, 90th percentile 2e-6, largest 7e-6 (T5).
# A scores-x1.25 bug moves them by > 1e-2.
TOL = 1e-5
STD = 0.5


def _peaked(model, std=STD):
    """Re-initialise every matrix with N(0, std^2), biases with N(0, 0.1^2) and norm gains with
    1 + N(0, 0.1^2), from a fixed seed: attention becomes peaked and no parameter is a trivial 0 or 1."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:  # fixed tables (Pegasus' sinusoids) are part of the architecture
                continue
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * std)
            elif p.dim() == 1 and name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif p.dim() == 1 and name.endswith("weight"):
                p.copy_(1 + torch.randn(p.shape, generator=g) * 0.1)
    return model.eval()


def _diff(a, b, where=None):
    """max |a - b| relative to max |b| (the logits' scale), over `where` if given."""
    if where is not None:
        a, b = a[where], b[where]
    d = ((a - b).abs().max() / b.abs().max()).item()
    if os.environ.get("TCAT_PARITY_LOG"):  # record the measured differences (TOL's comment)
        with open(os.environ["TCAT_PARITY_LOG"], "a") as f:
            f.write(f"{os.environ.get('PYTEST_CURRENT_TEST', '?').split(' ')[0]} {d:.3e}\n")
    return d


def _gpt2():
    return transformers.GPT2LMHeadModel(
        transformers.GPT2Config(
            n_layer=2, n_embd=32, n_head=4, vocab_size=100, n_positions=64, bos_token_id=0, eos_token_id=0
        )
    )


def _llama(**kw):
    cfg = dict(
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
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(**{**cfg, **kw}))


def _mistral(window=None):
    return transformers.MistralForCausalLM(
        transformers.MistralConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=1,
            vocab_size=100,
            max_position_embeddings=64,
            sliding_window=window,
            bos_token_id=0,
            eos_token_id=0,
        )
    )


def _bert():
    return transformers.BertModel(
        transformers.BertConfig(
            vocab_size=100,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=64,
        ),
        add_pooling_layer=False,
    )


def _opt(**kw):
    return transformers.OPTForCausalLM(
        transformers.OPTConfig(
            **{
                **dict(
                    hidden_size=32,
                    num_hidden_layers=2,
                    ffn_dim=64,
                    num_attention_heads=4,
                    vocab_size=100,
                    max_position_embeddings=64,
                    word_embed_proj_dim=32,
                    bos_token_id=2,
                    eos_token_id=2,
                ),
                **kw,
            }
        )
    )


def _neox():
    return transformers.GPTNeoXForCausalLM(
        transformers.GPTNeoXConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            vocab_size=100,
            max_position_embeddings=64,
            bos_token_id=0,
            eos_token_id=0,
        )
    )


def _bloom(heads=4):
    return transformers.BloomForCausalLM(
        transformers.BloomConfig(
            hidden_size=48, n_layer=2, n_head=heads, vocab_size=100, bos_token_id=0, eos_token_id=0, pad_token_id=3
        )
    )


def _openai_gpt():
    return transformers.OpenAIGPTLMHeadModel(
        transformers.OpenAIGPTConfig(vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    )


def _gpt_neo():
    return transformers.GPTNeoForCausalLM(
        transformers.GPTNeoConfig(
            vocab_size=100,
            hidden_size=32,
            num_layers=4,
            num_heads=4,
            attention_types=[[["global", "local"], 2]],
            window_size=4,
            max_position_embeddings=64,
            bos_token_id=0,
            eos_token_id=0,
        )
    )


def _mixtral(layers=2):
    return transformers.MixtralForCausalLM(
        transformers.MixtralConfig(
            hidden_size=32,
            intermediate_size=48,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=100,
            num_local_experts=4,
            num_experts_per_tok=2,
            max_position_embeddings=64,
            sliding_window=None,
            bos_token_id=0,
            eos_token_id=0,
            router_aux_loss_coef=0.02,
        )
    )


def _gptj():
    return transformers.GPTJForCausalLM(
        transformers.GPTJConfig(
            vocab_size=100, n_embd=64, n_layer=2, n_head=4, rotary_dim=8, n_positions=64, bos_token_id=0, eos_token_id=0
        )
    )


CAUSAL = {
    "mixtral": _mixtral,
    "gptj": _gptj,
    "gpt_neo": _gpt_neo,
    "openai-gpt": _openai_gpt,
    "bloom": _bloom,
    "bloom-6-heads": lambda: _bloom(6),
    "gpt2": _gpt2,
    "opt": _opt,
    "opt-post-norm": lambda: _opt(do_layer_norm_before=False),
    "gpt_neox": _neox,
    "llama": _llama,
    "llama-tied-mqa": lambda: _llama(tie_word_embeddings=True, num_key_value_heads=1),
    "llama-rope-theta": lambda: _llama(rope_theta=500000.0),
    "mistral": _mistral,
    "llama-rope-linear": lambda: _llama(rope_scaling={"rope_type": "linear", "factor": 4.0}),
    "llama3-rope": lambda: _llama(
        max_position_embeddings=256,
        rope_theta=500000.0,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 16,
        },
    ),
    "mistral-sliding-window": lambda: _mistral(window=5),
    "llama-head-dim-24": lambda: _llama(hidden_size=48, head_dim=24, num_attention_heads=6, num_key_value_heads=3),
}
EXPORT_AS = {
    "mixtral": "mixtral",
    "gptj": "gptj",
    "gpt_neo": "gpt_neo",
    "openai-gpt": "openai-gpt",
    "bloom": "bloom",
    "bloom-6-heads": "bloom",
    "opt": "opt",
    "opt-post-norm": "opt",
    "gpt_neox": "gpt_neox",
    "gpt2": "gpt2",
    "llama": "llama",
    "llama-tied-mqa": "llama",
    "llama-rope-theta": "llama",
    "llama-rope-linear": "llama",
    "llama3-rope": "llama",
    "mistral": "llama",
    "mistral-sliding-window": "mistral",
    "llama-head-dim-24": "llama",
}


def _causal(name):
    # GPT-Neo does not scale q.k by head_dim^-0.5: a smaller std gives it the same peakedness.
    return _peaked(CAUSAL[name](), std=0.3 if name == "gpt_neo" else STD)


def _save(hf_model, path):
    hf_model.eval().save_pretrained(path, safe_serialization=True)
    return path


# transformers' OpenAI GPT maps afn="gelu" to the tanh approximation (ACT_FNS["gelu"] = gelu_new);
# the converter reads it as exact GELU. Invisible at std 0.02 (2e-7), 3e-3 with peaked weights.
@pytest.mark.parametrize("name", sorted(CAUSAL))
def test_causal_lm_parity_both_ways(name, tmp_path):
    torch.manual_seed(0)
    hf = _causal(name)
    ids = torch.randint(1, 100, (2, 12))
    with torch.no_grad():
        expected = hf(ids).logits
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(ids)
        assert _diff(got, expected) <= TOL

        to_hf(ours, tmp_path / "back", EXPORT_AS[name])
        back = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "back").eval()
        assert _diff(back(ids).logits, got) <= TOL


def _normalised_entropy(attentions, first_row=4):
    """Mean entropy of the attention rows that see >= first_row + 1 keys, as a fraction of the
    entropy of uniform attention over the keys each row may see (1.0 = uniform)."""
    out = []
    for a in attentions:
        a = a[..., first_row:, :]
        seen = (a > 0).sum(-1).clamp_min(2).float()
        out.append(((-(a.clamp_min(1e-30).log() * a).sum(-1)) / seen.log()).mean())
    return torch.stack(out).mean().item()


@pytest.mark.parametrize("build", ["gpt2", "llama", "opt-post-norm", "bert", "bart"])
def test_parity_models_attend_sharply(build):
    """The parity fixtures must have peaked attention, or attention bugs hide under TOL (the default
    init gives ~1.0 here; _peaked gives 0.1-0.35)."""
    torch.manual_seed(0)
    if build == "bert":
        hf = _bert()
    elif build == "bart":
        hf = transformers.AutoModelForSeq2SeqLM.from_config(_seq2seq_config("bart"))
    else:
        hf = CAUSAL[build]()
    hf.config._attn_implementation = "eager"  # the SDPA path returns no attention weights
    ids = torch.randint(3, 100, (2, 12))
    kw = dict(decoder_input_ids=ids) if build == "bart" else {}

    def maps(model):
        with torch.no_grad():
            out = model(ids, output_attentions=True, **kw)
        return list(out.encoder_attentions) + list(out.decoder_attentions) if build == "bart" else list(out.attentions)

    assert _normalised_entropy(maps(_peaked(hf, std=0.02))) > 0.95  # transformers' default scale
    assert _normalised_entropy(maps(_peaked(hf))) < 0.5


@pytest.mark.parametrize(
    "name", ["gpt2", "llama", "opt", "gpt_neox", "mistral-sliding-window", "bloom", "gpt_neo", "gptj", "mixtral"]
)
def test_converted_models_cache_equals_recomputation(name, tmp_path):
    ours = from_hf(_save(_causal(name), tmp_path / "hf"))
    start = torch.randint(1, 100, (2, 5))
    a = list(iter_tokens(ours, start, 20, use_cache=True))
    b = list(iter_tokens(ours, start, 20, use_cache=False))
    for (t1, l1), (t2, l2) in zip(a, b):
        assert torch.equal(t1, t2) and _diff(l1, l2) <= TOL


@pytest.mark.parametrize("name", ["llama", "gpt2", "mistral-sliding-window", "bloom"])
def test_greedy_tokens_match_transformers_generate(name, tmp_path):
    """24 greedy tokens: past the sliding window (5) and the prompt, through the cache."""
    hf = _causal(name)
    ours = from_hf(_save(hf, tmp_path / "hf"))
    start = torch.randint(1, 100, (2, 6))
    hf.generation_config.eos_token_id = None  # run the full 24 steps, as ours does without eos_id
    hf.generation_config.pad_token_id = 0
    theirs = hf.generate(start, attention_mask=torch.ones_like(start), max_new_tokens=24, do_sample=False)[:, 6:]
    mine = torch.stack([t for t, _ in iter_tokens(ours, start, 24)], 1)
    assert mine.tolist() == theirs.tolist()
    assert len(set(mine[0].tolist())) > 3  # a real sequence, not one token repeated


def test_bert_parity_both_ways_with_padding(tmp_path):
    torch.manual_seed(0)
    hf = _peaked(_bert())
    ids = torch.randint(1, 100, (3, 10))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    ids[1, 6:] = 0  # pad id
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(ids, keep=mask.bool(), token_types=types)
        real = mask.bool()
        assert _diff(got, expected, real) <= TOL
        # Padding must not change the real tokens: the padded row equals the row run alone.
        alone = ours(ids[1:2, :6], token_types=types[1:2, :6])
        assert (alone[0] - got[1, :6]).abs().max().item() <= 1e-5

        to_hf(ours, tmp_path / "back", "bert")
        back = transformers.AutoModel.from_pretrained(tmp_path / "back").eval()
        again = back(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        assert _diff(again, got, real) <= TOL


def test_bert_masked_lm_checkpoint_loads_its_encoder(tmp_path):
    hf = transformers.BertForMaskedLM(
        transformers.BertConfig(
            vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64
        )
    )
    _peaked(hf)
    ids = torch.randint(1, 100, (1, 8))
    with torch.no_grad():
        expected = hf.bert(ids).last_hidden_state
        got = from_hf(_save(hf, tmp_path / "hf"))(ids)
    assert _diff(got, expected) <= TOL


def test_unsupported_architecture_and_pickles_are_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "config.json").write_text(json.dumps({"model_type": "xlnet"}))
    with pytest.raises(TcatError, match="unsupported Hugging Face architecture 'xlnet'"):
        from_hf(tmp_path / "x")
    # transformers 5 writes safetensors even when asked for pickles: write the pickle ourselves, as
    # an old checkpoint on the Hub holds it, so the refusal is exercised on every version.
    hf = _gpt2()
    hf.save_pretrained(tmp_path / "pkl")
    (tmp_path / "pkl" / "model.safetensors").unlink()
    torch.save(hf.state_dict(), tmp_path / "pkl" / "pytorch_model.bin")
    with pytest.raises(TcatError, match="only safetensors weights are loaded"):
        from_hf(tmp_path / "pkl")


def test_missing_tensor_and_unsupported_setting_are_named(tmp_path):
    from safetensors.torch import load_file, save_file

    path = _save(_llama(), tmp_path / "hf")
    tensors = load_file(str(path / "model.safetensors"))
    del tensors["model.layers.1.mlp.up_proj.weight"]
    save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(TcatError, match="tensor model.layers.1.mlp.up_proj.weight is missing"):
        from_hf(path)
    cfg = json.loads((path / "config.json").read_text())
    cfg["rope_parameters"] = {"rope_type": "proportional", "factor": 4.0, "rope_theta": 10000.0}
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(TcatError, match="rope_type='proportional' is not supported"):
        from_hf(path)


SEQ2SEQ = {"bart": transformers.BartConfig, "mbart": transformers.MBartConfig, "pegasus": transformers.PegasusConfig}


def _seq2seq_config(name):
    return SEQ2SEQ[name](
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        vocab_size=100,
        max_position_embeddings=64,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=None,
    )


@pytest.mark.parametrize("name", sorted(SEQ2SEQ))
def test_encoder_decoder_parity_both_ways(name, tmp_path):
    torch.manual_seed(0)
    hf = _peaked(transformers.AutoModelForSeq2SeqLM.from_config(_seq2seq_config(name)))
    src = torch.randint(3, 100, (2, 11))
    src[1, -3:] = 1  # padded source
    tgt = torch.randint(3, 100, (2, 7))
    with torch.no_grad():
        expected = hf(input_ids=src, attention_mask=(src != 1).long(), decoder_input_ids=tgt).logits
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(src, tgt)
        assert _diff(got, expected) <= TOL

        to_hf(ours, tmp_path / "back", name)
        back = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "back").eval()
        again = back(input_ids=src, attention_mask=(src != 1).long(), decoder_input_ids=tgt).logits
        assert _diff(again, got) <= TOL

        start = torch.full((2, 1), 2)
        a = list(iter_tokens(ours, start, 20, src=src, use_cache=True))
        b = list(iter_tokens(ours, start, 20, src=src, use_cache=False))
        assert all(torch.equal(x[0], y[0]) and _diff(x[1], y[1]) <= TOL for x, y in zip(a, b))
        hf.generation_config.eos_token_id = hf.generation_config.forced_eos_token_id = None
        theirs = hf.generate(
            src,
            attention_mask=(src != 1).long(),
            max_new_tokens=20,
            do_sample=False,
            num_beams=1,
            min_length=0,
            no_repeat_ngram_size=0,
            forced_bos_token_id=None,
        )[:, 1:]
        assert torch.stack([x[0] for x in a], 1).tolist() == theirs.tolist()


def _encoder_both_ways(hf, model_type, tmp_path, pad_id):
    """An encoder's hidden states on a right-padded batch, converted in and exported back out;
    returns our model."""
    ids = torch.randint(3, 100, (2, 10))
    mask = torch.ones_like(ids)
    ids[1, 7:], mask[1, 7:] = pad_id, 0
    real = mask.bool()
    _peaked(hf)
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(ids)
        assert _diff(got, expected, real) <= TOL
        to_hf(ours, tmp_path / "back", model_type)
        back = transformers.AutoModel.from_pretrained(tmp_path / "back").eval()
        assert _diff(back(input_ids=ids, attention_mask=mask).last_hidden_state, got, real) <= TOL
    return ours


def test_roberta_positions_start_after_padding(tmp_path):
    hf = transformers.RobertaModel(
        transformers.RobertaConfig(
            vocab_size=100,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=66,
            type_vocab_size=1,
            pad_token_id=1,
        ),
        add_pooling_layer=False,
    ).eval()
    _encoder_both_ways(hf, "roberta", tmp_path, pad_id=1)


@pytest.mark.parametrize("ffn,tied", [("relu", True), ("gated-gelu", False)])
def test_t5_parity_both_ways(ffn, tied, tmp_path):
    """T5 v1.0 (ReLU, tied head rescaled by d_model^-0.5) and v1.1/Flan (GEGLU, untied head), with
    head size independent of width, relative position buckets and the cached decoder."""
    torch.manual_seed(0)
    cfg = transformers.T5Config(
        vocab_size=100,
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=20,
        feed_forward_proj=ffn,
        tie_word_embeddings=tied,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    hf = _peaked(transformers.T5ForConditionalGeneration(cfg), std=0.3)  # T5 does not scale q.k by d^-0.5
    src = torch.randint(2, 100, (2, 25))  # longer than max_distance: exercises the log buckets
    src[1, -5:] = 0
    tgt = torch.randint(2, 100, (2, 9))
    with torch.no_grad():
        expected = hf(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=tgt).logits
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(src, tgt)
        assert _diff(got, expected) <= TOL
        to_hf(ours, tmp_path / "back", "t5")
        back = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "back").eval()
        again = back(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=tgt).logits
        assert _diff(again, got) <= TOL
        start = torch.zeros(2, 1, dtype=torch.long)
        a = list(iter_tokens(ours, start, 10, src=src, use_cache=True))
        b = list(iter_tokens(ours, start, 10, src=src, use_cache=False))
        assert all(torch.equal(x[0], y[0]) and _diff(x[1], y[1]) <= TOL for x, y in zip(a, b))
        hf.generation_config.eos_token_id = None
        theirs = hf.generate(src, attention_mask=(src != 0).long(), max_new_tokens=20, do_sample=False)[:, 1:].tolist()
        mine = torch.stack([t for t, _ in iter_tokens(ours, start, 20, src=src)], 1).tolist()
        assert mine == theirs


def test_mixtral_load_balancing_loss_matches_transformers(tmp_path):
    hf = _peaked(_mixtral(layers=1))  # one layer: HF pools statistics across layers, we average per layer
    ids = torch.randint(1, 100, (3, 10))
    with torch.no_grad():
        theirs = hf(ids, output_router_logits=True).aux_loss
        ours = from_hf(_save(hf, tmp_path / "hf"))
        ours(ids)
    assert abs(ours.aux_loss().item() / 0.02 - theirs.item()) < 1e-5


@pytest.mark.parametrize("kind", ["albert", "electra"])
def test_factorised_embedding_encoders_both_ways(kind, tmp_path):
    """ALBERT (factorised embeddings + one shared layer) and ELECTRA-small-style (narrow embeddings)."""
    torch.manual_seed(0)
    common = dict(
        vocab_size=100,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    if kind == "albert":
        hf = transformers.AlbertModel(transformers.AlbertConfig(**common), add_pooling_layer=False).eval()
    else:
        hf = transformers.ElectraModel(transformers.ElectraConfig(**common)).eval()
    ours = _encoder_both_ways(hf, kind, tmp_path, pad_id=0)
    if kind == "albert":
        assert len(ours.encoder.blocks) == 1 and ours.encoder.n_layers == 3


def test_distilbert_both_ways(tmp_path):
    hf = transformers.DistilBertModel(
        transformers.DistilBertConfig(
            vocab_size=100, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64
        )
    ).eval()
    _encoder_both_ways(hf, "distilbert", tmp_path, pad_id=0)


def test_vit_both_ways(tmp_path):
    torch.manual_seed(0)
    hf = transformers.ViTModel(
        transformers.ViTConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            image_size=16,
            patch_size=4,
        ),
        add_pooling_layer=False,
    )
    _peaked(hf)
    pixels = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected = hf(pixel_values=pixels).last_hidden_state
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(pixels)
        assert got.shape == (2, 17, 32) and _diff(got, expected) <= TOL
        to_hf(ours, tmp_path / "back", "vit")
        back = transformers.AutoModel.from_pretrained(tmp_path / "back").eval()
        assert _diff(back(pixel_values=pixels).last_hidden_state, got) <= TOL


def test_clip_two_towers_both_ways(tmp_path):
    from transformer_catalog.nn.dual import contrastive_loss

    torch.manual_seed(0)
    cfg = transformers.CLIPConfig(
        text_config=dict(
            vocab_size=100,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=16,
            eos_token_id=99,
            pad_token_id=1,
            bos_token_id=98,
        ),
        vision_config=dict(
            hidden_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=96,
            image_size=16,
            patch_size=4,
        ),
        projection_dim=24,
    )
    hf = _peaked(transformers.CLIPModel(cfg))
    ids = torch.randint(2, 98, (3, 10))
    ids[:, 0] = 98
    ids[torch.arange(3), torch.tensor([9, 6, 4])] = 99  # end-of-text at different places
    pixels = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        out = hf(input_ids=ids, pixel_values=pixels)
        ours = from_hf(_save(hf, tmp_path / "hf"))
        logits = ours(ids, pixels)
        assert _diff(logits, out.logits_per_image) <= TOL
        theirs_text = hf.get_text_features(input_ids=ids)
        theirs_text = getattr(theirs_text, "pooler_output", theirs_text)  # a tensor, or an output object in v5
        assert _diff(ours.encode_text(ids), theirs_text) <= TOL
        to_hf(ours, tmp_path / "back", "clip")
        back = transformers.AutoModel.from_pretrained(tmp_path / "back").eval()
        assert _diff(back(input_ids=ids, pixel_values=pixels).logits_per_image, logits) <= TOL
        assert (
            abs(contrastive_loss(logits).item() - hf(input_ids=ids, pixel_values=pixels, return_loss=True).loss.item())
            < 1e-5
        )

        # and through tcat's own checkpoint folders (safetensors + config.json with both towers)
        from transformer_catalog.train.checkpoint import load_model, save_checkpoint

        save_checkpoint(tmp_path / "tcat", ours, {})
        reloaded, _, _ = load_model(tmp_path / "tcat")
        assert torch.equal(reloaded(ids, pixels), logits)


def _switch(capacity=64, layers=2):
    torch.manual_seed(0)
    return _peaked(
        std=0.3,
        model=transformers.SwitchTransformersForConditionalGeneration(
            transformers.SwitchTransformersConfig(
                vocab_size=100,
                d_model=32,
                d_kv=8,
                d_ff=64,
                num_layers=layers,
                num_decoder_layers=layers,
                num_heads=4,
                num_experts=4,
                expert_capacity=capacity,
                num_sparse_encoder_layers=layers // 2,
                num_sparse_decoder_layers=layers // 2,
                relative_attention_num_buckets=8,
                relative_attention_max_distance=20,
                decoder_start_token_id=0,
                pad_token_id=0,
                eos_token_id=1,
                router_jitter_noise=0.0,
            )
        ),
    )


@pytest.mark.parametrize("capacity", [64, 2])
def test_switch_parity_both_ways(capacity, tmp_path):
    """Switch: experts in every other layer, top-1 routing scaled by the router probability; with
    capacity 2 most tokens overflow their expert and skip it, as in transformers."""
    hf = _switch(capacity, layers=4)
    src = torch.randint(2, 100, (2, 12))
    src[1, -3:] = 0
    tgt = torch.randint(2, 100, (2, 9))
    with torch.no_grad():
        expected = hf(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=tgt).logits
        ours = from_hf(_save(hf, tmp_path / "hf"))
        assert ours.config.moe.pattern == "DE" and ours.config.moe.capacity == capacity
        got = ours(src, tgt)
        assert _diff(got, expected) <= TOL
        to_hf(ours, tmp_path / "back", "switch_transformers")
        back = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "back").eval()
        again = back(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=tgt).logits
        assert _diff(again, got) <= TOL
        if capacity == 64:  # a binding capacity is counted per call, so only unlimited routing caches exactly
            start = torch.zeros(2, 1, dtype=torch.long)
            a = list(iter_tokens(ours, start, 8, src=src, use_cache=True))
            b = list(iter_tokens(ours, start, 8, src=src, use_cache=False))
            assert all(torch.equal(x[0], y[0]) and _diff(x[1], y[1]) <= TOL for x, y in zip(a, b))


@pytest.mark.parametrize("buckets", [8, -1])
def test_deberta_v2_disentangled_attention_both_ways(buckets, tmp_path):
    """DeBERTa-v2/v3: content-to-position and position-to-content logits, with log-bucketed offsets
    (sequence longer than the buckets) and without buckets (offsets clipped at max_relative_positions)."""
    torch.manual_seed(0)
    hf = transformers.DebertaV2Model(
        transformers.DebertaV2Config(
            vocab_size=100,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=64,
            type_vocab_size=0,
            relative_attention=True,
            position_biased_input=False,
            pos_att_type=["p2c", "c2p"],
            share_att_key=True,
            norm_rel_ebd="layer_norm",
            position_buckets=buckets,
            max_relative_positions=6 if buckets < 0 else 32,
            pad_token_id=0,
        )
    ).eval()
    ours = _encoder_both_ways(hf, "deberta-v2", tmp_path, pad_id=0)
    assert ours.config.position.kind == "disentangled"
