"""n-gram blocking (--no-repeat-ngram), held to Hugging Face's: the banned set of
NoRepeatNGramLogitsProcessor on random histories, and generate(no_repeat_ngram_size=n) on a tiny GPT-2."""

import pytest
import torch

transformers = pytest.importorskip("transformers")

from transformer_catalog.generate import (  # noqa: E402
    SamplingConfig,
    banned_ngram_mask,
    beam_search,
    block_repeated_ngrams,
    generate,
)
from transformer_catalog.interop import from_hf  # noqa: E402


def _ngrams(row: list[int], n: int) -> list[tuple]:
    return [tuple(row[i : i + n]) for i in range(len(row) - n + 1)]


def _repeats(row: list[int], n: int) -> bool:
    grams = _ngrams(row, n)
    return len(set(grams)) < len(grams)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("length", [1, 3, 4, 12, 40])
def test_banned_set_is_transformers_processor(n, length):
    from transformers.generation.logits_process import NoRepeatNGramLogitsProcessor

    g = torch.Generator().manual_seed(1000 * n + length)
    vocab = 7  # a small vocabulary, so random histories repeat n-grams often
    seq = torch.randint(0, vocab, (16, length), generator=g)
    scores = torch.randn(16, vocab, generator=g)
    theirs = NoRepeatNGramLogitsProcessor(n)(seq, scores.clone())
    ours = block_repeated_ngrams(scores.clone(), seq, n)
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    assert torch.equal(ours, theirs)  # the rest untouched
    if length >= 12:  # the comparison is not vacuous: something is banned (and for n > 1, not everything)
        assert torch.isinf(theirs).any() and (n == 1 or not torch.isinf(theirs).all())


def test_blocking_off_changes_nothing():
    seq = torch.tensor([[1, 2, 1, 2, 1]])
    logits = torch.randn(1, 5)
    assert block_repeated_ngrams(logits, seq, 0) is logits
    assert banned_ngram_mask(seq, 2, 5).tolist() == [[False, False, True, False, False]]


def _gpt2(seed):
    torch.manual_seed(seed)
    hf = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(
            n_layer=2, n_embd=32, n_head=4, vocab_size=50, n_positions=64, bos_token_id=0, eos_token_id=0
        )
    ).eval()
    return hf


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    hf = _gpt2(3)
    path = tmp_path_factory.mktemp("gpt2")
    hf.save_pretrained(path, safe_serialization=True)
    return hf, from_hf(path).eval()


PROMPT = torch.tensor([[5, 9, 13, 2], [7, 7, 30, 41]])


@pytest.mark.parametrize("n", [2, 3])
def test_greedy_never_repeats_an_ngram_while_the_control_does(models, n):
    _, ours = models
    control = generate(ours, PROMPT, 40).tolist()
    assert any(_repeats(p + row, n) for p, row in zip(PROMPT.tolist(), control)), "seed gives no repeat to block"
    blocked = generate(ours, PROMPT, 40, no_repeat_ngram=n).tolist()
    for p, row in zip(PROMPT.tolist(), blocked):
        assert len(row) == 40 and not _repeats(p + row, n)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_greedy_tokens_equal_transformers_generate(models, n):
    hf, ours = models
    hf.generation_config.eos_token_id = None
    with torch.no_grad():
        theirs = hf.generate(
            PROMPT,
            attention_mask=torch.ones_like(PROMPT),
            max_new_tokens=30,
            do_sample=False,
            num_beams=1,
            no_repeat_ngram_size=n,
            pad_token_id=0,
        )[:, PROMPT.size(1) :]
    got = generate(ours, PROMPT, 30, no_repeat_ngram=n)
    assert got.tolist() == theirs.tolist()
    assert not torch.equal(got, generate(ours, PROMPT, 30))  # blocking changed the output here


@pytest.mark.parametrize("n", [2, 3])
def test_beam_search_returns_no_repeated_ngram(models, n):
    _, ours = models
    control = beam_search(ours, PROMPT, 40, beam_size=4)
    assert any(_repeats(p + row, n) for p, row in zip(PROMPT.tolist(), control)), "seed gives no repeat to block"
    for p, row in zip(PROMPT.tolist(), beam_search(ours, PROMPT, 40, beam_size=4, no_repeat_ngram=n)):
        assert len(row) == 40 and not _repeats(p + row, n)


# -- the commands: evaluate records the setting and every hypothesis; translate takes options anywhere
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained tiny translation checkpoint: it loops, so blocking has something to change."""
    from transformer_catalog.data.bible import load_sample
    from transformer_catalog.data.tokenizer import train_bpe
    from transformer_catalog.families import get_config
    from transformer_catalog.nn import build_model
    from transformer_catalog.train.checkpoint import save_checkpoint

    pairs = load_sample()
    tok = train_bpe([p.src for p in pairs] + [p.tgt for p in pairs], 300)
    cfg = get_config("transformer-tiny", N=1, d_model=32, d_ff=64, h=4, dropout=0.0, vocab_size=tok.vocab_size)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("mt") / "checkpoint"
    save_checkpoint(folder, build_model(cfg).eval(), {"task": {"name": "translate", "data": "bible-sample"}}, tok)
    return folder


@pytest.mark.parametrize("beam", [1, 3])
def test_evaluate_records_the_setting_and_every_hypothesis(checkpoint, beam):
    from transformer_catalog.apps.translation import evaluate_translation, translate_batch
    from transformer_catalog.data.parallel import split_parallel
    from transformer_catalog.train.checkpoint import load_model

    out = evaluate_translation(checkpoint, "bible-sample", beam=beam, limit=6, progress=False, no_repeat_ngram=2)
    assert out["no_repeat_ngram"] == 2 and len(out["hypotheses"]) == out["pairs"] == 6
    assert [e["hypothesis"] for e in out["examples"]] == out["hypotheses"][:5]
    model, _, tok = load_model(checkpoint)
    texts = [p.src for p in split_parallel("bible-sample")["test"][:6]]
    blocked = translate_batch(model, tok, texts, beam, 0.6, no_repeat_ngram=2)
    assert sorted(out["hypotheses"]) == sorted(blocked)  # evaluate decodes in length-sorted batches
    assert blocked != translate_batch(model, tok, texts, beam, 0.6)  # the setting reached the decoder
    assert evaluate_translation(checkpoint, "bible-sample", beam=beam, limit=1, progress=False)["no_repeat_ngram"] == 0


def test_translate_takes_options_between_the_checkpoint_and_the_texts(checkpoint, capsys):
    from transformer_catalog.cli import main

    texts = ["In the beginning God created the heaven and the earth.", "And God said"]
    assert main(["translate", str(checkpoint), "--no-repeat-ngram", "2", "--beam", "1", *texts]) == 0
    before = capsys.readouterr().out
    assert main(["translate", str(checkpoint), "--beam", "1", texts[0], "--no-repeat-ngram", "2", texts[1]]) == 0
    assert capsys.readouterr().out == before and before.count("\n") == 2  # one line per text
    assert main(["translate", "--beam", "1", str(checkpoint), texts[0], "--no-repeat-ngram=2", texts[1]]) == 0
    assert capsys.readouterr().out == before
    assert main(["translate", str(checkpoint), "--beam", "1", *texts]) == 0
    assert capsys.readouterr().out != before  # the flag was read wherever it stood
    assert main(["translate", "--beam", "1"]) == 2
    assert "required: checkpoint" in capsys.readouterr().err


def test_a_row_with_every_token_blocked_is_unblocked_not_nan(models):
    """n = 1 over more steps than the vocabulary has tokens: sampling would draw from NaN."""
    _, ours = models
    g = torch.Generator().manual_seed(0)
    s = SamplingConfig(temperature=1.0)
    out = generate(ours, PROMPT, 60, no_repeat_ngram=1, sampling=s, generator=g).tolist()
    for p, row in zip(PROMPT.tolist(), out):
        new = row[:40]  # 50 tokens: each new one differs from every earlier one until they run out
        assert len(row) == 60 and len(set(new)) == 40 and not set(new) & set(p)
    greedy = generate(ours, PROMPT[:1], 60, no_repeat_ngram=1)[0].tolist()
    assert len(set(PROMPT[0].tolist() + greedy)) == 50  # every token once, then unblocked


def test_evaluate_refuses_the_flag_on_a_language_model_run_naming_it(models, tmp_path, capsys):
    from transformer_catalog.cli import main
    from transformer_catalog.train.checkpoint import save_checkpoint

    _, ours = models
    save_checkpoint(tmp_path / "lm", ours, {"task": {"name": "clm", "objective": "clm"}}, None)
    assert main(["evaluate", str(tmp_path / "lm"), "--no-repeat-ngram", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--no-repeat-ngram evaluates translation runs" in err
