"""GPT-2 (Radford et al., 2019): a pre-norm decoder with learned positions, GELU (tanh form)
and the output projection tied to the token embedding. Checkpoint mapping below."""

from __future__ import annotations

from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, decoder_layers, unsupported
from ._rules import linear, rule

HF_MODEL_TYPES = ("gpt2",)
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = "transformer."

# Named configs that are no published size (the published ones live in the catalog, GPT-2's
# variants; `gpt2`, `gpt2-medium`, ... resolve there through catalog/specs.py).
CONFIGS = {
    # nanoGPT-sized: 6 layers of width 256, context 256 (6.9M parameters with an 8K vocabulary)
    "gpt2-6x256": dict(n_layer=6, n_embd=256, n_head=8, n_positions=256),
}
DEFAULTS = dict(
    vocab_size=50257,
    n_positions=1024,
    activation_function="gelu_new",
    resid_pdrop=0.1,
    layer_norm_epsilon=1e-5,
    n_inner=None,
    model_type="gpt2",
)


layers = decoder_layers


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    unsupported(hf, "scale_attn_weights", (True,), True)
    unsupported(hf, "scale_attn_by_inverse_layer_idx", (False,), False)
    unsupported(hf, "reorder_and_upcast_attn", (False,), False)
    d = hf["n_embd"]
    return ModelConfig(
        arch="decoder",
        d_model=d,
        n_encoder_layers=0,
        n_decoder_layers=hf["n_layer"],
        dropout=hf["resid_pdrop"],
        attention=AttentionConfig(n_heads=hf["n_head"], dropout=hf.get("attn_pdrop", 0.1)),
        position=PositionConfig(kind="learned", max_len=hf["n_positions"]),
        norm=NormConfig(placement="pre", final=True, eps=hf["layer_norm_epsilon"]),
        ffn=FFNConfig(d_ff=hf["n_inner"] or 4 * d, activation=activation(hf, "activation_function")),
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"], pad_id=0, scale=False, tie_output=hf.get("tie_word_embeddings", True)
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    return {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": cfg.embedding.vocab_size,
        "n_positions": cfg.position.max_len,
        "n_embd": cfg.d_model,
        "n_layer": cfg.n_decoder_layers,
        "n_head": cfg.attention.n_heads,
        "n_inner": cfg.ffn.d_ff,
        "activation_function": ACTIVATIONS_BACK[cfg.ffn.activation],
        "resid_pdrop": cfg.dropout,
        "embd_pdrop": cfg.dropout,
        "attn_pdrop": cfg.attention.dropout,
        "layer_norm_epsilon": cfg.norm.eps,
        "tie_word_embeddings": cfg.embedding.tie_output,
    }


B = "decoder.blocks.{i}"
RULES = [
    rule("embed.tokens.weight", "transformer.wte.weight"),
    rule("embed.positions.weight", "transformer.wpe.weight"),
    *linear(f"{B}.self_attn_norm", "transformer.h.{i}.ln_1"),
    # Conv1D stores (in, out); c_attn holds q, k and v side by side.
    rule(
        (f"{B}.self_attn.q_proj.weight", f"{B}.self_attn.k_proj.weight", f"{B}.self_attn.v_proj.weight"),
        "transformer.h.{i}.attn.c_attn.weight",
        transpose=True,
    ),
    rule(
        (f"{B}.self_attn.q_proj.bias", f"{B}.self_attn.k_proj.bias", f"{B}.self_attn.v_proj.bias"),
        "transformer.h.{i}.attn.c_attn.bias",
    ),
    *linear(f"{B}.self_attn.out_proj", "transformer.h.{i}.attn.c_proj", transpose=True),
    *linear(f"{B}.ffn_norm", "transformer.h.{i}.ln_2"),
    *linear(f"{B}.ffn.up", "transformer.h.{i}.mlp.c_fc", transpose=True),
    *linear(f"{B}.ffn.down", "transformer.h.{i}.mlp.c_proj", transpose=True),
    *linear("decoder.final_norm", "transformer.ln_f"),
    rule("head.weight", "lm_head.weight"),  # only when untied
]
# Causal-mask buffers that old checkpoints saved as tensors; the tied lm_head copy.
IGNORED = ("transformer.h.*.attn.bias", "transformer.h.*.attn.masked_bias", "lm_head.weight")


FAMILY = Family(
    name="gpt2",
    configs=CONFIGS,
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
)
