"""Planted-bug (mutation) check: does the test suite catch realistic bugs in the core?

Each mutant is one small edit of the package source (file, exact old text, new text) and the test
selection that should catch it. For each mutant the package is copied to a temporary folder, the edit
is applied to the copy, and the selected tests run with PYTHONPATH pointing at the copy, which takes
precedence over the editable install (checked before the run). A mutant is
  caught    the selected tests fail (or cannot even be collected),
  survived  they pass: the suite cannot see this bug,
  stale     its old text is not in the file (the code moved: refresh the anchor),
  ambiguous its old text occurs more than once.
Before the mutants, every distinct test selection runs once on the unmodified copy: a selection that
fails there would make its mutants look caught, so the run stops.

    OMP_NUM_THREADS=1 python scripts/mutants.py             # all mutants (about 20 minutes, 1 thread)
    python scripts/mutants.py --check                       # anchors only: stale / ambiguous, no tests
    python scripts/mutants.py --only attn-scale,nsp-keep    # some of them
    python scripts/mutants.py --json results.json           # also write the results

Slow and CPU-bound, so not part of the default test run (see TESTING.md); run it before landing a
change to nn/, families/, interop/, objectives/, generate.py or apps/translation.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "transformer_catalog"


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str  # relative to src/transformer_catalog
    old: str
    new: str
    tests: tuple[str, ...]  # pytest node ids or files, with optional -k expressions as "file::-k expr"
    what: str


PARITY = "tests/test_hf_parity.py"
TORCH_ORACLE = "tests/test_parity_torch_transformer.py"
EQUIV = "tests/test_equivalences.py"
GEN = "tests/test_generate.py"
OBJ_DATA = "tests/test_objective_data.py"
OBJ = "tests/test_objectives.py::-k mlm_chooses or span_corruption or prefix or permutation"
MT = "tests/test_translation_eval.py"
MOE = "tests/test_hf_parity_moe.py"
MODERN = "tests/test_hf_parity_modern.py"
CORE = "tests/test_modern_core.py"

MUTANTS = [
    # -- nn/: attention --------------------------------------------------------------------------
    Mutant(
        "attn-scale",
        "nn/attention.py",
        "            q, k, v, mask, causal, dropout_p, self.backend,",
        "            q * 1.25, k, v, mask, causal, dropout_p, self.backend,",
        (PARITY, TORCH_ORACLE),
        "every attention score x1.25",
    ),
    Mutant(
        "eager-scale",
        "nn/attention.py",
        "* (1 / math.sqrt(q.size(-1)) if scale is None else scale)",
        "* (1 / q.size(-1) if scale is None else scale)",
        (EQUIV,),
        "eager path divides by d, not sqrt(d)",
    ),
    Mutant(
        "eager-softmax-dim",
        "nn/attention.py",
        "weights = scores.softmax(dim=-1)",
        "weights = scores.softmax(dim=-2)",
        (EQUIV,),
        "eager softmax over queries",
    ),
    Mutant(
        "causal-diag",
        "nn/masks.py",
        ".tril(n_keys - n_queries)",
        ".tril(n_keys - n_queries + 1)",
        (GEN, EQUIV),
        "causal mask lets each query see the next token",
    ),
    Mutant(
        "padding-mask-off",
        "nn/masks.py",
        "return keep[:, None, None, :]",
        "return torch.ones_like(keep)[:, None, None, :]",
        (EQUIV,),
        "padding is attended to",
    ),
    Mutant(
        "window-off-by-one",
        "nn/masks.py",
        "(k > q - window)",
        "(k >= q - window)",
        (PARITY + "::-k mistral",),
        "sliding window one key too wide",
    ),
    Mutant(
        "gqa-repeat",
        "nn/attention.py",
        "k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)",
        "k, v = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)",
        (PARITY + "::-k llama",),
        "grouped-query heads tiled instead of interleaved",
    ),
    Mutant(
        "out-proj-heads",
        "nn/attention.py",
        "B, H, T, d = y.shape\n        return self.out_proj(y.transpose(1, 2).reshape(B, T, H * d))",
        "B, H, T, d = y.shape\n        return self.out_proj(y.reshape(B, T, H * d))",
        (TORCH_ORACLE,),
        "heads merged in the wrong order",
    ),
    Mutant(
        "kv-cache-no-rotate-offset",
        "nn/layers.py",
        "rows = (table_rows(self.cos, past, n_queries), table_rows(self.sin, past, n_queries))",
        "rows = (table_rows(self.cos, 0, n_queries), table_rows(self.sin, 0, n_queries))",
        (PARITY + "::-k cache or greedy",),
        "cached decoding rotates every new query as position 0",
    ),
    # -- nn/: positions, norms, feed-forward -----------------------------------------------------
    Mutant(
        "sinusoid-swap",
        "nn/layers.py",
        "table[:, 0::2] = torch.sin(pos * inv_freq)",
        "table[:, 0::2] = torch.cos(pos * inv_freq)",
        (TORCH_ORACLE,),
        "cos where the paper has sin",
    ),
    Mutant(
        "sinusoid-base",
        "nn/layers.py",
        "(-math.log(10000.0) / d_model)",
        "(-math.log(1000.0) / d_model)",
        (TORCH_ORACLE,),
        "sinusoid wavelengths from base 1000",
    ),
    Mutant(
        "embed-scale",
        "nn/model.py",
        "self.scale = (math.sqrt(width) if e.scale else 1.0) * e.multiplier",
        "self.scale = 1.0 * e.multiplier",
        (TORCH_ORACLE,),
        "no sqrt(d_model) embedding scale",
    ),
    Mutant(
        "rope-sign",
        "nn/layers.py",
        "rotated = torch.cat([-x_rot[..., half:], x_rot[..., :half]], dim=-1)",
        "rotated = torch.cat([x_rot[..., half:], -x_rot[..., :half]], dim=-1)",
        (PARITY + "::-k llama",),
        "RoPE rotates the wrong way",
    ),
    Mutant(
        "rope-theta",
        "nn/rope.py",
        "base_frequencies(rot, cfg.rope_theta)",
        "base_frequencies(rot, 10000.0)",
        (PARITY + "::-k llama",),
        "rope_theta ignored",
    ),
    Mutant(
        "llama3-blend",
        "nn/rope.py",
        "mixed = (1 - blend) * inv_freq / cfg.rope_factor + blend * inv_freq",
        "mixed = blend * inv_freq / cfg.rope_factor + (1 - blend) * inv_freq",
        (PARITY + "::-k llama3",),
        "llama3 RoPE blend inverted",
    ),
    Mutant(
        "rope-linear",
        "nn/rope.py",
        "return inv_freq / cfg.rope_factor\n",
        "return inv_freq * cfg.rope_factor\n",
        (PARITY + "::-k llama",),
        "linear RoPE scaling multiplies",
    ),
    Mutant(
        "rmsnorm-eps",
        "nn/layers.py",
        "h.pow(2).mean(-1, keepdim=True) + self.eps)\n        if self.unit_offset:",
        "h.pow(2).mean(-1, keepdim=True) + 1e-2)\n        if self.unit_offset:",
        (PARITY + "::-k llama",),
        "RMSNorm eps 1e-2",
    ),
    Mutant(
        "rmsnorm-mean",
        "nn/layers.py",
        "h.pow(2).mean(-1, keepdim=True) + self.eps)\n        if self.unit_offset:",
        "h.pow(2).sum(-1, keepdim=True) + self.eps)\n        if self.unit_offset:",
        (PARITY + "::-k llama",),
        "RMSNorm sums instead of averaging",
    ),
    Mutant(
        "gated-ffn",
        "nn/layers.py",
        "self.act(self.gate(x)) * self.up(x)",
        "self.gate(x) * self.act(self.up(x))",
        (PARITY + "::-k llama",),
        "activation on the wrong branch of the gated FFN",
    ),
    Mutant(
        "post-norm",
        "nn/blocks.py",
        "y = self._out(sublayer(x))\n            return norm(x + y) if h is None",
        "y = self._out(sublayer(norm(x)))\n            return x + y if h is None",
        (TORCH_ORACLE,),
        "post-norm block applies pre-norm",
    ),
    Mutant(
        "alibi-slopes",
        "nn/layers.py",
        "start = 2 ** (-8 / n)",
        "start = 2 ** (-4 / n)",
        (PARITY + "::-k bloom",),
        "ALiBi slopes of the wrong series",
    ),
    Mutant(
        "t5-bucket-direction",
        "nn/layers.py",
        "out = out + (rel > 0).long() * n",
        "out = out + (rel < 0).long() * n",
        (PARITY + "::-k t5",),
        "T5 buckets left for right",
    ),
    Mutant(
        "t5-bucket-log",
        "nn/layers.py",
        "math.log(self.max_distance / exact)",
        "math.log(self.max_distance)",
        (PARITY + "::-k t5",),
        "T5 log buckets mis-spaced",
    ),
    Mutant(
        "moe-renormalise",
        "nn/moe.py",
        "weights = weights / weights.sum(dim=-1, keepdim=True)",
        "weights = weights",
        (PARITY + "::-k mixtral",),
        "Mixtral top-2 weights not renormalised",
    ),
    Mutant(
        "moe-aux",
        "nn/moe.py",
        "self.aux_loss = self.n_experts * (",
        "self.aux_loss = (",
        (PARITY + "::-k load_balancing",),
        "load-balancing loss without the E factor",
    ),
    Mutant(
        "deberta-bucket-sign",
        "nn/disentangled.py",
        "(log_pos * rel.sign()).long()",
        "log_pos.long()",
        (PARITY + "::-k deberta",),
        "DeBERTa log buckets lose the offset's sign",
    ),
    Mutant(
        "real-positions",
        "nn/model.py",
        "(keep.long().cumsum(-1) - 1).clamp(min=0)",
        "(keep.long().cumsum(-1)).clamp(min=0)",
        (EQUIV + "::-k padding",),
        "left-padded prompts numbered from 1",
    ),
    Mutant(
        "moe-sigmoid",
        "nn/moe.py",
        "else logits.sigmoid()",
        "else logits.softmax(dim=-1)",
        (MOE + "::-k deepseek_v3",),
        "sigmoid router scores (DeepSeek-V3) computed as a softmax",
    ),
    Mutant(
        "moe-selection-weighs",
        "nn/moe.py",
        "weights = scores.gather(1, experts)",
        "weights = choice.gather(1, experts)",
        (MOE + "::-k deepseek_v3",),
        "the selection bias leaks into the experts' weights",
    ),
    Mutant(
        "moe-routed-scale",
        "nn/moe.py",
        "return scores, weights * m.routed_scale, experts",
        "return scores, weights, experts",
        (MOE + "::-k deepseek",),
        "routed_scaling_factor ignored",
    ),
    Mutant(
        "sinks-drop",
        "nn/attention.py",
        ".softmax(dim=-1)[..., :-1]",
        ".softmax(dim=-1)[..., 1:]",
        (MOE + "::-k gpt_oss",),
        "attention sinks: the sink's column kept, the last key's dropped",
    ),
    Mutant(
        "chunk-mask",
        "nn/masks.py",
        "return q // chunk == torch.arange(",
        "return q // chunk >= torch.arange(",
        (MOE + "::-k llama4",),
        "chunked attention sees earlier chunks (Llama 4)",
    ),
    # -- nn/: issue 20's dense fields (Gemma, Qwen3, SmolLM3, Phi-3) ------------------------------
    Mutant(
        "unit-offset-ignored",
        "nn/layers.py",
        "return (h * (1.0 + self.weight.float())).to(x.dtype)",
        "return (h * self.weight.float()).to(x.dtype)",
        (MODERN + "::-k logits_match and gemma", CORE + "::-k unit_offset"),
        "RMSNorm's unit offset ignored: the gain is the stored offset (Gemma)",
    ),
    Mutant(
        "local-rope-base-ignored",
        "nn/layers.py",
        "inv_freq = 1.0 / cfg.rope_local_theta ** (",
        "inv_freq = 1.0 / cfg.rope_theta ** (",
        (MODERN + "::-k logits_match and gemma3", CORE + "::-k local_layers"),
        "local layers rotate with the global RoPE base (Gemma 3)",
    ),
    Mutant(
        "nope-layers-rotate",
        "nn/attention.py",
        'self.rotates = cfg.rotates_at(layer) or cfg.position.kind != "rope"',
        "self.rotates = True",
        (MODERN + "::-k logits_match and smollm3", CORE + "::-k nope"),
        "NoPE layers rotate queries and keys (SmolLM3)",
    ),
    Mutant(
        "attn-softcap-dropped",
        "nn/attention.py",
        "scores = torch.tanh(scores / softcap) * softcap",
        "scores = scores",
        (MODERN + "::-k logits_match and gemma2", CORE + "::-k softcaps"),
        "attention logit soft-capping dropped (Gemma 2)",
    ),
    Mutant(
        "output-softcap-dropped",
        "nn/model.py",
        "logits = torch.tanh(logits / cap) * cap",
        "logits = logits",
        (MODERN + "::-k logits_match and gemma2", CORE + "::-k softcaps"),
        "final logit soft-capping dropped (Gemma 2)",
    ),
    Mutant(
        "sandwich-post-norm-dropped",
        "nn/blocks.py",
        "y = self._out(y if post is None else post(y))",
        "y = self._out(y)",
        (MODERN + "::-k logits_match and gemma2", CORE + "::-k placements"),
        "sandwich norm: the norm on each sublayer's output dropped (Gemma 2/3)",
    ),
    Mutant(
        "qk-norm-head-skipped",
        "nn/attention.py",
        "return self.q_norm(q.unflatten(-1, (-1, self.head_dim))).flatten(-2)",
        "return q",
        (MODERN + "::-k logits_match and qwen3", CORE + "::-k qk_norm"),
        "per-head query norm skipped (Qwen3)",
    ),
    Mutant(
        "phi3-gate-up-swap",
        "families/_decoder.py",
        'rule((f"{mlp}.gate.{w}", f"{mlp}.up.{w}"), f"{H}.mlp.{fused_gate_up}.{w}")',
        'rule((f"{mlp}.up.{w}", f"{mlp}.gate.{w}"), f"{H}.mlp.{fused_gate_up}.{w}")',
        (MODERN + "::-k logits_match and phi3",),
        "Phi-3's fused gate_up_proj split with its halves swapped",
    ),
    # -- families/ and interop/: converters ------------------------------------------------------
    Mutant(
        "bart-qk-swap",
        "families/bart.py",
        '*linear(f"{ours}.self_attn.q_proj", f"{theirs}.self_attn.q_proj"),\n'
        '        *linear(f"{ours}.self_attn.k_proj", f"{theirs}.self_attn.k_proj"),',
        '*linear(f"{ours}.self_attn.q_proj", f"{theirs}.self_attn.k_proj"),\n'
        '        *linear(f"{ours}.self_attn.k_proj", f"{theirs}.self_attn.q_proj"),',
        (PARITY + "::-k encoder_decoder",),
        "BART converter swaps q and k",
    ),
    Mutant(
        "gpt2-no-transpose",
        "families/gpt2.py",
        '*linear(f"{B}.ffn.up", "transformer.h.{i}.mlp.c_fc", transpose=True),',
        '*linear(f"{B}.ffn.up", "transformer.h.{i}.mlp.c_fc", transpose=False),',
        (PARITY + "::-k gpt2",),
        "GPT-2 Conv1D weight not transposed",
    ),
    Mutant(
        "gptj-order",
        "families/gptj.py",
        "per_head = list(range(0, rot, 2)) + list(range(1, rot, 2))",
        "per_head = list(range(1, rot, 2)) + list(range(0, rot, 2))",
        (PARITY + "::-k gptj",),
        "GPT-J interleaved rotary rows permuted wrongly",
    ),
    Mutant(
        "openai-gelu",
        "families/openai_gpt.py",
        'AFN = {"gelu": "gelu_tanh",',
        'AFN = {"gelu": "gelu",',
        (PARITY + "::-k openai",),
        "OpenAI GPT's gelu read as exact GELU (the bug the peaked parity found)",
    ),
    Mutant(
        "roberta-offset",
        "families/bert.py",
        'offset = hf["pad_token_id"] + 1 if roberta else 0',
        'offset = hf["pad_token_id"] if roberta else 0',
        (PARITY + "::-k roberta",),
        "RoBERTa positions start one row early",
    ),
    Mutant(
        "t5-rescale",
        "families/t5.py",
        'rescale = bool(hf.get("scale_decoder_outputs", tied))',
        "rescale = False",
        (PARITY + "::-k t5",),
        "T5 v1.0 tied head not rescaled by d_model^-0.5",
    ),
    Mutant(
        "t5-scale",
        "families/t5.py",
        "scale=1.0, qkv_bias=False",
        "scale=None, qkv_bias=False",
        (PARITY + "::-k t5",),
        "T5 logits scaled by head_dim^-0.5",
    ),
    Mutant(
        "mla-rope-deinterleave",
        "families/deepseek.py",
        "return torch.cat([t[0::2], t[1::2]])",
        "return t",
        (MOE + "::-k deepseek",),
        "DeepSeek's interleaved rope rows of q/k not de-interleaved on load",
    ),
    # -- generate.py: decoding -------------------------------------------------------------------
    Mutant(
        "length-penalty-one",
        "generate.py",
        "return ((5.0 + length) / 6.0) ** alpha",
        "return 1.0",
        (GEN,),
        "GNMT length penalty always 1",
    ),
    Mutant(
        "length-penalty-eos",
        "generate.py",
        "finished[b].append((s / length_penalty(len(hyp) + 1, alpha), hyp))",
        "finished[b].append((s / length_penalty(len(hyp), alpha), hyp))",
        (GEN,),
        "finished hypotheses' length omits the eos",
    ),
    Mutant(
        "temperature-multiplies",
        "generate.py",
        "logits / sampling.temperature",
        "logits * sampling.temperature",
        (GEN,),
        "temperature multiplies instead of divides",
    ),
    Mutant(
        "top-p-boundary",
        "generate.py",
        "drop = cum - sorted_logits.softmax(-1) >= top_p",
        "drop = cum >= top_p",
        (GEN,),
        "nucleus drops the token that fills it",
    ),
    Mutant(
        "top-k-off-by-one", "generate.py", "values[..., -1:]", "values[..., -2:-1]", (GEN,), "top-k keeps k-1 tokens"
    ),
    Mutant(
        "beam-first-only",
        "generate.py",
        "scores[:, 0] = 0.0",
        "scores[:, :] = 0.0",
        (GEN,),
        "all beams expanded at the first step (duplicates)",
    ),
    # -- objectives/ -----------------------------------------------------------------------------
    Mutant(
        "nsp-keep-continuation",
        "objectives/masked.py",
        "b = [t for s in docs[j + (j >= i)] for t in s]",
        "b = b",
        (OBJ_DATA,),
        "NSP negatives keep the true continuation",
    ),
    Mutant(
        "nsp-self-negative",
        "objectives/masked.py",
        "docs[j + (j >= i)]",
        "docs[j]",
        (OBJ_DATA,),
        "an NSP negative may be drawn from the document itself",
    ),
    Mutant(
        "wwm-fallback-piece",
        "objectives/masked.py",
        "chosen[row] = (word[row] == word[row, pos]) & ~special[row]",
        "chosen[row, pos] = True",
        (OBJ_DATA,),
        "whole-word masking's at-least-one target is a single piece",
    ),
    Mutant(
        "sop-no-swap",
        "objectives/masked.py",
        "a, b = b, a",
        "a, b = a, b",
        (OBJ_DATA,),
        "SOP negatives are never swapped",
    ),
    Mutant(
        "wwm-rate",
        "objectives/masked.py",
        "pick = torch.rand(ids.size(0), ids.size(1) + 1, generator=g) < self.mask_prob",
        "pick = torch.rand(ids.size(0), ids.size(1) + 1, generator=g) < 0.9",
        (OBJ_DATA,),
        "whole-word masking picks 90% of the words",
    ),
    Mutant(
        "context-blind",
        "nn/attention.py",
        "B, H, T, d = y.shape\n        return self.out_proj(y.transpose(1, 2).reshape(B, T, H * d))",
        "B, H, T, d = y.shape\n        return 0 * self.out_proj(y.transpose(1, 2).reshape(B, T, H * d))",
        ("tests/test_objectives.py::-k beats_a_control",),
        "attention output zeroed: a model that sees no context",
    ),
    Mutant(
        "mlm-specials",
        "objectives/masked.py",
        "chosen = (torch.rand(ids.shape, generator=g) < self.mask_prob) & ~special",
        "chosen = torch.rand(ids.shape, generator=g) < self.mask_prob",
        (OBJ,),
        "MLM may mask [CLS]/[SEP]/padding",
    ),
    Mutant(
        "clm-labels",
        "objectives/causal.py",
        '"labels": pad([s[1:] for s in seqs], IGNORE)',
        '"labels": pad([s[:-1] for s in seqs], IGNORE)',
        ("tests/test_objectives.py::-k causal_lm_labels",),
        "causal LM predicts the current token",
    ),
    Mutant(
        "label-smoothing-off",
        "objectives/seq2seq.py",
        "label_smoothing=label_smoothing,",
        "label_smoothing=0.0,",
        ("tests/test_training.py::-k label_smoothing",),
        "translation ignores label smoothing",
    ),
    Mutant(
        "mlm-split",
        "objectives/masked.py",
        "masked = chosen & (r < self.split[0])",
        "masked = chosen & (r < 0.5)",
        (OBJ,),
        "MLM masks 50% of the chosen tokens, not 80%",
    ),
    Mutant(
        "prefix-leak",
        "objectives/causal.py",
        "mask = causal | (pos[None, None, :] < prefix[:, None, None])",
        "mask = causal | (pos[None, None, :] <= prefix[:, None, None])",
        (OBJ_DATA,),
        "prefix-LM mask: one suffix token leaks into the prefix",
    ),
    Mutant(
        "prefix-rows-see-suffix",
        "objectives/causal.py",
        "mask = causal | (pos[None, None, :] < prefix[:, None, None])",
        "mask = causal | (pos[None, :, None] < prefix[:, None, None])",
        (OBJ_DATA,),
        "prefix rows see the whole suffix",
    ),
    Mutant(
        "prefix-labels",
        "objectives/causal.py",
        "labels[pos[None, :] < (prefix[:, None] - 1)] = IGNORE",
        "labels[pos[None, :] < prefix[:, None]] = IGNORE",
        (OBJ_DATA,),
        "the first suffix token is not predicted",
    ),
    Mutant(
        "plm-no-permutation",
        "objectives/causal.py",
        "order[b, :n] = torch.randperm(n, generator=g)",
        "order[b, :n] = torch.arange(n)",
        (OBJ_DATA,),
        "permutation LM never permutes",
    ),
    Mutant(
        "plm-sees-future",
        "objectives/causal.py",
        "mask = (order[:, None, :] < order[:, :, None])",
        "mask = (order[:, None, :] <= order[:, :, None] + 1)",
        (OBJ_DATA,),
        "permutation LM lets a query see the next token in the order",
    ),
    Mutant(
        "bart-no-permute",
        "objectives/denoising.py",
        "rng.shuffle(sentences)",
        "pass",
        (OBJ_DATA,),
        "BART sentence permutation switched off",
    ),
    Mutant(
        "span-density",
        "objectives/denoising.py",
        "n_noise = min(max(1, round(n * density)), n - 1)",
        "n_noise = min(max(1, round(n * 2 * density)), n - 1)",
        (OBJ,),
        "T5 corrupts 30% of the tokens",
    ),
    Mutant(
        "contrastive-target",
        "nn/dual.py",
        "return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2",
        "return F.cross_entropy(logits, target)",
        (PARITY + "::-k clip",),
        "CLIP loss one-sided",
    ),
    # -- evaluation ------------------------------------------------------------------------------
    Mutant(
        "bleu-against-sources",
        "apps/translation.py",
        '"bleu": round(sacrebleu.corpus_bleu(hyps, [refs]).score, 2)',
        '"bleu": round(sacrebleu.corpus_bleu(hyps, [srcs]).score, 2)',
        (MT,),
        "BLEU scored against the sources",
    ),
    Mutant(
        "chrf-copy-baseline",
        "apps/translation.py",
        '"copy_source_chrf": round(sacrebleu.corpus_chrf(srcs, [refs]).score, 2)',
        '"copy_source_chrf": round(sacrebleu.corpus_chrf(refs, [refs]).score, 2)',
        (MT,),
        "copy baseline scores the references",
    ),
    Mutant(
        "search-recall",
        "apps/search.py",
        "r1 += rank == 1",
        "r1 += rank <= 2",
        ("tests/test_search.py::-k by_hand or reworded",),
        "recall@1 counts rank 2",
    ),
    Mutant(
        "classify-f1",
        "apps/classify.py",
        "f1s.append(2 * tp / max(2 * tp + fp + fn, 1))",
        "f1s.append(tp / max(tp + fp + fn, 1))",
        ("tests/test_classify.py::test_scores_by_hand",),
        "macro F1 computed as Jaccard",
    ),
    # the course (issue 17) and the DiT sampler (issue 14)
    Mutant(
        "ddim-raw-eps",
        "diffusion/sampling.py",
        "eps = (x - a.sqrt() * x0) / (1 - a).sqrt()",
        "eps = eps",
        ("tests/test_dit.py::-k ddim",),
        "DDIM keeps the raw noise beside the clipped x0 (samples shrink step by step)",
    ),
    Mutant(
        "ner-i-after-o",
        "metrics/ner.py",
        'if prefix != "O" and start is None:',
        'if prefix == "B" and start is None:',
        ("tests/test_ner.py",),
        "an I- tag after O starts no entity (conlleval starts one)",
    ),
    Mutant(
        "ctfidf-idf",
        "apps/topics.py",
        "idf = np.log(1 + average / per_word)",
        "idf = np.log(average / per_word)",
        ("tests/test_topics.py",),
        "c-TF-IDF's idf without the +1",
    ),
    Mutant(
        "multiclass-fn",
        "apps/multiclass.py",
        "fn = ((p != c) & (g == c)).sum(1)",
        "fn = ((p != c) & (g != c)).sum(1)",
        ("tests/test_multiclass.py::-k resampled_macro_f1",),
        "resampled macro-F1 counts true negatives as misses",
    ),
    Mutant(
        "setfit-positive-self",
        "apps/setfit.py",
        "same = [j for j in by_label[y] if j != i] or [i]",
        "same = [i]",
        ("tests/test_setfit.py::-k pairs_give_every_example",),
        "SetFit's positive partner is the example itself",
    ),
]


def _pytest_args(selection: tuple[str, ...]) -> list[str]:
    args, keys = [], []
    for item in selection:
        path, _, k = item.partition("::-k ")
        args.append(path)
        if k:
            keys.append(f"({k})")
    if keys and len(keys) != len(selection):
        raise ValueError(f"{selection}: -k applies to every file; give each item one, or none")
    if keys:
        args += ["-k", " or ".join(keys)]
    return args


def _baseline_selections(mutants: list[Mutant]) -> list[tuple[str, ...]]:
    """Every test any mutant selects, one run per test file: a file's -k expressions are or-ed, and
    a file some mutant runs whole runs whole."""
    keys: dict[str, set[str] | None] = {}
    for m in mutants:
        for item in m.tests:
            path, _, k = item.partition("::-k ")
            if not k:
                keys[path] = None
            elif keys.get(path, set()) is not None:
                keys.setdefault(path, set()).add(f"({k})")
    return [(path if ks is None else f"{path}::-k {' or '.join(sorted(ks))}",) for path, ks in sorted(keys.items())]


def _env(copy: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1", "TCAT_MUTANT": "1"}


def _run_tests(copy: Path, selection: tuple[str, ...], timeout: int) -> tuple[str, float, str]:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-x",
        "-p",
        "no:xdist",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow",
        *_pytest_args(selection),
    ]
    t0 = time.time()
    try:
        res = subprocess.run(cmd, cwd=ROOT, env=_env(copy), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "caught", time.time() - t0, "timed out (a mutant that hangs is caught)"
    tail = (res.stdout.strip().splitlines() or [""])[-1]
    if res.returncode == 5:
        return "error", time.time() - t0, "no tests collected: " + " ".join(selection)
    return ("survived" if res.returncode == 0 else "caught"), time.time() - t0, tail


def _fresh_copy(tmp: Path, snapshot: Path) -> Path:
    copy = tmp / "src"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(snapshot, copy / "transformer_catalog", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _check_precedence(copy: Path) -> None:
    """The copy, not the editable install, must be what the tests import."""
    out = subprocess.run(
        [sys.executable, "-c", "import transformer_catalog; print(transformer_catalog.__file__)"],
        cwd=ROOT,
        env=_env(copy),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not out.startswith(str(copy)):
        sys.exit(f"PYTHONPATH={copy} does not take precedence over the installed package ({out})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated mutant ids")
    ap.add_argument("--check", action="store_true", help="only check that every anchor is found exactly once")
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmodified run of each selection")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per mutant's test run")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    mutants = MUTANTS
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m.id for m in MUTANTS}
        if unknown:
            sys.exit(f"unknown mutant ids: {', '.join(sorted(unknown))}")
        mutants = [m for m in MUTANTS if m.id in wanted]
    assert len({m.id for m in MUTANTS}) == len(MUTANTS), "duplicate mutant ids"

    results, runnable = [], []
    for m in mutants:
        text = (PACKAGE / m.file).read_text() if (PACKAGE / m.file).is_file() else ""
        n = text.count(m.old)
        if n != 1:
            results.append({"id": m.id, "status": "stale" if n == 0 else "ambiguous", "what": m.what, "file": m.file})
            print(f"{'stale' if n == 0 else 'ambiguous':9s} {m.id:28s} {m.file}", flush=True)
        else:
            runnable.append(m)
    if args.check:
        return 1 if len(runnable) < len(mutants) else 0

    with tempfile.TemporaryDirectory(prefix="tcat-mutants-") as tmp:
        tmp = Path(tmp)
        # One snapshot of the package for the whole run: edits made to the working tree while it
        # runs must not leak into some mutants and not others.
        snapshot = tmp / "snapshot"
        shutil.copytree(PACKAGE, snapshot, ignore=shutil.ignore_patterns("__pycache__"))
        runnable = [m for m in runnable if (snapshot / m.file).read_text().count(m.old) == 1]
        copy = _fresh_copy(tmp, snapshot)
        _check_precedence(copy)
        if not args.no_baseline:
            for selection in _baseline_selections(runnable):
                status, secs, tail = _run_tests(copy, selection, args.timeout)
                print(f"baseline  {' '.join(selection)}: {tail} ({secs:.0f}s)", flush=True)
                if status != "survived":
                    sys.exit(f"the unmodified code fails {' '.join(selection)}: fix that first")
        for m in runnable:
            copy = _fresh_copy(tmp, snapshot)
            target = copy / "transformer_catalog" / m.file
            target.write_text(target.read_text().replace(m.old, m.new))
            status, secs, tail = _run_tests(copy, m.tests, args.timeout)
            results.append(
                {
                    "id": m.id,
                    "status": status,
                    "what": m.what,
                    "file": m.file,
                    "tests": list(m.tests),
                    "seconds": round(secs),
                    "tail": tail,
                }
            )
            print(f"{status:9s} {m.id:28s} {secs:5.0f}s  {m.what}", flush=True)

    planted = [r for r in results if r["status"] in ("caught", "survived")]
    caught = sum(r["status"] == "caught" for r in planted)
    print(
        f"\ncaught {caught}/{len(planted)} planted mutants"
        + (f" ({100 * caught / len(planted):.1f}%)" if planted else "")
    )
    for r in results:
        if r["status"] != "caught":
            print(f"  {r['status']}: {r['id']} ({r['file']}): {r['what']}")
    if args.json:
        report = {"caught": caught, "planted": len(planted), "results": results}
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0 if planted and caught == len(planted) else 1


if __name__ == "__main__":
    sys.exit(main())
