"""Hook points (nn/hooks.py): every family caches every named activation without changing its output;
hooks read and replace; unused hooks keep the SDPA path; attention patterns and hidden states equal
transformers' output_attentions / output_hidden_states (tiny models from config classes, eager
attention, and the real all-MiniLM-L6-v2 weights)."""

import pytest
import torch

from transformer_catalog.catalog.specs import resolve
from transformer_catalog.errors import TcatError
from transformer_catalog.nn import attention
from transformer_catalog.nn.hooks import hidden_state_names, hook_names, hooks, run_with_cache
from transformer_catalog.nn.model import build_model

# one catalog entry per position scheme, architecture and block variant the core builds
FAMILIES = [
    "GPT-2",  # learned positions, decoder
    "LLaMA",  # RoPE, RMSNorm, gated FFN
    "Mistral 7B",  # GQA, sliding window
    "BLOOM",  # ALiBi
    "T5",  # relative buckets, encoder-decoder
    "BART",  # encoder-decoder, post-norm
    "Transformer",  # the paper's, sinusoidal
    "BERT",  # encoder
    "DeBERTa",  # disentangled attention
    "ALBERT",  # shared layers, factorised embeddings
    "GPT-J",  # parallel residual
    "Mixtral 8x7B",  # mixture of experts
    "Transformer-XL",  # relative sinusoids with u, v
    "ViT",  # image patches
]


def _model_and_inputs(name):
    cfg = resolve(name, scale="tiny").config
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    g = torch.Generator().manual_seed(1)
    if cfg.vision:
        v = cfg.vision
        return model, torch.randn(2, v.channels, v.image_size, v.image_size, generator=g)
    if cfg.arch == "encoder-decoder":
        return model, (torch.randint(3, 100, (2, 9), generator=g), torch.randint(3, 100, (2, 7), generator=g))
    return model, torch.randint(3, 100, (2, 9), generator=g)


def _run(model, inputs):
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_caches_every_hook_point_and_keeps_its_output(name):
    model, inputs = _model_and_inputs(name)
    with torch.no_grad():
        plain = _run(model, inputs)
        out, cache = run_with_cache(model, inputs)
    names = hook_names(model)
    assert list(cache) == names  # every point fired, in the documented (execution) order
    assert (out - plain).abs().max().item() <= 1e-5  # eager attention and per-head results change nothing
    assert all(getattr(m, "hooks", None) is None for m in model.modules())  # removed afterwards
    for n, x in cache.items():
        if n.endswith("hook_pattern"):
            assert torch.allclose(x.sum(-1), torch.ones(()), atol=1e-5), n
        if n.endswith("attn.hook_result"):  # the heads' shares add up to the attention output
            layer, _, scope = n.rpartition(".hook_result")[0].rpartition(".")
            bias = _attn(model, n).out_proj.bias
            total = x.sum(1) + (0 if bias is None else bias)
            assert torch.allclose(total, cache[f"{layer}.hook_{scope}_out"], atol=1e-5), n
    d = model.config.d_model
    assert cache[names[0]].shape[-1] == d and cache[names[0]].shape[0] == 2


def _attn(model, name):
    """The attention module a per-head hook name belongs to."""
    stack_prefix, _, rest = name.partition("blocks.")
    stack = getattr(model, stack_prefix.rstrip(".") or ("decoder" if hasattr(model, "decoder") else "encoder"))
    layer = int(rest.split(".")[0])
    block = list(stack.blocks)[layer % len(stack.blocks)]
    return block.cross_attn if ".cross_attn." in name else block.self_attn


def test_shared_layers_are_named_per_application():
    """ALBERT applies one block n times: each application has its own names and values."""
    model, ids = _model_and_inputs("ALBERT")
    assert len(model.encoder.blocks) == 1 and model.encoder.n_layers == 2
    _, cache = run_with_cache(model, ids, names=["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"])
    assert not torch.allclose(cache["blocks.0.hook_resid_post"], cache["blocks.1.hook_resid_post"])


def test_replacing_an_activation_changes_the_output_and_identity_does_not():
    model, ids = _model_and_inputs("GPT-2")
    with torch.no_grad():
        plain = model(ids)
        with hooks(model, {"blocks.0.hook_resid_post": lambda x, n: x.clone()}):
            same = model(ids)
        with hooks(model, {"blocks.0.hook_resid_post": lambda x, n: torch.zeros_like(x)}):
            zeroed = model(ids)
        with hooks(model, {"blocks.1.attn.hook_pattern": lambda x, n: torch.full_like(x, 1 / x.size(-1))}):
            uniform = model(ids)
    assert torch.equal(same, plain)
    assert (zeroed - plain).abs().max() > 1e-2
    assert (uniform - plain).abs().max() > 1e-3
    # a read-only hook returns None and changes nothing; a replacement of the wrong shape is refused
    seen = []
    with hooks(model, {"hook_logits": lambda x, n: seen.append(n)}):
        assert torch.equal(model(ids), plain)
    assert seen == ["hook_logits"]
    with pytest.raises(TcatError, match=r"hook on blocks.0.hook_resid_post returned \[2, 8, 64\]; .* \[2, 9, 64\]"):
        with hooks(model, {"blocks.0.hook_resid_post": lambda x, n: x[:, 1:]}):
            model(ids)


# a plain MLP, a gated one, a mixture of experts: between them every kind of hook point
REPLACEABLE = [(f, n) for f in ("GPT-2", "LLaMA", "Mixtral 8x7B") for n in hook_names(_model_and_inputs(f)[0])]


@pytest.mark.parametrize("family, name", REPLACEABLE)
def test_every_hook_point_can_be_replaced_and_cached_alone(family, name):
    """A replacement at any point reaches the output (none is computed and then ignored), and a
    cache of that one name holds it: a scores-only hook too, which needs eager attention."""
    model, ids = _model_and_inputs(family)
    g = torch.Generator().manual_seed(2)

    def perturb(x, n):  # a random factor in [1, 1.5) per element: masked (-inf) scores stay masked
        return x * (1 + 0.5 * torch.rand(x.shape, generator=g))

    with torch.no_grad():
        plain = model(ids)
        with hooks(model, {name: perturb}):
            changed = model(ids)
        out, cache = run_with_cache(model, ids, names=[name])
    assert (changed - plain).abs().max() > 1e-4, name
    assert list(cache) == [name] and cache[name].shape[0] == 2
    assert (out - plain).abs().max() <= 1e-5


def test_replacing_keys_and_queries_of_a_cross_attention():
    model, (src, tgt) = _model_and_inputs("BART")
    with torch.no_grad():
        plain = model(src, tgt)
        with hooks(model, {"decoder.blocks.1.cross_attn.hook_v": lambda x, n: torch.zeros_like(x)}):
            changed = model(src, tgt)
    assert (changed - plain).abs().max() > 1e-3


def test_unknown_names_are_refused_with_the_valid_ones():
    model, ids = _model_and_inputs("GPT-2")
    with pytest.raises(TcatError, match=r"no hook point 'blocks.2.attn.hook_q' in this model; valid: hook_embed, "):
        run_with_cache(model, ids, names=["blocks.2.attn.hook_q"])
    with pytest.raises(TcatError, match=r"blocks.\{0..1\}.attn.hook_pattern"):
        with hooks(model, {"blocks.0.attn.hook_patern": lambda x, n: None}):
            pass
    assert all(getattr(m, "hooks", None) is None for m in model.modules())  # nothing was installed


def test_hooks_nest_and_leave_nothing_behind():
    model, ids = _model_and_inputs("LLaMA")
    calls = []
    with hooks(model, {"blocks.0.hook_resid_pre": lambda x, n: calls.append("outer")}):
        _, cache = run_with_cache(model, ids, names=["blocks.0.hook_resid_pre"])
        model(ids)
    assert calls == ["outer", "outer"] and "blocks.0.hook_resid_pre" in cache
    assert all(getattr(m, "hooks", None) is None for m in model.modules())


def test_sdpa_stays_unless_scores_or_pattern_are_hooked(monkeypatch):
    """Zero cost when unused: no hook, or hooks elsewhere, never reach eager attention; a pattern
    hook makes only its own layer eager."""
    model, ids = _model_and_inputs("GPT-2")
    calls = []
    real = attention.eager_attention
    monkeypatch.setattr(attention, "eager_attention", lambda *a, **k: calls.append(1) or real(*a, **k))
    model(ids)
    run_with_cache(model, ids, names=lambda n: "pattern" not in n and "scores" not in n)
    assert calls == []
    run_with_cache(model, ids, names=["blocks.1.attn.hook_pattern"])
    assert calls == [1]
    _, cache = run_with_cache(model, ids, names=["blocks.0.attn.hook_attn_scores"])  # scores alone: eager too
    assert calls == [1, 1] and list(cache) == ["blocks.0.attn.hook_attn_scores"]


def test_hooks_fire_through_the_kv_cache():
    from transformer_catalog.generate import iter_tokens

    model, ids = _model_and_inputs("LLaMA")
    shapes = []
    with hooks(model, {"blocks.0.attn.hook_pattern": lambda x, n: shapes.append(tuple(x.shape[-2:]))}):
        list(iter_tokens(model, ids[:1, :4], 3))
    assert shapes == [(4, 4), (1, 5), (1, 6)]  # the prompt, then one query over every cached key


# -- parity with transformers --------------------------------------------------------------------------
transformers = pytest.importorskip("transformers")


def _hf(kind):
    from test_hf_parity import _bert, _gpt2, _llama, _peaked, _seq2seq_config

    torch.manual_seed(0)
    hf = {
        "gpt2": _gpt2,
        "llama": _llama,
        "bert": _bert,
        "bart": lambda: transformers.AutoModelForSeq2SeqLM.from_config(_seq2seq_config("bart")),
    }[kind]()
    hf.config._attn_implementation = "eager"  # the SDPA path returns no attention weights
    return _peaked(hf)


def _max_diffs(ours_cache, model, theirs_hidden, theirs_attn, stack=""):
    """(max |pattern difference|, max |hidden difference| / max |hidden|) over the stack's layers."""
    scope = "cross_attn" if stack == "cross." else "attn"
    stack = "decoder." if stack == "cross." else stack
    mine_hidden = [ours_cache[n] for n in hidden_state_names(model, stack)]
    mine_attn = [ours_cache[n] for n in ours_cache if n.startswith(stack + "blocks.") and f".{scope}.hook_pattern" in n]
    assert len(mine_hidden) == len(theirs_hidden) and len(mine_attn) == len(theirs_attn)
    p = max((a - b).abs().max().item() for a, b in zip(mine_attn, theirs_attn))
    h = max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(mine_hidden, theirs_hidden))
    return p, h


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
def test_patterns_and_hidden_states_equal_transformers(kind, tmp_path):
    from transformer_catalog.interop import from_hf

    hf = _hf(kind)
    hf.eval().save_pretrained(tmp_path / "hf", safe_serialization=True)
    ours = from_hf(tmp_path / "hf")
    ids = torch.randint(3, 100, (2, 12))
    with torch.no_grad():
        theirs = hf(ids, output_attentions=True, output_hidden_states=True)
        _, cache = run_with_cache(ours, ids)
    p, h = _max_diffs(cache, ours, theirs.hidden_states, theirs.attentions)
    assert p <= 1e-5 and h <= 1e-5, (p, h)


def test_encoder_decoder_patterns_and_hidden_states_equal_transformers(tmp_path):
    from transformer_catalog.interop import from_hf

    hf = _hf("bart")
    hf.eval().save_pretrained(tmp_path / "hf", safe_serialization=True)
    ours = from_hf(tmp_path / "hf")
    src, tgt = torch.randint(3, 100, (2, 11)), torch.randint(3, 100, (2, 7))
    with torch.no_grad():
        t = hf(input_ids=src, decoder_input_ids=tgt, output_attentions=True, output_hidden_states=True)
        _, cache = run_with_cache(ours, (src, tgt))
    for stack, hidden, attn in [
        ("encoder.", t.encoder_hidden_states, t.encoder_attentions),
        ("decoder.", t.decoder_hidden_states, t.decoder_attentions),
        ("cross.", t.decoder_hidden_states, t.cross_attentions),
    ]:
        p, h = _max_diffs(cache, ours, hidden, attn, stack)
        assert p <= 1e-5 and h <= 1e-5, (stack, p, h)


def test_minilm_real_weights_patterns_and_hidden_states_equal_transformers():
    from transformer_catalog.interop import from_hf
    from transformer_catalog.train.pretrained import minilm_folder

    try:
        folder = minilm_folder()
    except TcatError as e:
        pytest.skip(str(e))
    hf = transformers.AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    ours = from_hf(folder)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    batch = tok(["The LORD is my shepherd; I shall not want.", "Attention is all you need."], padding=True)
    ids, mask = torch.tensor(batch["input_ids"]), torch.tensor(batch["attention_mask"])
    with torch.no_grad():
        theirs = hf(input_ids=ids, attention_mask=mask, output_attentions=True, output_hidden_states=True)
        _, cache = run_with_cache(ours, {"ids": ids, "keep": mask.bool()})
    real = mask.bool()
    names = hidden_state_names(ours)
    assert len(names) == 7 == len(theirs.hidden_states)
    for n, b in zip(names, theirs.hidden_states):
        assert (cache[n][real] - b[real]).abs().max() <= 1e-5 * b[real].abs().max(), n
    patterns = [cache[f"blocks.{i}.attn.hook_pattern"] for i in range(6)]
    for a, b in zip(patterns, theirs.attentions):
        rows = real[:, None, :, None].expand_as(a)  # queries that are real tokens
        assert (a[rows] - b[rows]).abs().max() <= 1e-5


@pytest.mark.parametrize("parallel", [False, True])
def test_attention_only_blocks_have_no_feed_forward(parallel):
    """ffn.d_ff = 0 builds blocks without a feed-forward sublayer (attention-only models, Olsson et
    al. 2022): the same function as a model whose feed-forwards output exactly zero."""
    cfg = resolve("GPT-2", scale="tiny").config.replace(parallel_residual=parallel)
    torch.manual_seed(0)
    zeroed = build_model(cfg.replace(**{"ffn.d_ff": 1})).eval()
    for block in zeroed.decoder.blocks:
        torch.nn.init.zeros_(block.ffn.down.weight)
        torch.nn.init.zeros_(block.ffn.down.bias)
    none = build_model(cfg.replace(**{"ffn.d_ff": 0})).eval()
    assert all(b.ffn is None and b.ffn_norm is None for b in none.decoder.blocks)
    none.load_state_dict(zeroed.state_dict(), strict=False)
    ids = torch.randint(3, 100, (2, 9))
    assert torch.allclose(none(ids), zeroed(ids), atol=1e-6)
    names = hook_names(none)
    assert not any("mlp" in n for n in names) and "blocks.1.hook_resid_post" in names
    _, cache = run_with_cache(none, ids)
    assert list(cache) == names
    with pytest.raises(TcatError, match="ffn.d_ff: must be positive, or 0 for attention-only blocks"):
        cfg.replace(**{"ffn.d_ff": -1})
