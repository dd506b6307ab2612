"""interp/: the logit lens, activation patching and ablation, attention maps, and `tcat inspect
attention` (its output files and its one-line errors)."""

import pytest
import torch
import torch.nn.functional as F

from transformer_catalog.catalog.specs import resolve
from transformer_catalog.cli import main
from transformer_catalog.errors import TcatError
from transformer_catalog.interp import (
    ablate,
    attention_maps,
    heatmap,
    logit_diff,
    logit_lens,
    patch,
    patching_effect,
    run_with_cache,
    svg_heatmap,
)
from transformer_catalog.interp.lens import _first_stable
from transformer_catalog.nn.model import build_model


def _gpt(layers=3):
    cfg = resolve("GPT-2", scale="tiny").config.replace(n_decoder_layers=layers)
    torch.manual_seed(0)
    return build_model(cfg).eval()


def _ids(n=10, seed=1, rows=2):
    return torch.randint(3, 200, (rows, n), generator=torch.Generator().manual_seed(seed))


# -- logit lens ---------------------------------------------------------------------------------------
def test_lens_layer_l_is_the_model_cut_after_l_layers():
    """Reading layer l through the final norm and head equals running the first l layers only."""
    model = _gpt(3)
    ids = _ids(12)
    lens = logit_lens(model, ids)
    assert lens.layers == ["embed", "1", "2", "3"]
    for keep in (1, 2, 3):
        cut = build_model(model.config.replace(n_decoder_layers=keep)).eval()
        cut.load_state_dict(model.state_dict(), strict=False)  # the first `keep` blocks, norm and head
        with torch.no_grad():
            logits = cut(ids)[:, :-1]
        expected = F.cross_entropy(logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1)).item()
        assert lens.loss[keep] == pytest.approx(expected, rel=1e-5)
    assert lens.agreement[-1] == 1.0  # the last layer's reading is the model's answer
    assert lens.loss[0] != pytest.approx(lens.loss[-1])
    assert ((lens.first_layer >= 0) & (lens.first_layer <= 3)).all()


def test_lens_first_layer_is_where_the_answer_stays():
    final = torch.tensor([[5, 6, 7]])
    tops = torch.tensor(
        [
            [[5, 0, 7]],  # embed: 5 and 7 already
            [[1, 6, 7]],  # layer 1: 5 lost, 6 found
            [[5, 6, 7]],  # layer 2
            [[5, 6, 7]],  # layer 3
        ]
    )
    assert _first_stable(tops, final).tolist() == [[2, 1, 0]]


def test_lens_ignores_masked_targets_and_refuses_encoders():
    model = _gpt(2)
    ids = _ids(8, rows=1)
    targets = ids[:, 1:].clone()
    targets[0, :3] = -100
    lens = logit_lens(model, ids, targets)
    assert (lens.first_layer[0, :3] == -1).all() and (lens.first_layer[0, 3:] >= 0).all()
    bert = build_model(resolve("BERT", scale="tiny").config)
    with pytest.raises(TcatError, match="logit lens reads a stack through an output head; EncoderModel has none"):
        logit_lens(bert, ids)


@pytest.mark.parametrize("family", ["BART", "T5"])
def test_lens_of_an_encoder_decoder_reads_the_decoder_and_its_last_layer_is_the_model(family):
    """On (src, tgt) the lens reads the decoder stack (3 encoder layers, 2 decoder layers here): its
    last layer's loss is the model's own cross-entropy on tgt, and its answer is the model's."""
    cfg = resolve(family, scale="tiny").config.replace(n_encoder_layers=3, n_decoder_layers=2)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    src, tgt = _ids(11, seed=3), _ids(7, seed=4)
    lens = logit_lens(model, (src, tgt))
    assert lens.layers == ["embed", "1", "2"] and lens.first_layer.shape == (2, 6)
    with torch.no_grad():
        logits = model(src, tgt)[:, :-1]
    expected = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt[:, 1:].reshape(-1)).item()
    assert lens.loss[-1] == pytest.approx(expected, rel=1e-5)
    assert lens.agreement[-1] == 1.0 and lens.loss[0] != pytest.approx(lens.loss[-1])


# -- patching and ablation --------------------------------------------------------------------------------
def _pair():
    model = _gpt(2)
    clean, corrupted = _ids(9, seed=1), _ids(9, seed=2)
    corrupted[:, -1] = clean[:, -1]  # the same last token, a different context

    def metric(logits):
        return logit_diff(logits, correct=11, wrong=12)

    return model, clean, corrupted, metric


def test_patching_the_full_clean_activation_restores_the_clean_logit_diff_exactly():
    model, clean, corrupted, metric = _pair()
    with torch.no_grad():
        clean_logits, cache = run_with_cache(
            model, clean, names=["blocks.0.hook_resid_pre", "blocks.1.hook_resid_post"]
        )
        corrupted_logits = model(corrupted)
        patched = patch(model, corrupted, cache, "blocks.0.hook_resid_pre")
    assert metric(clean_logits) != metric(corrupted_logits)
    assert metric(patched).item() == metric(clean_logits).item()
    effects = patching_effect(model, clean, corrupted, metric, ["blocks.0.hook_resid_pre"])
    assert effects["blocks.0.hook_resid_pre"].item() == 1.0
    # the last layer's output at the last position alone decides the last logits: 1 there, 0 elsewhere
    per_position = patching_effect(model, clean, corrupted, metric, ["blocks.1.hook_resid_post"], per="position")
    assert per_position["blocks.1.hook_resid_post"].tolist() == [0.0] * 8 + [1.0]


def test_per_head_patching_and_ablation_change_the_logit_diff():
    model, clean, corrupted, metric = _pair()
    effects = patching_effect(model, clean, corrupted, metric, ["blocks.1.attn.hook_z"], per="head")[
        "blocks.1.attn.hook_z"
    ]
    assert effects.shape == (4,) and effects.abs().max() > 1e-3
    grid = patching_effect(model, clean, corrupted, metric, ["blocks.1.attn.hook_z"], per="head-position")
    assert grid["blocks.1.attn.hook_z"].shape == (4, 9)
    with torch.no_grad():
        base = metric(model(clean))
        for value in ("zero", "mean"):
            assert (metric(ablate(model, clean, "blocks.1.attn.hook_z", head=2, value=value)) - base).abs() > 1e-4
        # ablating one head at one position changes that position only
        plain, changed = model(clean), ablate(model, clean, "blocks.1.attn.hook_z", position=3, head=0)
    assert torch.equal(plain[:, :3], changed[:, :3]) and not torch.allclose(plain[:, 3], changed[:, 3])


def _after_patch_hooks(monkeypatch) -> list:
    """What each hooked point holds after patching.py's own hook: a read hook registered after it
    (wrapping the `hooks` that patch and ablate install theirs with) records a copy per forward."""
    from transformer_catalog.interp import patching

    seen, real = [], patching.hooks

    def read(x, name):
        seen.append(x.clone())

    monkeypatch.setattr(patching, "hooks", lambda model, fns: real(model, {n: [f, read] for n, f in fns.items()}))
    return seen


def test_patching_a_head_takes_that_head_from_the_clean_run_and_the_rest_from_the_corrupted(monkeypatch):
    model, clean, corrupted, metric = _pair()
    name = "blocks.1.attn.hook_z"
    with torch.no_grad():
        clean_logits, cache = run_with_cache(model, clean, names=[name])
        corrupted_logits, other = run_with_cache(model, corrupted, names=[name])
    c, x = cache[name], other[name]  # (B, H, T, dh)
    assert not torch.allclose(c, x)
    seen = _after_patch_hooks(monkeypatch)
    with torch.no_grad():
        direct = torch.stack([metric(patch(model, corrupted, cache, name, head=h)) for h in range(4)])
        one = patch(model, corrupted, cache, name, position=3, head=1)
        effects = patching_effect(model, clean, corrupted, metric, [name], per="head")[name]
    for k, z in enumerate(seen[:4] + seen[5:]):  # patch(head=h) for h = 0..3, then patching_effect's sweep
        h = k % 4
        assert torch.equal(z[:, h], c[:, h])
        assert all(torch.equal(z[:, g], x[:, g]) for g in range(4) if g != h), (k, h)
    expected = x.clone()
    expected[:, 1, 3] = c[:, 1, 3]  # one head at one (query) position
    assert len(seen) == 9 and torch.equal(seen[4], expected)
    assert not torch.allclose(one, corrupted_logits)
    # each head's effect is its own patch's share of the clean-minus-corrupted metric, and they differ
    base, span = metric(corrupted_logits), metric(clean_logits) - metric(corrupted_logits)
    assert torch.allclose(effects, (direct - base) / span, atol=1e-6)
    assert (effects - effects[0]).abs().max() > 1e-3


def test_mean_ablation_is_the_mean_over_batch_and_positions_on_the_chosen_slice(monkeypatch):
    model, clean, _, _ = _pair()
    seen = _after_patch_hooks(monkeypatch)
    # per-head points average each head over batch and query positions; residual ones over batch and positions
    for name, head, axes in [("blocks.1.attn.hook_z", 2, (0, 2)), ("blocks.0.hook_resid_mid", None, (0, 1))]:
        with torch.no_grad():
            _, cache = run_with_cache(model, clean, names=[name])
            x = cache[name]
            mean = x.mean(dim=axes, keepdim=True).expand_as(x)
            seen.clear()
            ablate(model, clean, name, head=head, value="mean")
            ablate(model, clean, name, position=4, head=head, value="mean")
        whole, at4 = x.clone(), x.clone()
        sl = (slice(None),) if head is None else (slice(None), head)
        whole[sl] = mean[sl]
        at4[(*sl, 4)] = mean[(*sl, 4)]
        assert len(seen) == 2 and torch.allclose(seen[0], whole, atol=1e-6), name
        assert torch.allclose(seen[1], at4, atol=1e-6), name
        assert not torch.allclose(x, whole)  # the mean differs from the activation it replaces


def test_logit_diff_is_the_correct_minus_the_wrong_logit_at_the_position():
    logits = torch.zeros(2, 3, 5)
    logits[0, -1, 1], logits[0, -1, 3] = 4.0, 1.0  # row 0: correct 1 beats wrong 3 by 3
    logits[1, -1, 1], logits[1, -1, 3] = 0.5, 2.5  # row 1: by -2
    logits[:, 0, 2] = 7.0
    assert logit_diff(logits, correct=1, wrong=3).item() == 0.5  # the mean over the batch
    assert logit_diff(logits, correct=3, wrong=1).item() == -0.5
    assert logit_diff(logits, correct=torch.tensor([1, 3]), wrong=torch.tensor([3, 1])).item() == 2.5
    assert logit_diff(logits, correct=2, wrong=0, position=0).item() == 7.0


def test_patching_refuses_bad_requests():
    model, clean, corrupted, metric = _pair()
    _, cache = run_with_cache(model, clean, names=["blocks.0.hook_resid_post", "blocks.0.attn.hook_z"])
    with pytest.raises(TcatError, match=r"patching between runs of different lengths"):
        patch(model, corrupted[:, :5], cache, "blocks.0.hook_resid_post")
    with pytest.raises(TcatError, match=r"patching between runs of different lengths: clean inputs \[\(2, 9\)\]"):
        patching_effect(model, clean, corrupted[:, :5], metric, ["blocks.0.hook_resid_post"])
    with pytest.raises(TcatError, match=r"head 4 is out of range for blocks.0.attn.hook_z: the layer has 4 heads"):
        patch(model, corrupted, cache, "blocks.0.attn.hook_z", head=4)
    with pytest.raises(TcatError, match=r"blocks.0.hook_resid_post is not per head"):
        patch(model, corrupted, cache, "blocks.0.hook_resid_post", head=0)
    with pytest.raises(TcatError, match=r"position 9 is out of range .* 9 positions"):
        patch(model, corrupted, cache, "blocks.0.hook_resid_post", position=9)
    with pytest.raises(TcatError, match=r"no hook point 'blocks.5.hook_resid_post'"):
        patch(model, corrupted, cache, "blocks.5.hook_resid_post")
    with pytest.raises(TcatError, match=r"the clean cache holds no blocks.1.hook_resid_post"):
        patch(model, corrupted, cache, "blocks.1.hook_resid_post")
    with pytest.raises(TcatError, match="nothing to restore"):
        patching_effect(model, clean, clean, metric, ["blocks.0.hook_resid_post"])


# -- attention maps and the command --------------------------------------------------------------------------
def test_maps_and_their_renderings_escape_tokens():
    model = _gpt(2)
    maps = attention_maps(model, _ids(5, rows=1))
    assert list(maps) == ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"]
    p = maps["blocks.1.attn.hook_pattern"]
    assert p.shape == (4, 5, 5) and torch.allclose(p.sum(-1), torch.ones(4, 5)) and p[0].triu(1).abs().max() == 0
    tokens = ["<script>", "a&b", " ", "\x1b[31m", "z"]
    svg = svg_heatmap(p[0], tokens, tokens, "t <1>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a&amp;b" in svg and "\x1b" not in svg
    assert svg.count("<rect") == 25
    assert "\x1b" not in heatmap(p[0], tokens, tokens, "t").plain


def test_inspect_attention_writes_maps_for_catalog_entries_and_folders(tmp_path, capsys):
    assert main(["inspect", "attention", "GPT-2", "Hi <b>", "--out", str(tmp_path / "maps"), "--threads", "1"]) == 0
    files = sorted(p.name for p in (tmp_path / "maps").glob("*.svg"))
    assert len(files) == 2 * (4 + 1) and "blocks.1.attn.head3.svg" in files and "blocks.0.attn.mean.svg" in files
    out = capsys.readouterr().out
    assert "blocks.0.attn.hook_pattern (mean of 4 heads)" in out and "wrote 10 SVG maps" in out
    # encoder-decoder: self-attention of both stacks and cross-attention; one layer, one head
    assert main(["inspect", "attention", "BART", "abc", "--target", "xy", "--layer", "1", "--head", "0"]) == 0
    out = capsys.readouterr().out
    for name in ("encoder.blocks.1.attn", "decoder.blocks.1.attn", "decoder.blocks.1.cross_attn"):
        assert f"{name}.hook_pattern (head 0)" in out
    # a saved model folder (tcat build --out) and a Hugging Face folder open too
    assert main(["build", "LLaMA", "--scale", "tiny", "--out", str(tmp_path / "built")]) == 0
    assert main(["inspect", "attention", str(tmp_path / "built"), "hello", "--layer", "0"]) == 0
    transformers = pytest.importorskip("transformers")
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=300))
    hf.save_pretrained(tmp_path / "hf")
    assert main(["inspect", "attention", str(tmp_path / "hf"), "hello"]) == 0
    assert "blocks.0.attn.hook_pattern" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["GPT-2", "hi", "--layer", "2"], r"--layer 2 is out of range: the model has 2 layers \(0..1\)"),
        (["GPT-2", "hi", "--head", "4"], r"--head 4 is out of range: the model has 4 heads \(0..3\)"),
        (["GPT-2", "hi", "--hook", "blocks.0.attn.hook_patern"], r"no hook point .* valid: hook_embed, blocks"),
        (["GPT-2", "hi", "--hook", "blocks.0.attn.hook_q"], r"is not an attention pattern; patterns: blocks.0"),
        (["GPT-2", "x" * 600], r"text of 600 tokens is longer than the model's context of 512 tokens"),
        (["GPT-2", "hi", "--target", "x"], r"--target is the decoder's input of an encoder-decoder"),
        (["ViT", "hi"], r"is a vision model"),
    ],
)
def test_inspect_attention_bad_input_is_one_line_exit_2(argv, message, capsys):
    import re

    assert main(["inspect", "attention", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err


def test_logit_lens_experiment_tiny_claim_holds_and_control_fails(tmp_path):
    """experiments/logit_lens.py at its tiny setting: the trained model's lens loss falls layer by
    layer and the untrained control's does not; the numbers are the lens's own."""
    from transformer_catalog.experiments import logit_lens

    cfg = logit_lens.Config.tiny()
    r = logit_lens.run(cfg, tmp_path / "lens")
    m = r["metrics"]
    assert r["claim_holds"] and r["control_fails"], m
    layers = [m[f"loss_layer_{i}"] for i in range(1, cfg.layers + 1)]
    assert all(b < a for a, b in zip(layers, layers[1:]))
    assert m["drop_first_to_last_layer"] == pytest.approx(layers[0] - layers[-1], abs=1e-4)
    assert m["control_drop_first_to_last_layer"] < logit_lens.DROP <= m["drop_first_to_last_layer"]
    assert 0 <= m["answer_layer_mean"] <= cfg.layers and m["held_out_tokens"] > 100
    assert (tmp_path / "lens" / "logit-lens.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_inspect_attention_on_the_real_minilm_weights(capsys):
    from transformer_catalog.train.pretrained import minilm_folder

    try:
        minilm_folder()
    except TcatError as e:
        pytest.skip(str(e))
    assert main(["inspect", "attention", "minilm", "The LORD is my shepherd", "--layer", "5", "--head", "0"]) == 0
    out = capsys.readouterr().out
    assert "all-MiniLM-L6-v2: blocks.5.attn.hook_pattern (head 0)" in out
    assert "0:[CLS]" in out and "[SEP]" in out  # the tokenizer's own special tokens frame the text


def test_inspect_attention_refuses_a_file_or_an_empty_folder_as_model(tmp_path, capsys):
    (tmp_path / "weights.bin").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    assert main(["inspect", "attention", str(tmp_path / "weights.bin"), "hi"]) == 2
    assert main(["inspect", "attention", str(tmp_path / "empty"), "hi"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "weights.bin: not a folder; MODEL is a run or Hugging Face folder" in err[0]
    assert "not a checkpoint folder (no config.json)" in err[1]


def test_inspect_attention_reads_an_image_for_a_vision_model(tmp_path, capsys):
    """ViT (a buildable catalog entry that reads images): the text argument names an image file; its maps
    cover the class token and every patch."""
    import numpy as np
    from matplotlib import image as mpimg

    from transformer_catalog.catalog.specs import resolve
    from transformer_catalog.cli import main

    mpimg.imsave(tmp_path / "img.png", np.random.RandomState(0).rand(28, 28), cmap="gray")
    out = tmp_path / "maps"
    assert main(["inspect", "attention", "ViT", str(tmp_path / "img.png"), "--layer", "0", "--out", str(out)]) == 0
    vision = resolve("ViT", scale="tiny").config.vision
    heads = resolve("ViT", scale="tiny").config.attention.n_heads
    svgs = sorted(p.name for p in out.glob("*.svg"))
    assert svgs == sorted([f"blocks.0.attn.head{h}.svg" for h in range(heads)] + ["blocks.0.attn.mean.svg"])
    text = (out / "blocks.0.attn.head0.svg").read_text()
    side = vision.image_size // vision.patch_size
    assert ">cls<" in text and f">p{side - 1},{side - 1}<" in text  # the class token and the last patch label
