"""Fine-tuning from pretrained weights: `tcat train --init FOLDER` starts from a Hugging Face encoder
and its own (WordPiece) tokenizer; the contrastive run then loads as a sentence encoder."""

import json
import os
import subprocess
import sys

import pytest
import torch

transformers = pytest.importorskip("transformers")

from transformer_catalog.apps.embeddings import SentenceEncoder  # noqa: E402
from transformer_catalog.data.bible import load_sample  # noqa: E402
from transformer_catalog.data.tokenizer import train_tokenizer  # noqa: E402


def test_contrastive_fine_tuning_from_a_hugging_face_encoder(tmp_path):
    tok = train_tokenizer([p.src for p in load_sample()] + [p.tgt for p in load_sample()], 600, "wordpiece")
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
    hf.save_pretrained(tmp_path / "bert")
    tok.save(tmp_path / "bert" / "tokenizer.json")
    before = SentenceEncoder(tmp_path / "bert").encode(["In the beginning God created the heaven and the earth."])

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "transformer_catalog.cli",
            "train",
            "--task",
            "contrastive",
            "--init",
            str(tmp_path / "bert"),
            "--data",
            "bible-sample",
            "--out",
            str(tmp_path / "run"),
            "--steps",
            "8",
            "--max-tokens",
            "2048",
            "--max-len",
            "64",
            "--optimizer",
            "adamw",
            "--schedule",
            "cosine",
            "--lr",
            "1e-3",
            "--warmup",
            "1",
            "--eval-every",
            "4",
            "--quiet",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["valid_loss"] for r in rows if "valid_loss" in r]
    assert losses[-1] < losses[0]  # held-out in-batch ranking improves
    after = SentenceEncoder(tmp_path / "run").encode(["In the beginning God created the heaven and the earth."])
    assert after.shape == before.shape and not torch.allclose(after, before)
