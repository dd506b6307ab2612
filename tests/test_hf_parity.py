"""Hugging Face parity, both ways, without downloads: build a tiny random transformers model from
its config class, convert it with the production converter, match logits; export ours back to a
Hugging Face folder, load it with transformers, match again."""

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

from transformer_catalog.errors import TcatError  # noqa: E402
from transformer_catalog.generate import iter_tokens  # noqa: E402
from transformer_catalog.interop import from_hf, to_hf  # noqa: E402

TOL = 1e-4


def _gpt2():
    return transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_layer=2, n_embd=32, n_head=4, vocab_size=100, n_positions=64, bos_token_id=0, eos_token_id=0))


def _llama(**kw):
    cfg = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, vocab_size=100, max_position_embeddings=64, bos_token_id=0, eos_token_id=0,
               pad_token_id=0)
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(**{**cfg, **kw}))


def _mistral(window=None):
    return transformers.MistralForCausalLM(transformers.MistralConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
        vocab_size=100, max_position_embeddings=64, sliding_window=window, bos_token_id=0, eos_token_id=0))


def _bert():
    return transformers.BertModel(transformers.BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64), add_pooling_layer=False)


def _opt(**kw):
    return transformers.OPTForCausalLM(transformers.OPTConfig(**{**dict(
        hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4, vocab_size=100,
        max_position_embeddings=64, word_embed_proj_dim=32, bos_token_id=2, eos_token_id=2), **kw}))


def _neox():
    return transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, vocab_size=100,
        max_position_embeddings=64, bos_token_id=0, eos_token_id=0))


def _bloom(heads=4):
    return transformers.BloomForCausalLM(transformers.BloomConfig(
        hidden_size=48, n_layer=2, n_head=heads, vocab_size=100, bos_token_id=0, eos_token_id=0, pad_token_id=3))


def _openai_gpt():
    return transformers.OpenAIGPTLMHeadModel(transformers.OpenAIGPTConfig(
        vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64))


def _gpt_neo():
    return transformers.GPTNeoForCausalLM(transformers.GPTNeoConfig(
        vocab_size=100, hidden_size=32, num_layers=4, num_heads=4, attention_types=[[["global", "local"], 2]], window_size=4,
        max_position_embeddings=64, bos_token_id=0, eos_token_id=0))


def _mixtral(layers=2):
    return transformers.MixtralForCausalLM(transformers.MixtralConfig(
        hidden_size=32, intermediate_size=48, num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        vocab_size=100, num_local_experts=4, num_experts_per_tok=2, max_position_embeddings=64, sliding_window=None,
        bos_token_id=0, eos_token_id=0, router_aux_loss_coef=0.02))


def _gptj():
    return transformers.GPTJForCausalLM(transformers.GPTJConfig(
        vocab_size=100, n_embd=64, n_layer=2, n_head=4, rotary_dim=8, n_positions=64, bos_token_id=0, eos_token_id=0))


CAUSAL = {"mixtral": _mixtral, "gptj": _gptj, "gpt_neo": _gpt_neo, "openai-gpt": _openai_gpt, "bloom": _bloom, "bloom-6-heads": lambda: _bloom(6), "gpt2": _gpt2, "opt": _opt, "opt-post-norm": lambda: _opt(do_layer_norm_before=False), "gpt_neox": _neox, "llama": _llama, "llama-tied-mqa": lambda: _llama(tie_word_embeddings=True,
                                                                           num_key_value_heads=1),
          "llama-rope-theta": lambda: _llama(rope_theta=500000.0), "mistral": _mistral,
          "llama-rope-linear": lambda: _llama(rope_scaling={"rope_type": "linear", "factor": 4.0}),
          "llama3-rope": lambda: _llama(max_position_embeddings=256, rope_theta=500000.0, rope_scaling={
              "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
              "original_max_position_embeddings": 16}),
          "mistral-sliding-window": lambda: _mistral(window=5)}
EXPORT_AS = {"mixtral": "mixtral", "gptj": "gptj", "gpt_neo": "gpt_neo", "openai-gpt": "openai-gpt", "bloom": "bloom", "bloom-6-heads": "bloom", "opt": "opt", "opt-post-norm": "opt", "gpt_neox": "gpt_neox", "gpt2": "gpt2", "llama": "llama", "llama-tied-mqa": "llama", "llama-rope-theta": "llama", "llama-rope-linear": "llama", "llama3-rope": "llama",
             "mistral": "llama", "mistral-sliding-window": "mistral"}


def _save(hf_model, path):
    hf_model.eval().save_pretrained(path, safe_serialization=True)
    return path


@pytest.mark.parametrize("name", sorted(CAUSAL))
def test_causal_lm_parity_both_ways(name, tmp_path):
    torch.manual_seed(0)
    hf = CAUSAL[name]().eval()
    ids = torch.randint(1, 100, (2, 12))
    with torch.no_grad():
        expected = hf(ids).logits
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(ids)
        assert (got - expected).abs().max().item() <= TOL

        to_hf(ours, tmp_path / "back", EXPORT_AS[name])
        back = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "back").eval()
        assert (back(ids).logits - got).abs().max().item() <= TOL


@pytest.mark.parametrize("name", ["gpt2", "llama", "opt", "gpt_neox", "mistral-sliding-window", "bloom", "gpt_neo", "gptj", "mixtral"])
def test_converted_models_cache_equals_recomputation(name, tmp_path):
    ours = from_hf(_save(CAUSAL[name](), tmp_path / "hf"))
    start = torch.randint(1, 100, (2, 5))
    a = list(iter_tokens(ours, start, 10, use_cache=True))
    b = list(iter_tokens(ours, start, 10, use_cache=False))
    for (t1, l1), (t2, l2) in zip(a, b):
        assert torch.equal(t1, t2) and (l1 - l2).abs().max().item() <= 1e-5


def test_greedy_tokens_match_transformers_generate(tmp_path):
    hf = _llama().eval()
    ours = from_hf(_save(hf, tmp_path / "hf"))
    start = torch.randint(1, 100, (1, 6))
    hf.generation_config.eos_token_id = None  # run the full 12 steps, as ours does without eos_id
    theirs = hf.generate(start, max_new_tokens=12, do_sample=False)[0, 6:].tolist()
    mine = [t.item() for t, _ in iter_tokens(ours, start, 12)]
    assert mine == theirs


def test_bert_parity_both_ways_with_padding(tmp_path):
    torch.manual_seed(0)
    hf = _bert().eval()
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
        assert (got - expected)[real].abs().max().item() <= TOL
        # Padding must not change the real tokens: the padded row equals the row run alone.
        alone = ours(ids[1:2, :6], token_types=types[1:2, :6])
        assert (alone[0] - got[1, :6]).abs().max().item() <= 1e-5

        to_hf(ours, tmp_path / "back", "bert")
        back = transformers.AutoModel.from_pretrained(tmp_path / "back").eval()
        again = back(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        assert (again - got)[real].abs().max().item() <= TOL


def test_bert_masked_lm_checkpoint_loads_its_encoder(tmp_path):
    hf = transformers.BertForMaskedLM(transformers.BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)).eval()
    ids = torch.randint(1, 100, (1, 8))
    with torch.no_grad():
        expected = hf.bert(ids).last_hidden_state
        got = from_hf(_save(hf, tmp_path / "hf"))(ids)
    assert (got - expected).abs().max().item() <= TOL


def test_unsupported_architecture_and_pickles_are_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "config.json").write_text(json.dumps({"model_type": "xlnet"}))
    with pytest.raises(TcatError, match="unsupported Hugging Face architecture 'xlnet'"):
        from_hf(tmp_path / "x")
    hf = _gpt2()
    hf.save_pretrained(tmp_path / "pkl", safe_serialization=False)
    (tmp_path / "pkl" / "model.safetensors").unlink(missing_ok=True)
    if (tmp_path / "pkl" / "pytorch_model.bin").exists():
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
    cfg["rope_parameters"] = {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0}
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(TcatError, match="rope_type='yarn' is not supported"):
        from_hf(path)


SEQ2SEQ = {"bart": transformers.BartConfig, "mbart": transformers.MBartConfig, "pegasus": transformers.PegasusConfig}


@pytest.mark.parametrize("name", sorted(SEQ2SEQ))
def test_encoder_decoder_parity_both_ways(name, tmp_path):
    torch.manual_seed(0)
    cfg = SEQ2SEQ[name](d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, vocab_size=100,
                        max_position_embeddings=64, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                        decoder_start_token_id=2, forced_eos_token_id=None)
    hf = transformers.AutoModelForSeq2SeqLM.from_config(cfg).eval()
    src = torch.randint(3, 100, (2, 11))
    src[1, -3:] = 1  # padded source
    tgt = torch.randint(3, 100, (2, 7))
    with torch.no_grad():
        expected = hf(input_ids=src, attention_mask=(src != 1).long(), decoder_input_ids=tgt).logits
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(src, tgt)
        assert (got - expected).abs().max().item() <= TOL

        to_hf(ours, tmp_path / "back", name)
        back = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "back").eval()
        again = back(input_ids=src, attention_mask=(src != 1).long(), decoder_input_ids=tgt).logits
        assert (again - got).abs().max().item() <= TOL

        start = torch.full((2, 1), 2)
        a = list(iter_tokens(ours, start, 8, src=src, use_cache=True))
        b = list(iter_tokens(ours, start, 8, src=src, use_cache=False))
        assert all(torch.equal(x[0], y[0]) and (x[1] - y[1]).abs().max() <= 1e-5 for x, y in zip(a, b))


def _encoder_both_ways(hf, model_type, tmp_path, pad_id):
    """An encoder's hidden states on a right-padded batch, converted in and exported back out;
    returns our model."""
    ids = torch.randint(3, 100, (2, 10))
    mask = torch.ones_like(ids)
    ids[1, 7:], mask[1, 7:] = pad_id, 0
    real = mask.bool()
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(ids)
        assert (got - expected)[real].abs().max().item() <= TOL
        to_hf(ours, tmp_path / "back", model_type)
        back = transformers.AutoModel.from_pretrained(tmp_path / "back").eval()
        assert (back(input_ids=ids, attention_mask=mask).last_hidden_state - got)[real].abs().max() <= TOL
    return ours


def test_roberta_positions_start_after_padding(tmp_path):
    hf = transformers.RobertaModel(transformers.RobertaConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=66, type_vocab_size=1, pad_token_id=1), add_pooling_layer=False).eval()
    _encoder_both_ways(hf, "roberta", tmp_path, pad_id=1)


@pytest.mark.parametrize("ffn,tied", [("relu", True), ("gated-gelu", False)])
def test_t5_parity_both_ways(ffn, tied, tmp_path):
    """T5 v1.0 (ReLU, tied head rescaled by d_model^-0.5) and v1.1/Flan (GEGLU, untied head), with
    head size independent of width, relative position buckets and the cached decoder."""
    torch.manual_seed(0)
    cfg = transformers.T5Config(vocab_size=100, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_decoder_layers=2,
                                num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=20,
                                feed_forward_proj=ffn, tie_word_embeddings=tied, decoder_start_token_id=0,
                                pad_token_id=0, eos_token_id=1)
    hf = transformers.T5ForConditionalGeneration(cfg).eval()
    src = torch.randint(2, 100, (2, 25))  # longer than max_distance: exercises the log buckets
    src[1, -5:] = 0
    tgt = torch.randint(2, 100, (2, 9))
    with torch.no_grad():
        expected = hf(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=tgt).logits
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(src, tgt)
        assert (got - expected).abs().max().item() <= TOL
        to_hf(ours, tmp_path / "back", "t5")
        back = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "back").eval()
        again = back(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=tgt).logits
        assert (again - got).abs().max().item() <= TOL
        start = torch.zeros(2, 1, dtype=torch.long)
        a = list(iter_tokens(ours, start, 10, src=src, use_cache=True))
        b = list(iter_tokens(ours, start, 10, src=src, use_cache=False))
        assert all(torch.equal(x[0], y[0]) and (x[1] - y[1]).abs().max() <= 1e-5 for x, y in zip(a, b))
        hf.generation_config.eos_token_id = None
        theirs = hf.generate(src, attention_mask=(src != 0).long(), max_new_tokens=8, do_sample=False)[:, 1:].tolist()
        mine = torch.stack([t for t, _ in iter_tokens(ours, start, 8, src=src)], 1).tolist()
        assert mine == theirs


def test_mixtral_load_balancing_loss_matches_transformers(tmp_path):
    hf = _mixtral(layers=1).eval()  # one layer: HF pools statistics across layers, we average per layer
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
    common = dict(vocab_size=100, embedding_size=16, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                  intermediate_size=64, max_position_embeddings=64)
    if kind == "albert":
        hf = transformers.AlbertModel(transformers.AlbertConfig(**common), add_pooling_layer=False).eval()
    else:
        hf = transformers.ElectraModel(transformers.ElectraConfig(**common)).eval()
    ours = _encoder_both_ways(hf, kind, tmp_path, pad_id=0)
    if kind == "albert":
        assert len(ours.encoder.blocks) == 1 and ours.encoder.n_layers == 3


def test_distilbert_both_ways(tmp_path):
    hf = transformers.DistilBertModel(transformers.DistilBertConfig(
        vocab_size=100, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64)).eval()
    _encoder_both_ways(hf, "distilbert", tmp_path, pad_id=0)


def test_vit_both_ways(tmp_path):
    torch.manual_seed(0)
    hf = transformers.ViTModel(transformers.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                      intermediate_size=64, image_size=16, patch_size=4),
                               add_pooling_layer=False).eval()
    pixels = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected = hf(pixel_values=pixels).last_hidden_state
        ours = from_hf(_save(hf, tmp_path / "hf"))
        got = ours(pixels)
        assert got.shape == (2, 17, 32) and (got - expected).abs().max().item() <= TOL
        to_hf(ours, tmp_path / "back", "vit")
        back = transformers.AutoModel.from_pretrained(tmp_path / "back").eval()
        assert (back(pixel_values=pixels).last_hidden_state - got).abs().max().item() <= TOL


def test_clip_two_towers_both_ways(tmp_path):
    from transformer_catalog.nn.dual import contrastive_loss

    torch.manual_seed(0)
    cfg = transformers.CLIPConfig(
        text_config=dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                         max_position_embeddings=16, eos_token_id=99, pad_token_id=1, bos_token_id=98),
        vision_config=dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96, image_size=16,
                           patch_size=4), projection_dim=24)
    hf = transformers.CLIPModel(cfg).eval()
    ids = torch.randint(2, 98, (3, 10))
    ids[:, 0] = 98
    ids[torch.arange(3), torch.tensor([9, 6, 4])] = 99  # end-of-text at different places
    pixels = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        out = hf(input_ids=ids, pixel_values=pixels)
        ours = from_hf(_save(hf, tmp_path / "hf"))
        logits = ours(ids, pixels)
        assert (logits - out.logits_per_image).abs().max().item() <= TOL
        theirs_text = hf.get_text_features(input_ids=ids)
        theirs_text = getattr(theirs_text, "pooler_output", theirs_text)  # a tensor, or an output object in v5
        assert (ours.encode_text(ids) - theirs_text).abs().max() <= TOL
        to_hf(ours, tmp_path / "back", "clip")
        back = transformers.AutoModel.from_pretrained(tmp_path / "back").eval()
        assert (back(input_ids=ids, pixel_values=pixels).logits_per_image - logits).abs().max().item() <= TOL
        assert abs(contrastive_loss(logits).item() - hf(input_ids=ids, pixel_values=pixels, return_loss=True).loss.item()) < 1e-5

        # and through tcat's own checkpoint folders (safetensors + config.json with both towers)
        from transformer_catalog.train.checkpoint import load_model, save_checkpoint

        save_checkpoint(tmp_path / "tcat", ours, {})
        reloaded, _, _ = load_model(tmp_path / "tcat")
        assert torch.equal(reloaded(ids, pixels), logits)


def _switch(capacity=64, layers=2):
    torch.manual_seed(0)
    return transformers.SwitchTransformersForConditionalGeneration(transformers.SwitchTransformersConfig(
        vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=layers, num_decoder_layers=layers, num_heads=4,
        num_experts=4, expert_capacity=capacity, num_sparse_encoder_layers=layers // 2,
        num_sparse_decoder_layers=layers // 2, relative_attention_num_buckets=8, relative_attention_max_distance=20,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, router_jitter_noise=0.0)).eval()


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
        assert (got - expected).abs().max().item() <= TOL
        to_hf(ours, tmp_path / "back", "switch_transformers")
        back = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "back").eval()
        again = back(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=tgt).logits
        assert (again - got).abs().max().item() <= TOL
        if capacity == 64:  # a binding capacity is counted per call, so only unlimited routing caches exactly
            start = torch.zeros(2, 1, dtype=torch.long)
            a = list(iter_tokens(ours, start, 8, src=src, use_cache=True))
            b = list(iter_tokens(ours, start, 8, src=src, use_cache=False))
            assert all(torch.equal(x[0], y[0]) and (x[1] - y[1]).abs().max() <= 1e-5 for x, y in zip(a, b))


@pytest.mark.parametrize("buckets", [8, -1])
def test_deberta_v2_disentangled_attention_both_ways(buckets, tmp_path):
    """DeBERTa-v2/v3: content-to-position and position-to-content logits, with log-bucketed offsets
    (sequence longer than the buckets) and without buckets (offsets clipped at max_relative_positions)."""
    torch.manual_seed(0)
    hf = transformers.DebertaV2Model(transformers.DebertaV2Config(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64, type_vocab_size=0, relative_attention=True, position_biased_input=False,
        pos_att_type=["p2c", "c2p"], share_att_key=True, norm_rel_ebd="layer_norm", position_buckets=buckets,
        max_relative_positions=6 if buckets < 0 else 32, pad_token_id=0)).eval()
    ours = _encoder_both_ways(hf, "deberta-v2", tmp_path, pad_id=0)
    assert ours.config.position.kind == "disentangled"
