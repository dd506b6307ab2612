"""Translation evaluation (the README's BLEU/chrF) on the in-repo sample: scores are against the
references, the copy-the-source baseline is the sources scored against the references, and the
Bible loading behind bible-en-es aligns verses by reference."""

import pytest
import torch

sacrebleu = pytest.importorskip("sacrebleu")

from transformer_catalog.apps import translation  # noqa: E402
from transformer_catalog.data.bible import load_sample, split_by_book  # noqa: E402
from transformer_catalog.families import get_config  # noqa: E402
from transformer_catalog.nn import build_model  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained tiny translation checkpoint with its tokenizer: evaluation's arithmetic does not
    depend on the model being good."""
    from transformer_catalog.data.tokenizer import train_bpe
    from transformer_catalog.train.checkpoint import save_checkpoint

    pairs = load_sample()
    tok = train_bpe([p.src for p in pairs] + [p.tgt for p in pairs], 300)
    cfg = get_config("transformer-tiny", N=1, d_model=32, d_ff=64, h=4, dropout=0.0, vocab_size=tok.vocab_size)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("mt") / "checkpoint"
    save_checkpoint(folder, build_model(cfg).eval(), {"task": {"data": "bible-sample"}}, tok)
    return folder


def _test_pairs(limit):
    from transformer_catalog.train.tasks import load_pairs

    return load_pairs("bible-sample")["test"][:limit]


def test_a_perfect_translator_scores_100_and_copying_scores_the_sources(checkpoint, monkeypatch):
    pairs = _test_pairs(12)
    by_source = {p.src: p.tgt for p in pairs}
    monkeypatch.setattr(
        translation, "translate_batch", lambda model, tok, texts, *a, **k: [by_source[t] for t in texts]
    )
    out = translation.evaluate_translation(checkpoint, data="bible-sample", beam=1, limit=12, progress=False)
    assert out["pairs"] == 12 and out["bleu"] == 100.0 and out["chrf"] == 100.0
    refs, srcs = [p.tgt for p in pairs], [p.src for p in pairs]
    assert out["copy_source_bleu"] == round(sacrebleu.corpus_bleu(srcs, [refs]).score, 2)
    assert out["copy_source_chrf"] == round(sacrebleu.corpus_chrf(srcs, [refs]).score, 2)
    assert out["copy_source_chrf"] < 40  # English against Spanish

    # a system that copies its input scores exactly the baseline
    monkeypatch.setattr(translation, "translate_batch", lambda model, tok, texts, *a, **k: list(texts))
    copy = translation.evaluate_translation(checkpoint, data="bible-sample", beam=1, limit=12, progress=False)
    assert (copy["bleu"], copy["chrf"]) == (out["copy_source_bleu"], out["copy_source_chrf"])


@pytest.mark.parametrize("beam", [1, 2])
def test_scores_are_the_hypotheses_against_the_references(checkpoint, beam):
    """The real decoding path: with 5 pairs every hypothesis is in `examples`, so the reported scores
    can be recomputed from them with sacreBLEU."""
    out = translation.evaluate_translation(checkpoint, data="bible-sample", beam=beam, limit=5, progress=False)
    ex = out["examples"]
    assert len(ex) == 5 and all(isinstance(e["hypothesis"], str) for e in ex)
    hyps, refs = [e["hypothesis"] for e in ex], [e["reference"] for e in ex]
    assert out["chrf"] == round(sacrebleu.corpus_chrf(hyps, [refs]).score, 2)
    assert out["bleu"] == round(sacrebleu.corpus_bleu(hyps, [refs]).score, 2)
    assert [e["source"] for e in ex] == [p.src for p in _test_pairs(5)]


def test_sample_verses_are_aligned_by_reference_and_split_by_whole_books():
    pairs = load_sample()
    assert len(pairs) > 500 and len({p.ref for p in pairs}) == len(pairs)  # one pair per verse
    by_ref = {p.ref: p for p in pairs}
    assert by_ref["Genesis 1:1"].src == "In the beginning God created the heaven and the earth."
    assert "principio" in by_ref["Genesis 1:1"].tgt and "luz" in by_ref["Genesis 1:3"].tgt
    splits = split_by_book(pairs)
    books = {k: {p.book for p in v} for k, v in splits.items()}
    assert books["test"] == {"Ruth", "Jonah", "Philippians", "James"}
    assert books["valid"] == {"Titus", "Jude", "Obadiah", "Haggai"}
    assert not books["train"] & (books["test"] | books["valid"])  # whole books held out
    assert sorted(map(id, sum(splits.values(), []))) == sorted(map(id, pairs))


def test_bible_modules_align_verses_as_the_sample_records_them():
    """bible-en-es from the Debian SWORD modules: every verse of both Bibles by reference."""
    from transformer_catalog.data.bible import aligned_pairs
    from transformer_catalog.errors import TcatError

    try:
        pairs = aligned_pairs()
    except TcatError as e:  # the modules are Debian packages (make data); the message names them
        assert "apt-get install" in str(e) or "pysword" in str(e), e
        pytest.skip(str(e))
    by_ref = {p.ref: p for p in pairs}
    assert len(pairs) > 30000 and len(by_ref) == len(pairs) and len({p.book for p in pairs}) == 66
    john = by_ref["John 3:16"]
    assert john.src.startswith("For God so loved the world") and john.tgt.startswith("Porque de tal manera amó Dios")
    assert "<" not in john.src and "<" not in john.tgt  # markup (Strong's numbers) cleaned away
    for p in load_sample():  # the in-repo sample is a faithful extract
        assert (by_ref[p.ref].src, by_ref[p.ref].tgt) == (p.src, p.tgt), p.ref
