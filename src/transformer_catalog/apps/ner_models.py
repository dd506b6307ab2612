"""The two taggers of `tcat ner` and their saved form (apps/ner.py trains and applies them).

- A Transformer token classifier: the encoder (all-MiniLM-L6-v2 by default) reads [CLS] pieces [SEP]
  of the pre-split words; a linear layer labels every piece, and a word's tag is trained and read at
  its first subword (Devlin et al. 2019, section 5.3); the other pieces are ignored by the loss.
- A BiLSTM tagger baseline (Lample et al. 2016 without the CRF): per word, a lower-cased word
  embedding, a character CNN (max-pooled) and a casing class feed a bidirectional LSTM and a linear
  layer.

Both expose one interface, `Tagger.piece_logits(words) -> (logits (B, T, tags), index)` where
index[s][w] lists the positions of word w's pieces in row s (the BiLSTM has one piece per word), so
training, evaluation and the aggregation of apps/ner.py never ask which kind they hold.

A saved tagger is a folder: ner.json (kind, tags, max_len, and the encoder's model config or the
BiLSTM's vocabularies and sizes), model.safetensors, and for a Transformer its tokenizer.json.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import TcatError

FORMAT = "tcat-ner-1"
CHAR_LIMIT = 24  # longer words keep their first 24 characters for the character CNN


class TransformerTagger(nn.Module):
    def __init__(self, encoder: nn.Module, n_tags: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(encoder.config.d_model, n_tags)

    def forward(self, ids: Tensor) -> Tensor:
        keep = ids != self.encoder.config.embedding.pad_id
        return self.out(self.drop(self.encoder(ids, keep=keep)))


class BiLSTMTagger(nn.Module):
    def __init__(self, n_words: int, n_chars: int, n_tags: int, dim: int = 100, hidden: int = 128):
        super().__init__()
        self.words = nn.Embedding(n_words, dim, padding_idx=0)
        self.chars = nn.Embedding(n_chars, 32, padding_idx=0)
        self.char_cnn = nn.Conv1d(32, 64, kernel_size=3, padding=1)
        self.case = nn.Embedding(len(CASES) + 1, 16, padding_idx=0)
        self.lstm = nn.LSTM(dim + 64 + 16, hidden, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(0.4)
        self.out = nn.Linear(2 * hidden, n_tags)

    def forward(self, words: Tensor, chars: Tensor, case: Tensor) -> Tensor:
        b, t, c = chars.shape
        ch = self.char_cnn(self.chars(chars.view(b * t, c)).transpose(1, 2))  # (B*T, 64, C)
        ch = ch.masked_fill((chars.view(b * t, 1, c) == 0), float("-inf")).amax(-1)
        ch = torch.where(torch.isfinite(ch), ch, torch.zeros_like(ch)).view(b, t, -1)  # padding words: zeros
        x = torch.cat([self.words(words), ch, self.case(case)], -1)
        h, _ = self.lstm(self.drop(x))
        return self.out(self.drop(h))


CASES = ("lower", "title", "upper", "mixed", "digit", "mention", "hashtag", "other")


def casing(word: str) -> int:
    """1-based casing class (0 is padding): Twitter's @ and # matter as much as capitals."""
    if word.startswith("@") and len(word) > 1:
        name = "mention"
    elif word.startswith("#") and len(word) > 1:
        name = "hashtag"
    elif any(ch.isdigit() for ch in word):
        name = "digit"
    elif not any(ch.isalpha() for ch in word):
        name = "other"
    elif word.islower():
        name = "lower"
    elif word.isupper():
        name = "upper"
    elif word[0].isupper() and word[1:].islower():
        name = "title"
    else:
        name = "mixed"
    return CASES.index(name) + 1


class Tagger:
    """A trained (or training) tagger: its network, tag names and the way it turns words into inputs."""

    def __init__(self, kind: str, net: nn.Module, tags: list[str], max_len: int | None, tokenizer=None, vocab=None):
        self.kind, self.net, self.tags, self.max_len = kind, net, tags, max_len
        self.tokenizer, self.vocab = tokenizer, vocab
        self.tag_ids = {t: i for i, t in enumerate(tags)}

    @property
    def types(self) -> list[str]:
        return sorted({t[2:] for t in self.tags if t != "O"})

    def n_pieces(self, words: list[str]) -> int:
        """Tokens the model reads for these words, special tokens included (BiLSTM: the words)."""
        if self.kind == "bilstm":
            return len(words)
        return len(self.tokenizer.hf.encode(words, is_pretokenized=True, add_special_tokens=False).ids) + 2

    def piece_logits(self, batch: list[list[str]], word_dropout: float = 0.0, rng=None):
        if self.kind == "bilstm":
            return self._bilstm_inputs(batch, word_dropout, rng)
        tok, limit = self.tokenizer, (self.max_len or 512) - 2
        rows, index = [], []
        for enc in tok.hf.encode_batch(batch, is_pretokenized=True, add_special_tokens=False):
            ids, where = enc.ids[:limit], {}
            for j, w in enumerate(enc.word_ids[:limit]):
                if w is not None:
                    where.setdefault(w, []).append(j + 1)  # +1: after [CLS]
            rows.append([tok.bos_id, *ids, tok.eos_id])
            index.append(where)
        ids = torch.full((len(rows), max(map(len, rows))), tok.pad_id)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = torch.tensor(row)
        return self.net(ids), [[where.get(w, []) for w in range(len(words))] for where, words in zip(index, batch)]

    def _bilstm_inputs(self, batch, word_dropout, rng):
        words_of, chars_of = self.vocab["words"], self.vocab["chars"]
        t = max(1, max(map(len, batch)))
        w_ids = torch.zeros(len(batch), t, dtype=torch.long)
        c_ids = torch.zeros(len(batch), t, CHAR_LIMIT, dtype=torch.long)
        case = torch.zeros(len(batch), t, dtype=torch.long)
        for s, words in enumerate(batch):
            for i, word in enumerate(words):
                wid = words_of.get(word.lower(), 1)
                if word_dropout and rng.random() < word_dropout:
                    wid = 1  # unknown: the model must also tag from characters and casing
                w_ids[s, i] = wid
                case[s, i] = casing(word)
                for j, ch in enumerate(word[:CHAR_LIMIT]):
                    c_ids[s, i, j] = chars_of.get(ch, 1)
        return self.net(w_ids, c_ids, case), [[[i] for i in range(len(words))] for words in batch]


def bilstm_tagger(train_words: list[list[str]], tags: list[str]) -> Tagger:
    """A fresh BiLSTM tagger whose vocabularies come from the training words (0 pad, 1 unknown)."""
    counts = Counter(w.lower() for words in train_words for w in words)
    chars = Counter(ch for words in train_words for w in words for ch in w)
    vocab = {
        "words": {w: i + 2 for i, w in enumerate(sorted(counts))},
        "chars": {c: i + 2 for i, c in enumerate(sorted(chars))},
    }
    net = BiLSTMTagger(len(vocab["words"]) + 2, len(vocab["chars"]) + 2, len(tags))
    return Tagger("bilstm", net, tags, None, vocab=vocab)


def transformer_tagger(encoder_name: str, tags: list[str], max_len: int) -> Tagger:
    from ..train.pretrained import load_encoder, resolve_encoder

    encoder, tok, limit = load_encoder(resolve_encoder(encoder_name))
    if encoder.config.arch != "encoder":
        raise TcatError(f"{encoder_name}: a token classifier needs an encoder")
    return Tagger("transformer", TransformerTagger(encoder.train(), len(tags)), tags, min(max_len, limit), tok)


def save_tagger(tagger: Tagger, folder: Path, extra: dict) -> None:
    from safetensors.torch import save

    from ..files import write_bytes, write_json

    meta = {"format": FORMAT, "kind": tagger.kind, "tags": tagger.tags, "max_len": tagger.max_len, **extra}
    if tagger.kind == "bilstm":
        meta["vocab"] = tagger.vocab
    else:
        meta["encoder"] = tagger.net.encoder.config.to_dict()
        tagger.tokenizer.save(folder / "tokenizer.json")
    state = {k: v.detach().contiguous() for k, v in tagger.net.state_dict().items()}
    write_bytes(folder / "model.safetensors", save(state))
    write_json(folder / "ner.json", meta)


def load_tagger(folder) -> Tagger:
    """A tagger saved by `tcat ner train --out DIR`."""
    import json

    from ..nn.model import build_model
    from ..train.checkpoint import load_weights

    folder = Path(folder)
    path = folder / "ner.json"
    if not path.is_file():
        raise TcatError(f"{folder}: not a NER run (no ner.json; train one with tcat ner train --out DIR)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise TcatError(f"{path}: format {meta.get('format')!r} is not {FORMAT}")
        tags = list(meta["tags"])
        if meta["kind"] == "bilstm":
            vocab = meta["vocab"]
            net = BiLSTMTagger(len(vocab["words"]) + 2, len(vocab["chars"]) + 2, len(tags))
            tagger = Tagger("bilstm", net, tags, None, vocab=vocab)
        else:
            from ..data.tokenizer import Tokenizer
            from ..nn.config import ModelConfig

            encoder = build_model(ModelConfig.from_dict(meta["encoder"]))
            tok = Tokenizer.load(folder / "tokenizer.json")
            tagger = Tagger("transformer", TransformerTagger(encoder, len(tags)), tags, int(meta["max_len"]), tok)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise TcatError(f"{path}: not a valid NER run description ({type(e).__name__}: {e})") from None
    load_weights(tagger.net, folder / "model.safetensors")
    tagger.net.eval()
    return tagger
