"""GPT-J (Wang and Komatsuzaki, 2021): attention and feed-forward in parallel from one LayerNorm,
rotary positions on the first 64 dimensions of each head, no attention biases, an untied output
projection with a bias. Checkpoint mapping below.

GPT-J rotates interleaved pairs of dimensions (2i, 2i+1); tcat rotates pairs (i, i + rot/2). The
converter permutes the rows of the query and key projections within each head accordingly, which
leaves every attention score unchanged."""

from __future__ import annotations

import torch

from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, decoder_layers
from ._rules import linear, rule

HF_MODEL_TYPES = ("gptj",)
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = "transformer."
DEFAULTS = dict(
    model_type="gptj",
    vocab_size=50400,
    n_positions=2048,
    n_embd=4096,
    n_layer=28,
    n_head=16,
    rotary_dim=64,
    n_inner=None,
    activation_function="gelu_new",
    resid_pdrop=0.0,
    attn_pdrop=0.0,
    layer_norm_epsilon=1e-5,
    tie_word_embeddings=False,
)
layers = decoder_layers


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    d, h = hf["n_embd"], hf["n_head"]
    return ModelConfig(
        arch="decoder",
        d_model=d,
        n_encoder_layers=0,
        n_decoder_layers=hf["n_layer"],
        dropout=hf["resid_pdrop"],
        parallel_residual=True,
        attention=AttentionConfig(n_heads=h, qkv_bias=False, out_bias=False, dropout=hf["attn_pdrop"]),
        position=PositionConfig(kind="rope", max_len=hf["n_positions"], rotary_fraction=hf["rotary_dim"] / (d // h)),
        norm=NormConfig(placement="pre", final=True, shared_parallel=True, eps=hf["layer_norm_epsilon"]),
        ffn=FFNConfig(d_ff=hf["n_inner"] or 4 * d, activation=activation(hf, "activation_function")),
        embedding=EmbeddingConfig(vocab_size=hf["vocab_size"], pad_id=0, scale=False, tie_output=False, head_bias=True),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    return {
        "model_type": "gptj",
        "architectures": ["GPTJForCausalLM"],
        "vocab_size": cfg.embedding.vocab_size,
        "n_positions": cfg.position.max_len,
        "n_embd": cfg.d_model,
        "n_layer": cfg.n_decoder_layers,
        "n_head": cfg.attention.n_heads,
        "rotary_dim": int(cfg.head_dim * cfg.position.rotary_fraction),
        "n_inner": cfg.ffn.d_ff,
        "activation_function": ACTIVATIONS_BACK[cfg.ffn.activation],
        "resid_pdrop": cfg.dropout,
        "attn_pdrop": cfg.attention.dropout,
        "layer_norm_epsilon": cfg.norm.eps,
        "tie_word_embeddings": False,
    }


def _order(cfg: ModelConfig) -> torch.Tensor:
    """Row order that takes an interleaved-rotary head to the rotate-half layout."""
    hd, rot = cfg.head_dim, int(cfg.head_dim * cfg.position.rotary_fraction)
    per_head = list(range(0, rot, 2)) + list(range(1, rot, 2)) + list(range(rot, hd))
    return torch.tensor([h * hd + i for h in range(cfg.attention.n_heads) for i in per_head])


def pack(tensors: dict, cfg: ModelConfig, where: str) -> dict:
    order, out = _order(cfg), dict(tensors)
    for i in range(cfg.n_decoder_layers):
        for name in ("q_proj", "k_proj"):
            key = f"transformer.h.{i}.attn.{name}.weight"
            if key in out:
                out[key] = out[key][order]
    return out


def unpack(tensors: dict, cfg: ModelConfig) -> dict:
    inverse, out = torch.argsort(_order(cfg)), dict(tensors)
    for i in range(cfg.n_decoder_layers):
        for name in ("q_proj", "k_proj"):
            key = f"transformer.h.{i}.attn.{name}.weight"
            out[key] = out[key][inverse].contiguous()
    return out


B, H = "decoder.blocks.{i}", "transformer.h.{i}"
RULES = [
    rule("embed.tokens.weight", "transformer.wte.weight"),
    *linear(f"{B}.self_attn_norm", f"{H}.ln_1"),
    rule(f"{B}.self_attn.q_proj.weight", f"{H}.attn.q_proj.weight"),
    rule(f"{B}.self_attn.k_proj.weight", f"{H}.attn.k_proj.weight"),
    rule(f"{B}.self_attn.v_proj.weight", f"{H}.attn.v_proj.weight"),
    rule(f"{B}.self_attn.out_proj.weight", f"{H}.attn.out_proj.weight"),
    *linear(f"{B}.ffn.up", f"{H}.mlp.fc_in"),
    *linear(f"{B}.ffn.down", f"{H}.mlp.fc_out"),
    *linear("decoder.final_norm", "transformer.ln_f"),
    *linear("head", "lm_head"),
]
IGNORED = ("transformer.h.*.attn.bias", "transformer.h.*.attn.masked_bias")


FAMILY = Family(
    name="gptj",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
    pack=pack,
    unpack=unpack,
)
