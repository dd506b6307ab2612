"""Decoding: greedy, sampling (temperature, top-k, top-p) and beam search, all through the KV cache.

Works for decoder-only models (continue a prompt) and encoder-decoder models (translate a source).
`use_cache=False` recomputes the whole prefix at every step; the tests hold the cached path to it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .nn.attention import KVCache, StaticKVCache
from .nn.model import DecoderModel, EncoderDecoderModel, real_token_positions
from .runtime import has_cxx_compiler

StepFn = Callable[[Tensor, KVCache | None], Tensor]


def _stepper(model, src: Tensor | None, keep: Tensor | None = None) -> StepFn:
    """A function (new token ids, cache) -> logits of those positions. `keep` (B, T0) marks the
    prompt's real tokens (decoder-only models; Hugging Face's attention_mask): tokens generated
    later are real, padding is never attended to, and positions count real tokens only, as
    Hugging Face's generate numbers them, so a left-padded batch decodes like each prompt alone."""
    if isinstance(model, EncoderDecoderModel):
        if src is None:
            raise ValueError("an encoder-decoder model needs a source to decode from")
        if keep is not None:
            raise ValueError("a prompt padding mask is for decoder-only models (the source's padding is its pad_id)")
        src_keep = model.src_keep(src)
        memory = model.encode(src, src_keep)
        return lambda ids, cache: model.logits(model.decode(ids, memory, src_keep, cache))
    if not isinstance(model, DecoderModel):
        raise TypeError(f"{type(model).__name__} does not generate text (it has no decoder)")
    if keep is None:
        return lambda ids, cache: model(ids, cache)
    state = {"keep": keep.bool()}

    def step(ids: Tensor, cache) -> Tensor:
        total = ids.size(1) + (0 if cache is None else int(cache.length))
        grow = total - state["keep"].size(1)
        if grow > 0:  # the tokens generated since the last step are real
            state["keep"] = torch.cat([state["keep"], state["keep"].new_ones(ids.size(0), grow)], dim=1)
        full = state["keep"][:, :total]
        positions = real_token_positions(full)[:, -ids.size(1) :]
        return model(ids, cache, keep=full, positions=positions)

    return step


def filter_logits(logits: Tensor, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """Keep the k most likely tokens and/or the smallest set whose probability reaches top_p."""
    if top_k > 0:
        kth = logits.topk(min(top_k, logits.size(-1)), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) >= top_p  # tokens after the nucleus is full
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def banned_ngram_mask(seq: Tensor, n: int, vocab: int) -> Tensor:
    """(R, V) bool: the tokens that would repeat an n-gram already in each row of `seq` (R, L),
    i.e. those that followed an earlier occurrence of the row's last n-1 tokens. This is fairseq's
    --no-repeat-ngram-size and Hugging Face's no_repeat_ngram_size (NoRepeatNGramLogitsProcessor),
    over the whole sequence (prompt or start token included), as theirs is; n = 1 bans every token
    seen. Vectorised: every window of n tokens is compared with the last n-1 at once."""
    rows, length = seq.shape
    mask = torch.zeros(rows, vocab + 1, dtype=torch.bool, device=seq.device)
    if n <= 0 or length < n:  # no complete n-gram yet: nothing can repeat
        return mask[:, :vocab]
    windows = seq.unfold(1, n, 1)  # (R, L-n+1, n)
    match = (windows[:, :, : n - 1] == seq[:, None, length - n + 1 :]).all(-1)
    # a matching window bans its last token; the others all point at a spare column, so every write is True
    mask.scatter_(1, torch.where(match, windows[:, :, -1], vocab), True)
    return mask[:, :vocab]


def block_repeated_ngrams(logits: Tensor, seq: Tensor, n: int) -> Tensor:
    """`logits` (R, V) with -inf where the next token would repeat an n-gram of `seq` (n = 0: as is)."""
    if n <= 0:
        return logits
    return logits.masked_fill(banned_ngram_mask(seq, n, logits.size(-1)), float("-inf"))


@dataclass
class SamplingConfig:
    temperature: float = 0.0  # 0 = greedy
    top_k: int = 0
    top_p: float = 1.0


def compiled_stepper(model: DecoderModel, batch: int, max_len: int) -> tuple[StepFn, StaticKVCache]:
    """A decoding step over a static KV cache, one-token steps compiled with torch.compile: shapes
    never change, so it compiles once per (model, batch, max_len), and the per-token Python and
    dispatch work of the eager step is gone. The prompt (several tokens) runs eagerly."""
    cache = model.new_static_cache(batch, max_len)
    compiled = _COMPILED.get(id(model))
    if compiled is None or compiled[0] is not model:
        if len(_COMPILED) >= 8:  # a long-lived process generating from many models: forget the oldest
            _COMPILED.pop(next(iter(_COMPILED)))
        # cpp_wrapper: the compiled step calls its kernels from C++, not Python (~15% faster per token
        # on the 6.9M GPT, for ~15 s more compiling)
        compiled = _COMPILED[id(model)] = (
            model,
            torch.compile(model.forward, dynamic=False, options={"cpp_wrapper": True}),
        )

    def step(ids: Tensor, _cache) -> Tensor:
        logits = (compiled[1] if ids.size(1) == 1 else model)(ids, cache)
        cache.advance(ids.size(1))
        return logits

    return step, cache


_COMPILED: dict[int, tuple] = {}


def _compile_unsupported(model, src) -> str | None:
    if not isinstance(model, DecoderModel) or src is not None:
        return "an encoder-decoder model"
    if not has_cxx_compiler():
        return "no C++ compiler (inductor needs one on CPU)"
    return model.static_cache_unsupported()


@torch.no_grad()
def iter_tokens(
    model,
    start: Tensor,
    max_new_tokens: int,
    src: Tensor | None = None,
    eos_id: int | None = None,
    sampling: SamplingConfig = SamplingConfig(),
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    compile: bool = False,
    keep: Tensor | None = None,
    no_repeat_ngram: int = 0,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield (next token ids (B,), their logits (B, V)) one step at a time. `start` (B, T0) is the
    prompt (decoder-only) or the start-of-sequence token(s) (encoder-decoder). `compile`: decode
    through a static cache with a compiled step (decoder-only models; others decode eagerly, with
    a warning saying why). `keep` (B, T0): the prompt's real tokens, for a left-padded batch of
    prompts (Hugging Face's attention_mask). `no_repeat_ngram` n > 0: no row generates an n-gram of
    tokens it already holds (see block_repeated_ngrams; the logits yielded are the blocked ones)."""
    if keep is not None and bool(keep.all()):
        keep = None  # nothing is padded: the unmasked path is the same computation, and faster
    why = _compile_unsupported(model, src) if compile and use_cache else None
    if why is None and compile and use_cache and keep is not None:
        why = "a padded batch of prompts"
    if compile and use_cache and why is None:
        step, cache = compiled_stepper(model, start.size(0), start.size(1) + max_new_tokens)
    else:
        if compile and why:
            warnings.warn(f"compiled decoding is not available for {why}: decoding eagerly", stacklevel=2)
        step = _stepper(model, src, keep)
        cache = model.new_cache() if use_cache else None
    seq, done = start, torch.zeros(start.size(0), dtype=torch.bool, device=start.device)
    nxt = start[:, -1]  # the last token so far; each step feeds the one it chose
    for i in range(max_new_tokens):
        inp = seq if cache is None or i == 0 else nxt[:, None]  # a fresh (B, 1) tensor: same strides every step
        raw = step(inp, cache)[:, -1].float()
        logits = block_repeated_ngrams(raw, seq, no_repeat_ngram)
        if no_repeat_ngram:  # a row with every token blocked (n = 1 past the vocabulary) is unblocked, not NaN
            logits = torch.where(torch.isinf(logits).all(-1, keepdim=True), raw, logits)
        if sampling.temperature > 0:
            probs = filter_logits(logits / sampling.temperature, sampling.top_k, sampling.top_p).softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        else:
            nxt = logits.argmax(-1)
        if eos_id is not None:
            nxt = nxt.masked_fill(done, eos_id)  # finished rows keep emitting eos
            done = done | (nxt == eos_id)
        seq = torch.cat([seq, nxt[:, None]], dim=1)
        yield nxt, logits
        if eos_id is not None and bool(done.all()):
            return


def generate(model, start: Tensor, max_new_tokens: int, **kwargs) -> Tensor:
    """The new tokens (B, <= max_new_tokens), including the eos each row stopped at."""
    steps = [tok for tok, _ in iter_tokens(model, start, max_new_tokens, **kwargs)]
    if not steps:
        return start.new_zeros(start.size(0), 0)
    return torch.stack(steps, dim=1)


def stream_text(
    model,
    tok,
    start: Tensor,
    max_new_tokens: int,
    src: Tensor | None = None,
    sampling: SamplingConfig = SamplingConfig(),
    compile: bool = False,
    no_repeat_ngram: int = 0,
) -> Iterator[str]:
    """Decoded text as it is produced, one piece per new token, for a batch of one: what `tcat
    generate` prints. Byte-level BPE may need several tokens for one character, so each piece is
    what became decodable since the last (the text of all tokens so far, minus what was shown)."""
    ids: list[int] = []
    shown = ""
    for nxt, _ in iter_tokens(
        model,
        start,
        max_new_tokens,
        src=src,
        eos_id=tok.eos_id,
        sampling=sampling,
        compile=compile,
        no_repeat_ngram=no_repeat_ngram,
    ):
        if nxt.item() == tok.eos_id:
            return
        ids.append(nxt.item())
        text = tok.decode(ids)
        if len(text) > len(shown):
            yield text[len(shown) :]
            shown = text


def strip_after_eos(ids: list[int], eos_id: int | None) -> list[int]:
    return ids[: ids.index(eos_id)] if eos_id is not None and eos_id in ids else ids


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's lp(Y) = ((5 + |Y|) / 6)^alpha; the paper decodes with alpha = 0.6 (section 6.1)."""
    return ((5.0 + length) / 6.0) ** alpha


@torch.no_grad()
def beam_search(
    model: EncoderDecoderModel | DecoderModel,
    start: Tensor,
    max_new_tokens: int,
    beam_size: int = 4,
    alpha: float = 0.6,
    src: Tensor | None = None,
    eos_id: int | None = None,
    use_cache: bool = True,
    keep: Tensor | None = None,
    no_repeat_ngram: int = 0,
) -> list[list[int]]:
    """Best hypothesis per batch row by log-probability / lp(length). Paper: beam 4, alpha 0.6.
    `keep` (B, T0): the prompt's real tokens, for a left-padded batch (see iter_tokens).
    `no_repeat_ngram` n > 0: each beam is blocked from repeating its own n-grams (fairseq, HF)."""
    B, K = start.size(0), beam_size
    if src is not None:
        src = src.repeat_interleave(K, dim=0)
    # every beam of a row shares that row's prompt, so reordering beams never changes the mask
    step = _stepper(model, src, None if keep is None else keep.repeat_interleave(K, dim=0))
    cache = model.new_cache() if use_cache else None
    seq = start.repeat_interleave(K, dim=0)
    scores = torch.full((B, K), float("-inf"), device=start.device)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
    done = [False] * B
    n0 = start.size(1)
    for t in range(max_new_tokens):
        inp = seq if cache is None or t == 0 else seq[:, -1:]
        logp = F.log_softmax(step(inp, cache)[:, -1].float(), dim=-1)
        logp = block_repeated_ngrams(logp, seq, no_repeat_ngram)  # after the softmax, as HF and fairseq do
        V = logp.size(-1)
        cand = (scores.view(-1, 1) + logp).view(B, K * V)
        top_scores, top_idx = cand.topk(2 * K, dim=-1)
        rows, tokens, new_scores = [], [], []
        for b in range(B):
            kept = 0
            for s, idx in zip(top_scores[b].tolist(), top_idx[b].tolist()):
                beam, tok = divmod(idx, V)
                if s == float("-inf"):
                    break
                if eos_id is not None and tok == eos_id:
                    if not done[b]:
                        hyp = seq[b * K + beam, n0:].tolist()
                        finished[b].append((s / length_penalty(len(hyp) + 1, alpha), hyp))
                    continue
                rows.append(b * K + beam)
                tokens.append(tok)
                new_scores.append(s)
                kept += 1
                if kept == K:
                    break
            while kept < K:  # fewer live candidates than beams: pad with dead beams
                rows.append(b * K)
                tokens.append(eos_id if eos_id is not None else 0)
                new_scores.append(float("-inf"))
                kept += 1
            if len(finished[b]) >= K:
                best_alive = max(new_scores[-K:]) / length_penalty(t + 1, alpha)
                done[b] = done[b] or best_alive < min(f[0] for f in finished[b])
        index = torch.tensor(rows, device=start.device)
        seq = torch.cat([seq.index_select(0, index), torch.tensor(tokens, device=start.device)[:, None]], dim=1)
        scores = torch.tensor(new_scores, device=start.device).view(B, K)
        if cache is not None:
            cache.reorder(index)
        if all(done):
            break
    out = []
    for b in range(B):
        hyps = list(finished[b])
        for k in range(K):  # unfinished beams compete too
            s = scores[b, k].item()
            if s > float("-inf"):
                hyp = seq[b * K + k, n0:].tolist()
                hyps.append((s / length_penalty(len(hyp), alpha), hyp))
        out.append(max(hyps, key=lambda h: h[0])[1] if hyps else [])
    return out
