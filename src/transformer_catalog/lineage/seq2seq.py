"""An LSTM encoder-decoder with additive attention (Bahdanau, Cho & Bengio 2014), the state of the art
the Transformer replaced, with the attention written out:

  encoder   a bidirectional LSTM over the source: annotations h_j = [h_j_fwd; h_j_bwd]
  score     e_ij = v^T tanh(W s_{i-1} + U h_j)            (masked at source padding)
  context   c_i = sum_j softmax_j(e_ij) h_j
  decoder   s_i = LSTMCell([y_{i-1}; c_i], s_{i-1});  p(y_i) = softmax(V tanh(O [s_i; c_i; y_{i-1}]))

With `attend=False` the decoder gets no context at all beyond its start state, set from the encoder's
final states: Sutskever et al.'s (2014) encoder-decoder, which must squeeze a verse into one vector.
The recurrences use torch's LSTM kernels (the fastest the LSTM can be on a CPU) so that the speed
comparison with the Transformer is fair to the LSTM.
"""

from __future__ import annotations

import torch
from torch import nn


class AttentionSeq2Seq(nn.Module):
    def __init__(self, vocab: int, d: int = 128, pad_id: int = 0, attend: bool = True, dropout: float = 0.1):
        super().__init__()
        self.pad_id, self.attend, self.d = pad_id, attend, d
        self.embed = nn.Embedding(vocab, d, padding_idx=pad_id)
        self.encoder = nn.LSTM(d, d, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * d, 2 * d)  # the encoder's final states -> the decoder's start (h, c)
        self.w = nn.Linear(d, d, bias=False)  # W s_{i-1}
        self.u = nn.Linear(2 * d, d)  # U h_j: computed once per source, not per decoder step
        self.v = nn.Linear(d, 1, bias=False)
        self.cell = nn.LSTMCell(d + 2 * d, d)
        self.pre_out = nn.Linear(d + 2 * d + d, d)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(d, vocab)

    def encode(self, src: torch.Tensor):
        mask = src != self.pad_id
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(src), lengths, batch_first=True, enforce_sorted=False)
        out, (h, c) = self.encoder(packed)
        annotations, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        # the decoder starts from both directions' final states
        start = torch.tanh(self.bridge(torch.cat([h[0], h[1]], -1)))
        state = start.chunk(2, -1)
        return annotations, self.u(annotations), mask, (state[0].contiguous(), state[1].contiguous())

    def context(self, s: torch.Tensor, annotations, keys, mask) -> torch.Tensor:
        """Additive attention: c = sum_j alpha_j h_j, alpha = softmax_j(v^T tanh(W s + U h_j))."""
        if not self.attend:
            return annotations.new_zeros(annotations.shape[0], annotations.shape[2])
        scores = self.v(torch.tanh(self.w(s)[:, None, :] + keys)).squeeze(-1)
        alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)
        return torch.bmm(alpha[:, None, :], annotations).squeeze(1)

    def step(self, y_prev: torch.Tensor, state, annotations, keys, mask):
        """One decoder step: logits for the next token, the new state."""
        e = self.drop(self.embed(y_prev))
        ctx = self.context(state[0], annotations, keys, mask)
        h, c = self.cell(torch.cat([e, ctx], -1), state)
        logits = self.out(self.drop(torch.tanh(self.pre_out(torch.cat([h, ctx, e], -1)))))
        return logits, (h, c)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (batch, target length, vocab): the interface the seq2seq objective calls."""
        annotations, keys, mask, state = self.encode(src)
        annotations = self.drop(annotations)
        logits = []
        for i in range(tgt_in.shape[1]):
            out, state = self.step(tgt_in[:, i], state, annotations, keys, mask)
            logits.append(out)
        return torch.stack(logits, 1)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, bos_id: int, eos_id: int, max_new: int) -> list[list[int]]:
        annotations, keys, mask, state = self.encode(src)
        y = torch.full((src.shape[0],), bos_id, dtype=torch.long)
        done = torch.zeros(src.shape[0], dtype=torch.bool)
        out = []
        for _ in range(max_new):
            logits, state = self.step(y, state, annotations, keys, mask)
            y = logits.argmax(-1)
            out.append(y)
            done |= y == eos_id
            if done.all():
                break
        rows = torch.stack(out, 1).tolist() if out else [[] for _ in range(src.shape[0])]
        return [r[: r.index(eos_id)] if eos_id in r else r for r in rows]
