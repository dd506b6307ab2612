"""Subword tokenizers trained with Hugging Face `tokenizers`, saved as one tokenizer.json.

The paper uses one byte-pair vocabulary shared by source and target (section 5.1); we train a
byte-level BPE on both sides together. Byte-level means every string encodes (no unknown token)
and decodes back exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import TcatError

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = [PAD, BOS, EOS, UNK]  # ids 0, 1, 2, 3: pad_id = 0 matches EmbeddingConfig
MASK = "<mask>"


def objective_specials(n_sentinels: int = 100) -> list[str]:
    """The pretraining objectives' extra tokens: BERT/BART's mask and T5's span sentinels."""
    return [MASK] + [f"<extra_id_{i}>" for i in range(n_sentinels)]


# BERT-style vocabularies (WordPiece, e.g. all-MiniLM-L6-v2) name the same roles differently.
ALIASES = {PAD: "[PAD]", BOS: "[CLS]", EOS: "[SEP]", UNK: "[UNK]", MASK: "[MASK]"}


class Tokenizer:
    """A thin wrapper: encode/decode plus the special ids the models and decoders need. Encoding
    never adds special tokens itself (tasks add <s>/</s> or [CLS]/[SEP] where they belong)."""

    def __init__(self, hf_tokenizer):
        self.hf = hf_tokenizer
        self.hf.no_padding()  # lengths are the tasks' business (all-MiniLM's file pads every text to 128)
        self.hf.no_truncation()
        self.pad_id, self.bos_id, self.eos_id, self.unk_id, self.mask_id = (self._special(t) for t in SPECIALS + [MASK])

    def _special(self, token: str):
        found = self.hf.token_to_id(token)
        return found if found is not None else self.hf.token_to_id(ALIASES[token])

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def token_id(self, token: str):
        return self.hf.token_to_id(token)

    def word_starts(self):
        """(vocab_size,) bool: the token begins a word. Byte-level BPE marks a leading space with Ġ,
        SentencePiece/Unigram with ▁; WordPiece marks the opposite, a continuation, with ##."""
        import torch

        vocab = self.hf.get_vocab()
        wordpiece = any(t.startswith("##") for t in vocab)
        out = torch.zeros(self.vocab_size, dtype=torch.bool)
        for token, i in vocab.items():
            special = (token.startswith("<") and token.endswith(">")) or (token.startswith("[") and token.endswith("]"))
            out[i] = special or (not token.startswith("##") if wordpiece else token.startswith(("\u0120", "\u2581")))
        return out

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.hf.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        return self.hf.decode(list(ids), skip_special_tokens=True).strip()

    def save(self, path: str | Path) -> None:
        self.hf.save(str(path))

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        try:
            return cls(HFTokenizer.from_file(str(path)))
        except Exception as e:  # tokenizers raises a bare Exception on malformed JSON
            raise TcatError(f"{path}: not a valid tokenizer.json ({str(e).splitlines()[0][:120]})") from None


def train_bpe(
    texts: Iterable[str], vocab_size: int, min_frequency: int = 2, extra_specials: Iterable[str] = ()
) -> Tokenizer:
    """A byte-level BPE vocabulary of `vocab_size` entries (specials included). `extra_specials`
    (e.g. objective_specials()) follow the four fixed ones."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = HFTokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIALS + list(extra_specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return Tokenizer(tok)


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, kind: str = "bpe", extra_specials: Iterable[str] = ()
) -> Tokenizer:
    """A subword vocabulary of `kind`: bpe (byte-level, the default), wordpiece (BERT's: [PAD] [UNK]
    [CLS] [SEP] [MASK], ## continuations) or unigram (SentencePiece's model, metaspace words)."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

    if kind == "bpe":
        return train_bpe(texts, vocab_size, extra_specials=[MASK, *extra_specials])
    if kind == "wordpiece":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *extra_specials]
        tok = HFTokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    elif kind == "unigram":
        specials = SPECIALS + [MASK, *extra_specials]
        tok = HFTokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=specials, unk_token=UNK, show_progress=False
        )
    else:
        raise TcatError(f"unknown tokenizer kind {kind!r}: use bpe, wordpiece or unigram")
    tok.train_from_iterator(texts, trainer=trainer)
    return Tokenizer(tok)
