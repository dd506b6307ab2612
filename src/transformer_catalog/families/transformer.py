"""The original Transformer (Vaswani et al., 2017, "Attention Is All You Need"), as configuration.

`make_model` reads like the paper's Table 3. Nothing here is code of its own: the encoder-decoder
is the shared core (`transformer_catalog.nn`) set to the paper's choices, each noted below.
"""

from __future__ import annotations

from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family

# Table 3 reports 65M (base) and 213M (big) parameters without saying how it counted. The
# vocabulary is a shared byte-pair vocabulary of about 37,000 tokens (section 5.1, EN-DE).
PAPER_VOCAB_SIZE = 37000
PAPER_PARAMS = {"transformer-base": 65_000_000, "transformer-big": 213_000_000}


def make_config(
    N: int = 6,
    d_model: int = 512,
    d_ff: int = 2048,
    h: int = 8,
    dropout: float = 0.1,
    vocab_size: int = PAPER_VOCAB_SIZE,
    max_len: int = 512,
    norm: str = "post",
) -> ModelConfig:
    return ModelConfig(
        arch="encoder-decoder",
        d_model=d_model,
        n_encoder_layers=N,
        n_decoder_layers=N,
        dropout=dropout,  # P_drop: sub-layer outputs and embedding sums (section 5.4)
        attention=AttentionConfig(n_heads=h, qkv_bias=True, out_bias=True, dropout=0.0),
        position=PositionConfig(kind="sinusoidal", max_len=max_len),  # section 3.5
        # The paper is post-norm with no final norm. norm="pre" gives the variant most later
        # implementations (tensor2tensor v2, the Annotated Transformer) silently switched to.
        norm=NormConfig(placement=norm, final=(norm == "pre")),
        ffn=FFNConfig(d_ff=d_ff, activation="relu", bias=True),  # section 3.3
        # One table for source tokens, target tokens and the pre-softmax projection (section 3.4).
        embedding=EmbeddingConfig(vocab_size=vocab_size, scale=True, share_src_tgt=True, tie_output=True),
    )


def make_model(
    src_vocab: int = PAPER_VOCAB_SIZE,
    N: int = 6,
    d_model: int = 512,
    d_ff: int = 2048,
    h: int = 8,
    dropout: float = 0.1,
):
    """The Annotated Transformer's entry point: a randomly initialised paper model."""
    from ..nn.model import build_model

    return build_model(make_config(N=N, d_model=d_model, d_ff=d_ff, h=h, dropout=dropout, vocab_size=src_vocab))


# Named configurations. base and big are the paper's; the small ones are ours, sized to train
# on one CPU in minutes (same architecture, fewer and narrower layers).
CONFIGS = {
    "transformer-base": dict(N=6, d_model=512, d_ff=2048, h=8, dropout=0.1),
    "transformer-big": dict(N=6, d_model=1024, d_ff=4096, h=16, dropout=0.3),
    "transformer-small": dict(N=3, d_model=256, d_ff=1024, h=4, dropout=0.1, vocab_size=8000),
    "transformer-tiny": dict(N=2, d_model=128, d_ff=512, h=4, dropout=0.1, vocab_size=8000),
}


FAMILY = Family(
    name="transformer",
    configs=CONFIGS,
    make_config=make_config,
)
