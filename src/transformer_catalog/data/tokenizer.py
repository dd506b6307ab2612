"""Subword tokenizers trained with Hugging Face `tokenizers`, saved as one tokenizer.json.

The paper uses one byte-pair vocabulary shared by source and target (section 5.1); we train a
byte-level BPE on both sides together. Byte-level means every string encodes (no unknown token)
and decodes back exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..errors import TcatError

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = [PAD, BOS, EOS, UNK]  # ids 0, 1, 2, 3: pad_id = 0 matches EmbeddingConfig
MASK = "<mask>"


def objective_specials(n_sentinels: int = 100) -> list[str]:
    """The pretraining objectives' extra tokens: BERT/BART's mask and T5's span sentinels."""
    return [MASK] + [f"<extra_id_{i}>" for i in range(n_sentinels)]


class Tokenizer:
    """A thin wrapper: encode/decode plus the special ids the models and decoders need."""

    def __init__(self, hf_tokenizer):
        self.hf = hf_tokenizer
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = (self.hf.token_to_id(t) for t in SPECIALS)

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def token_id(self, token: str):
        return self.hf.token_to_id(token)

    def word_starts(self):
        """(vocab_size,) bool: the token begins a word (byte-level BPE marks a leading space with Ġ)."""
        import torch

        vocab = self.hf.get_vocab()
        out = torch.zeros(self.vocab_size, dtype=torch.bool)
        for token, i in vocab.items():
            out[i] = token.startswith("\u0120") or (token.startswith("<") and token.endswith(">"))
        return out

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.hf.encode_batch(texts)]

    def decode(self, ids: Iterable[int]) -> str:
        return self.hf.decode(list(ids), skip_special_tokens=True).strip()

    def save(self, path: str | Path) -> None:
        self.hf.save(str(path))

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        from tokenizers import Tokenizer as HFTokenizer

        try:
            return cls(HFTokenizer.from_file(str(path)))
        except Exception as e:  # tokenizers raises a bare Exception on malformed JSON
            raise TcatError(f"{path}: not a valid tokenizer.json ({str(e).splitlines()[0][:120]})") from None


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 2, extra_specials: Iterable[str] = ()) -> Tokenizer:
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
