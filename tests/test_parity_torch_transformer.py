"""Parity with a real oracle: the same weights in torch.nn.Transformer give the same outputs."""

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
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, h, **kw), N,
                                norm=nn.LayerNorm(d) if pre else None, enable_nested_tensor=False)
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
        # Same embeddings, positional encoding and tied head around the oracle's layers.
        hidden = oracle(
            model.src_embed(src),
            model.tgt_embed(tgt),
            tgt_mask=nn.Transformer.generate_square_subsequent_mask(tgt.size(1)),
            tgt_is_causal=True,
            src_key_padding_mask=src_pad,
            memory_key_padding_mask=src_pad,
        )
        theirs = model.head(hidden)
    diff = (ours - theirs).abs().max().item()
    assert diff <= 1e-5, f"max abs diff {diff:.2e} vs torch.nn.Transformer ({norm}-norm)"
