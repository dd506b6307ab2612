"""Streaming decoding: text as it is produced, for `tcat generate`. Kept beside generate.py (whose
functions it calls) rather than in it, so that it can change without touching the decoding core."""

from __future__ import annotations

from collections.abc import Iterator

from torch import Tensor

from .generate import SamplingConfig, iter_tokens


def stream_text(
    model,
    tok,
    start: Tensor,
    max_new_tokens: int,
    src: Tensor | None = None,
    sampling: SamplingConfig = SamplingConfig(),
    compile: bool = False,
) -> Iterator[str]:
    """Decoded text as it is produced, one piece per new token, for a batch of one: what `tcat
    generate` prints. Byte-level BPE may need several tokens for one character, so each piece is
    what became decodable since the last (the text of all tokens so far, minus what was shown)."""
    ids: list[int] = []
    shown = ""
    for nxt, _ in iter_tokens(
        model, start, max_new_tokens, src=src, eos_id=tok.eos_id, sampling=sampling, compile=compile
    ):
        if nxt.item() == tok.eos_id:
            return
        ids.append(nxt.item())
        text = tok.decode(ids)
        if len(text) > len(shown):
            yield text[len(shown) :]
            shown = text
