"""Parity with a real oracle: the same weights in torch.nn.Transformer give the same outputs. The
embeddings around the oracle (token table * sqrt(d_model) + the paper's sinusoids, section 3.4-3.5)
and the tied pre-softmax projection are written here from the paper's formulas, not taken from
the model, so a wrong table or scale fails too."""

import math

import pytest
import torch
from torch import nn

from transformer_catalog.families import get_config
from transformer_catalog.nn import build_model


def _copy_attention(dst: nn.MultiheadAttention, src) -> None:
    dst.in_proj_weight.copy_(torch.cat([src.q_proj.weight, src.k_proj.weight, src.v_proj.weight]))
    dst.in_proj_bias.copy_(torch.cat([src.q_proj.bias, src.k_proj.bias, src.v_proj.bias]))
    dst.out_proj.weight.copy_(src.out_proj.weight)
    dst.out_proj.bias.copy_(src.out_proj.bias)


def _copy_norm(dst: nn.LayerNorm, src: nn.LayerNorm) -> None:
    dst.weight.copy_(src.weight)
    dst.bias.copy_(src.bias)


def _oracle_from(model, cfg) -> nn.Transformer:
    """An nn.Transformer holding `model`'s weights. nn.Transformer always appends a LayerNorm to
    both stacks; the paper's post-norm model has none, so the post-norm oracle is built with
    norm=None stacks (the documented custom_encoder / custom_decoder arguments)."""
    d, h, ff, N = cfg.d_model, cfg.attention.n_heads, cfg.ffn.d_ff, cfg.n_encoder_layers
    pre = cfg.norm.placement == "pre"
    kw = dict(dim_feedforward=ff, dropout=0.0, activation="relu", batch_first=True, norm_first=pre)
    enc = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(d, h, **kw), N, norm=nn.LayerNorm(d) if pre else None, enable_nested_tensor=False
    )
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(d, h, **kw), N, norm=nn.LayerNorm(d) if pre else None)
    oracle = nn.Transformer(d, h, custom_encoder=enc, custom_decoder=dec, batch_first=True).eval()
    with torch.no_grad():
        for ours, theirs in zip(model.encoder.blocks, enc.layers):
            _copy_attention(theirs.self_attn, ours.self_attn)
            theirs.linear1.load_state_dict(ours.ffn.up.state_dict())
            theirs.linear2.load_state_dict(ours.ffn.down.state_dict())
            _copy_norm(theirs.norm1, ours.self_attn_norm)
            _copy_norm(theirs.norm2, ours.ffn_norm)
        for ours, theirs in zip(model.decoder.blocks, dec.layers):
            _copy_attention(theirs.self_attn, ours.self_attn)
            _copy_attention(theirs.multihead_attn, ours.cross_attn)
            theirs.linear1.load_state_dict(ours.ffn.up.state_dict())
            theirs.linear2.load_state_dict(ours.ffn.down.state_dict())
            _copy_norm(theirs.norm1, ours.self_attn_norm)
            _copy_norm(theirs.norm2, ours.cross_attn_norm)
            _copy_norm(theirs.norm3, ours.ffn_norm)
        if pre:
            _copy_norm(enc.norm, model.encoder.final_norm)
            _copy_norm(dec.norm, model.decoder.final_norm)
    return oracle


def paper_sinusoids(n_positions: int, d_model: int) -> torch.Tensor:
    """Section 3.5, element by element in float64: PE(pos, 2i) = sin(pos / 10000^(2i/d_model)),
    PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))."""
    table = torch.zeros(n_positions, d_model, dtype=torch.float64)
    for pos in range(n_positions):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            table[pos, 2 * i] = math.sin(angle)
            table[pos, 2 * i + 1] = math.cos(angle)
    return table


def paper_embeddings(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Section 3.4: the embedding weights are multiplied by sqrt(d_model); then PE is added."""
    d = table.size(1)
    return (table[ids].double() * math.sqrt(d) + paper_sinusoids(ids.size(1), d)).float()


def test_sinusoidal_table_is_the_papers_formula():
    from transformer_catalog.nn.layers import SinusoidalPositions

    ours = SinusoidalPositions(64, 50)(50)
    expected = paper_sinusoids(50, 64).float()
    assert ours.shape == (50, 64) and (ours - expected).abs().max().item() < 1e-4
    # spot values a swap of sin/cos, a halved frequency or a wrong base would all change
    assert ours[0, 0].item() == 0.0 and ours[0, 1].item() == 1.0
    assert abs(ours[1, 0].item() - math.sin(1.0)) < 1e-6 and abs(ours[1, 1].item() - math.cos(1.0)) < 1e-6
    assert abs(ours[7, 2].item() - math.sin(7 / 10000 ** (2 / 64))) < 1e-6


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_matches_torch_nn_transformer(norm):
    cfg = get_config("transformer-base", N=2, d_model=64, d_ff=128, h=4, dropout=0.0, vocab_size=100, norm=norm)
    model = build_model(cfg).eval()
    oracle = _oracle_from(model, cfg)

    src = torch.randint(1, 100, (3, 11))
    src[1, -4:] = 0  # padded source
    tgt = torch.randint(1, 100, (3, 9))
    src_pad = src == 0
    with torch.no_grad():
        ours = model(src, tgt)
        # The paper's embeddings and tied head around the oracle's layers, from the token table only.
        table = model.src_embed.tokens.weight
        assert model.tgt_embed.tokens.weight is table  # shared source/target embeddings (section 3.4)
        hidden = oracle(
            paper_embeddings(table, src),
            paper_embeddings(table, tgt),
            tgt_mask=nn.Transformer.generate_square_subsequent_mask(tgt.size(1)),
            tgt_is_causal=True,
            src_key_padding_mask=src_pad,
            memory_key_padding_mask=src_pad,
        )
        theirs = hidden @ table.T  # the pre-softmax projection shares the embedding matrix
    diff = (ours - theirs).abs().max().item()
    assert diff <= 1e-5, f"max abs diff {diff:.2e} vs torch.nn.Transformer ({norm}-norm)"
