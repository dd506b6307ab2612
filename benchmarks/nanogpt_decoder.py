"""A plain GPT in the nanoGPT style (fused qkv, SDPA causal attention, GELU MLP, pre-norm, tied
head, nanoGPT's N(0, 0.02) initialisation): the baseline peer of the decoder benchmarks, with a
hand-written KV-cache decode loop. (PyTorch's default N(0, 1) embedding init makes tied-head logits
so large that softmax underflows into denormals, which made this peer 6x slower at 124M.)"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.ln1, self.ln2, self.h = nn.LayerNorm(d), nn.LayerNorm(d), h
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x, cache=None):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.h, C // self.h).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if cache:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, ctx, d, h, n):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(ctx, d)
        self.blocks, self.ln = nn.ModuleList(Block(d, h) for _ in range(n)), nn.LayerNorm(d)
        for m in self.modules():  # nanoGPT's initialisation: N(0, 0.02) weights, zero biases
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, ids, caches=None, offset=0):
        x = self.tok(ids) + self.pos(torch.arange(offset, offset + ids.size(1)))
        for i, b in enumerate(self.blocks):
            x = b(x, None if caches is None else caches[i])
        return F.linear(self.ln(x), self.tok.weight)

    @torch.no_grad()
    def generate(self, ids, n):
        caches = [[] for _ in self.blocks]
        logits = self(ids, caches)
        out = []
        for _ in range(n):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            out.append(nxt)
            logits = self(nxt, caches, offset=ids.size(1) + len(out) - 1)
        return torch.cat(out, 1)
