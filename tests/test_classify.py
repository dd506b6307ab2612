"""Text classification: metrics by hand, and every model kind (TF-IDF + logistic regression, BiLSTM,
a fine-tuned Transformer encoder) learning a real task from the in-repo sample: is a verse English
or Spanish? VADER's ratings, where installed, load with the documented label rule."""

import random

import pytest
import torch

from transformer_catalog.apps.classify import classify, scores
from transformer_catalog.data.bible import load_sample
from transformer_catalog.errors import TcatError


def test_scores_by_hand():
    assert scores([1, 0, 1, 1], [1, 0, 0, 1]) == {"accuracy": 0.75, "macro_f1": round((2 / 3 + 0.8) / 2, 4)}


def _language_id():
    rows = [(p.src, 0) for p in load_sample()] + [(p.tgt, 1) for p in load_sample()]
    random.Random(0).shuffle(rows)
    return {"train": rows[:900], "valid": rows[900:1050], "test": rows[1050:1250]}


@pytest.mark.parametrize("model", ["tfidf", "bilstm", "tiny-bert"])
def test_every_model_kind_learns_language_identification(model, tmp_path):
    pytest.importorskip("sklearn")
    data = _language_id()
    if model == "tiny-bert":
        transformers = pytest.importorskip("transformers")
        from transformer_catalog.data.tokenizer import train_tokenizer

        tok = train_tokenizer([t for t, _ in data["train"]], 500, "wordpiece")
        torch.manual_seed(0)
        hf = transformers.BertModel(
            transformers.BertConfig(
                vocab_size=tok.vocab_size,
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=64,
                max_position_embeddings=128,
                pad_token_id=tok.pad_id,
            ),
            add_pooling_layer=False,
        )
        hf.save_pretrained(tmp_path)
        tok.save(tmp_path / "tokenizer.json")
        model = str(tmp_path)
    result = classify(data, model, epochs=2, lr=2e-3 if model != "tfidf" else 0.0, max_len=48, progress=False)
    assert result["accuracy"] > 0.9 and result["test"] == 200, result


def test_vader_labels_follow_the_documented_rule():
    from transformer_catalog.data.sentiment import load_sentiment

    try:
        data = load_sentiment()
    except TcatError as e:
        assert "python -m transformer_catalog.data.sentiment" in str(e)
        pytest.skip(str(e))
    assert {k: len(v) for k, v in data.items()} == {"test": 1004, "valid": 1004, "train": 8035}
    with pytest.raises(TcatError, match="unknown sentiment dataset"):
        load_sentiment("imdb")
