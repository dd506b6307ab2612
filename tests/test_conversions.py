"""Conversions that used to differ silently from transformers (issue 11, item 4): BART/mBART with
untied embeddings, RoBERTa/XLM-R on left-padded batches, and batched left-padded generation of
decoders; and Hugging Face folders whose config.json is damaged or asks for too much memory (item 5)."""

import json
import time

import pytest
import torch

transformers = pytest.importorskip("transformers")

from test_hf_parity import _gpt2, _llama  # noqa: E402
from test_hf_parity import _opt as _parity_opt  # noqa: E402

from transformer_catalog.errors import TcatError  # noqa: E402
from transformer_catalog.families import family_for_hf  # noqa: E402
from transformer_catalog.generate import beam_search, generate, iter_tokens  # noqa: E402
from transformer_catalog.interop import from_hf, to_hf  # noqa: E402
from transformer_catalog.interop.hf import check_fits_in_memory, estimate_bytes, model_bytes  # noqa: E402
from transformer_catalog.nn.config import AttentionConfig, ModelConfig, PositionConfig  # noqa: E402
from transformer_catalog.nn.model import build_model  # noqa: E402

TOL = 1e-5


def _save(hf_model, path):
    hf_model.eval().save_pretrained(path, safe_serialization=True)
    return path


# -- BART / mBART with tie_word_embeddings=False ------------------------------------------------------
def _seq2seq(kind, tied):
    cls = {
        "bart": (transformers.BartConfig, transformers.BartForConditionalGeneration),
        "mbart": (transformers.MBartConfig, transformers.MBartForConditionalGeneration),
        "pegasus": (transformers.PegasusConfig, transformers.PegasusForConditionalGeneration),
    }[kind]
    cfg = cls[0](
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
        tie_word_embeddings=tied,
    )
    return cls[1](cfg).eval()


@pytest.mark.parametrize("kind", ["bart", "mbart", "pegasus"])
def test_untied_bart_keeps_its_three_tables_both_ways(kind, tmp_path):
    torch.manual_seed(0)
    hf = _seq2seq(kind, tied=False)
    m = hf.model
    # three different tables: a converter that read only `shared` would be off everywhere
    assert not torch.equal(m.encoder.embed_tokens.weight, m.decoder.embed_tokens.weight)
    assert not torch.equal(m.decoder.embed_tokens.weight, hf.lm_head.weight)
    src = torch.randint(3, 100, (2, 9))
    src[1, -3:] = 1
    tgt = torch.randint(3, 100, (2, 6))
    mask = (src != 1).long()
    with torch.no_grad():
        expected = hf(input_ids=src, attention_mask=mask, decoder_input_ids=tgt).logits
        ours = from_hf(_save(hf, tmp_path / "hf"))
        assert not ours.config.embedding.share_src_tgt and not ours.config.embedding.tie_output
        got = ours(src, tgt)
        err = (got - expected).abs().max().item()
        assert err <= TOL, err

        hf.generation_config.eos_token_id = None
        theirs = hf.generate(
            input_ids=src, attention_mask=mask, max_new_tokens=8, do_sample=False, num_beams=1, min_length=0
        )[:, 1:]
        mine = generate(ours, torch.full((2, 1), 2), 8, src=src)
        assert torch.equal(mine, theirs)

        to_hf(ours, tmp_path / "back", kind)
        back = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "back").eval()
        assert not back.config.tie_word_embeddings
        again = back(input_ids=src, attention_mask=mask, decoder_input_ids=tgt).logits
        assert (again - got).abs().max().item() <= TOL


def test_bart_sharing_stacks_but_not_the_head_exports_both_tables(tmp_path):
    torch.manual_seed(0)
    tied = from_hf(_save(_seq2seq("bart", tied=True), tmp_path / "hf"))
    cfg = tied.config.replace(**{"embedding.tie_output": False})
    ours = build_model(cfg).eval()
    src, tgt = torch.randint(3, 100, (2, 7)), torch.randint(3, 100, (2, 5))
    to_hf(ours, tmp_path / "back", "bart")
    back = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "back").eval()
    with torch.no_grad():
        assert (back(input_ids=src, decoder_input_ids=tgt).logits - ours(src, tgt)).abs().max().item() <= TOL


def test_bart_head_tied_to_a_decoder_only_table_is_refused(tmp_path):
    tied = from_hf(_save(_seq2seq("bart", tied=True), tmp_path / "hf"))
    ours = build_model(tied.config.replace(**{"embedding.share_src_tgt": False}))
    with pytest.raises(TcatError, match="ties the output to one table"):
        to_hf(ours, tmp_path / "back", "bart")


# -- RoBERTa / XLM-R positions on left-padded batches ------------------------------------------------
@pytest.mark.parametrize("kind", ["roberta", "xlm-roberta"])
def test_roberta_left_padding_counts_positions_from_the_first_real_token(kind, tmp_path):
    torch.manual_seed(0)
    cls = {
        "roberta": (transformers.RobertaConfig, transformers.RobertaModel),
        "xlm-roberta": (transformers.XLMRobertaConfig, transformers.XLMRobertaModel),
    }[kind]
    hf = cls[1](
        cls[0](
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
    ids = torch.randint(3, 100, (3, 10))
    ids[1, :4] = 1  # left padded
    ids[2, :2] = 1
    ids[2, -2:] = 1  # and padded at both ends
    mask = (ids != 1).long()
    real = mask.bool()
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = from_hf(_save(hf, tmp_path / "hf"))
        assert ours.config.position.numbering == "real_tokens"
        got = ours(ids)
        err = (got - expected)[real].abs().max().item()
        assert err <= TOL, err
        # each left-padded row equals the same sentence alone
        alone = ours(ids[1:2, 4:])
        assert (alone[0] - got[1, 4:]).abs().max().item() <= TOL
        to_hf(ours, tmp_path / "back", kind)
        back = transformers.AutoModel.from_pretrained(tmp_path / "back").eval()
        assert (back(input_ids=ids, attention_mask=mask).last_hidden_state - got)[real].abs().max() <= TOL


def test_position_numbering_that_the_target_architecture_lacks_is_refused(tmp_path):
    hf = transformers.BertModel(
        transformers.BertConfig(
            vocab_size=100,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=64,
        ),
        add_pooling_layer=False,
    )
    bert = from_hf(_save(hf, tmp_path / "hf"))
    with pytest.raises(TcatError, match="export as roberta: positions numbered 'index'"):
        to_hf(bert, tmp_path / "r", "roberta")
    recount = build_model(bert.config.replace(**{"position.numbering": "real_tokens"}))
    with pytest.raises(TcatError, match="export as bert"):
        to_hf(recount, tmp_path / "b", "bert")


def test_mixtral_export_refuses_dense_layers_it_cannot_describe(tmp_path):
    """Mixtral's config.json says nothing of dense layers: a model with some would load as another model."""
    from transformer_catalog.families import family

    cfg = family("llama").config(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4
    )
    cfg = cfg.replace(moe={"n_experts": 4, "top_k": 2, "pattern": "DE"})
    with pytest.raises(TcatError, match=r"export as mixtral: every layer must have experts \(moe.pattern='DE'"):
        to_hf(build_model(cfg), tmp_path / "m", "mixtral")
    assert not (tmp_path / "m").exists()


# -- decoders: batched, left-padded greedy generation -----------------------------------------------
# the same tiny decoders as the parity tests; OPT with a pad id distinct from its bos/eos (2), so
# left padding is visible in its positions
def _opt():
    return _parity_opt(pad_token_id=1)


DECODERS = {"gpt2": _gpt2, "opt": _opt, "llama": _llama}


def _left_padded(pad):
    lengths = [7, 4, 2]
    ids = torch.full((3, 7), pad)
    keep = torch.zeros(3, 7, dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, 7 - n :] = torch.randint(3, 100, (n,))
        keep[row, 7 - n :] = 1
    return ids, keep


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_batched_left_padded_greedy_generation_matches_transformers(name, tmp_path):
    torch.manual_seed(0)
    hf = DECODERS[name]().eval()
    pad = hf.config.pad_token_id if hf.config.pad_token_id is not None else 0
    ids, keep = _left_padded(pad)
    hf.generation_config.eos_token_id = None  # all 10 steps for every row
    theirs = hf.generate(input_ids=ids, attention_mask=keep, max_new_tokens=10, do_sample=False, pad_token_id=pad)
    theirs = theirs[:, ids.size(1) :]
    ours = from_hf(_save(hf, tmp_path / "hf"))
    steps = list(iter_tokens(ours, ids, 10, keep=keep))
    mine = torch.stack([t for t, _ in steps], dim=1)
    assert torch.equal(mine, theirs), (mine, theirs)
    # the same without a KV cache, and each row alone (no padding) gives the same tokens
    assert torch.equal(generate(ours, ids, 10, keep=keep, use_cache=False), mine)
    for row in range(3):
        real = ids[row : row + 1, keep[row].bool()]
        assert torch.equal(generate(ours, real, 10)[0], mine[row])
    # logits of the first step agree with transformers' forward on the padded batch
    with torch.no_grad():
        positions = (keep.cumsum(-1) - 1).clamp(min=0)
        expected = hf(input_ids=ids, attention_mask=keep, position_ids=positions).logits[:, -1]
    assert (steps[0][1] - expected).abs().max().item() <= TOL


def test_beam_search_over_a_left_padded_batch_equals_each_prompt_alone(tmp_path):
    torch.manual_seed(0)
    ours = from_hf(_save(_gpt2(), tmp_path / "hf"))
    ids, keep = _left_padded(0)
    batched = beam_search(ours, ids, 6, beam_size=3, keep=keep)
    for row in range(3):
        alone = beam_search(ours, ids[row : row + 1, keep[row].bool()], 6, beam_size=3)
        assert batched[row] == alone[0]


def test_padding_mask_of_the_wrong_shape_is_one_line(tmp_path):
    ours = from_hf(_save(_gpt2(), tmp_path / "hf"))
    with pytest.raises(TcatError, match="padding mask has shape"):
        ours(torch.ones(2, 5, dtype=torch.long), keep=torch.ones(2, 4, dtype=torch.bool))


# -- damaged or oversized config.json ---------------------------------------------------------------
def _folder_with_config(tmp_path, text: bytes):
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_bytes(text)
    return folder


GPT2_CONFIG = {"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 4, "vocab_size": 100, "n_positions": 64}


@pytest.mark.parametrize(
    "text,message",
    [
        (json.dumps(GPT2_CONFIG)[:40].encode(), "unreadable JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
        (json.dumps({"model_type": "gpt2", "n_layer": 2}).encode(), "required field 'n_embd' is missing"),
        (json.dumps({**GPT2_CONFIG, "n_embd": "wide"}).encode(), "wrong type"),
        (json.dumps({**GPT2_CONFIG, "model_type": 7}).encode(), "model_type must be a string"),
    ],
)
def test_damaged_config_json_is_one_line(tmp_path, text, message):
    folder = _folder_with_config(tmp_path, text)
    with pytest.raises(TcatError, match=message) as err:
        from_hf(folder)
    assert "\n" not in str(err.value) and "config.json" in str(err.value)


def test_config_that_needs_more_memory_than_available_is_refused_before_allocating(tmp_path):
    # 2 layers, but a vocabulary and width whose tables alone need ~4 TB
    big = {
        "model_type": "llama",
        "hidden_size": 65536,
        "intermediate_size": 65536,
        "num_hidden_layers": 2,
        "num_attention_heads": 64,
        "vocab_size": 8_000_000,
        "max_position_embeddings": 64,
    }
    folder = _folder_with_config(tmp_path, json.dumps(big).encode())  # no weights: refused before reading them
    with pytest.raises(TcatError, match=r"needs \d+\.\d GiB for its weights, more than the") as err:
        from_hf(folder)
    assert "\n" not in str(err.value)
    # position tables count too: rotary tables of a long max_position_embeddings are buffers
    cfg = ModelConfig(
        arch="decoder",
        d_model=64,
        n_encoder_layers=0,
        n_decoder_layers=1,
        attention=AttentionConfig(n_heads=4),
        position=PositionConfig(kind="rope", max_len=10**6),
    )
    need = estimate_bytes(cfg)
    assert need >= 2 * 10**6 * 16 * 4  # cos and sin, (max_len, head_dim) fp32
    check_fits_in_memory(need, "x", available=10**9)
    with pytest.raises(TcatError, match="x: the model needs 0.1 GiB"):
        check_fits_in_memory(need, "x", available=1000)


def test_a_million_layers_are_estimated_without_building_them(tmp_path):
    deep = {
        "model_type": "gpt2",
        "n_layer": 1_000_000,
        "n_embd": 256,
        "n_head": 4,
        "vocab_size": 100,
        "n_positions": 64,
    }
    folder = _folder_with_config(tmp_path, json.dumps(deep).encode())
    start = time.perf_counter()
    # 1M layers x 789,760 parameters x 4 bytes (+ the embeddings) = 2942.1 GiB
    with pytest.raises(TcatError, match=r"needs 2942\.1 GiB"):
        from_hf(folder)
    assert time.perf_counter() - start < 20


@pytest.mark.parametrize(
    "cfg",
    [
        dict(model_type="gpt2", n_layer=7, n_embd=32, n_head=4, vocab_size=100, n_positions=64),
        dict(
            model_type="mixtral",
            hidden_size=32,
            intermediate_size=48,
            num_hidden_layers=5,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=100,
            num_local_experts=4,
            num_experts_per_tok=2,
            max_position_embeddings=64,
        ),
        dict(
            model_type="t5",
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=6,
            num_decoder_layers=4,
            num_heads=4,
            vocab_size=100,
        ),
        dict(
            model_type="switch_transformers",
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=6,
            num_decoder_layers=5,
            num_heads=4,
            vocab_size=100,
            num_experts=4,
            num_sparse_encoder_layers=3,
            num_sparse_decoder_layers=2,
        ),
    ],
)
def test_extrapolated_memory_estimate_equals_the_full_build(cfg):
    config = family_for_hf(cfg["model_type"]).config_from_hf(cfg)
    assert estimate_bytes(config) == model_bytes(build_model(config, device="meta"))


def test_to_hf_never_writes_into_a_foreign_folder_or_through_a_link(tmp_path):
    ours = from_hf(_save(_gpt2(), tmp_path / "hf"))
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    with pytest.raises(TcatError, match="non-empty folder tcat did not create"):
        to_hf(ours, foreign, "gpt2")
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]
    out = to_hf(ours, tmp_path / "out", "gpt2")
    to_hf(ours, out, "gpt2")  # a folder tcat wrote may be rewritten
    target = tmp_path / "target.json"
    target.write_text("{}")
    (out / "config.json").unlink()
    (out / "config.json").symlink_to(target)
    with pytest.raises(TcatError, match="config.json"):
        to_hf(ours, out, "gpt2")
    assert target.read_text() == "{}"
    to_hf(ours, foreign, "gpt2", force=True)  # asked for: written beside the user's file, which stays
    assert (foreign / "thesis.tex").read_text() == "mine" and (foreign / "model.safetensors").is_file()


@pytest.mark.parametrize(
    "index,message",
    [
        (b'{"weight_map": ', "not a safetensors index"),
        (b'{"metadata": {}}', "not a safetensors index"),
        (b'{"weight_map": {"a": "../../etc/passwd"}}', "is not a file name in this folder"),
    ],
)
def test_damaged_shard_index_is_one_line(tmp_path, index, message):
    folder = _folder_with_config(tmp_path, json.dumps(GPT2_CONFIG).encode())
    (folder / "model.safetensors.index.json").write_bytes(index)
    with pytest.raises(TcatError, match=message) as err:
        from_hf(folder)
    assert "\n" not in str(err.value)
