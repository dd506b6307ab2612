"""Weight-only int8 (nn/quant.py): per-row scales, logits close to fp32's, greedy decoding mostly
unchanged, and `tcat generate --int8` runs."""

import copy

import torch

from transformer_catalog.families import family
from transformer_catalog.generate import generate
from transformer_catalog.nn import build_model
from transformer_catalog.nn.quant import Int8Linear, quantize_int8


def test_int8_linear_is_the_rounded_weight_times_its_row_scale():
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 48)
    q = Int8Linear(lin)
    assert q.weight.dtype == torch.int8 and q.scale.shape == (48,)
    assert q.weight.abs().amax(dim=1).eq(127).all()  # each row's largest weight uses the full range
    x = torch.randn(3, 7, 64)
    dequant = q.weight.float() * q.scale.float()[:, None]
    reference = x.bfloat16().float() @ dequant.T + lin.bias
    assert (q(x) - reference).abs().max().item() < 0.05  # bf16 accumulation order differs
    # within a quantisation step: half a step from rounding, the rest from storing the scale in bf16
    assert (dequant - lin.weight).abs().max().item() <= q.scale.float().max().item()


def test_quantized_gpt_logits_stay_close_and_greedy_ids_mostly_agree():
    cfg = family("gpt2").config(n_layer=2, n_embd=64, n_head=4, n_positions=64, vocab_size=300)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    q = quantize_int8(copy.deepcopy(model))
    assert not any(type(m) is torch.nn.Linear for m in q.modules())
    assert q.embed.tokens.weight.dtype == torch.float32  # the embedding table is left alone
    ids = torch.randint(0, 300, (2, 20))
    with torch.no_grad():
        a, b = model(ids), q(ids)
    cos = torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()
    assert cos > 0.999, cos
    same = (generate(model, ids[:, :8], 16) == generate(q, ids[:, :8], 16)).float().mean().item()
    assert same > 0.8, same
