"""The decoding options of translate / generate / evaluate, written once: each field is a flag
(cli/options.add_fields) with its help, default and valid range."""

from __future__ import annotations

from dataclasses import dataclass

from ..train.config import opt


@dataclass
class Decoding:
    beam: int = opt(1, "beam size (1 = greedy, or sampling with --temperature)", range=(1, 64))
    alpha: float = opt(0.6, "beam search length penalty (paper: 0.6)", range=(0, 10))
    temperature: float = opt(0.0, "> 0 samples at this temperature instead of searching", range=(0, 100))
    top_k: int = opt(0, "sampling: keep the k most likely tokens (0 = all)", range=(0, 10**6))
    top_p: float = opt(1.0, "sampling: keep the smallest set of tokens with this much probability", range=(0, 1, "(]"))
    max_new_tokens: int = opt(200, "most tokens to generate", range=(1, 10**6))
    no_repeat_ngram: int = opt(
        0,
        "never generate an n-gram of this many tokens twice in one output (0 = off; "
        "fairseq's --no-repeat-ngram-size, Hugging Face's no_repeat_ngram_size)",
        range=(0, 20),
    )
