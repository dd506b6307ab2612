"""GPT-Neo (Black et al., 2021): GPT-2's pre-norm layout with global and local (windowed) attention
layers alternating, unscaled attention logits, no biases on the query/key/value projections, and
plain Linear (not Conv1D) weights. Checkpoint mapping below."""

from __future__ import annotations

from ..errors import TcatError
from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, decoder_layers
from ._rules import linear, rule

HF_MODEL_TYPES = ("gpt_neo",)
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = "transformer."
DEFAULTS = dict(
    model_type="gpt_neo",
    vocab_size=50257,
    max_position_embeddings=2048,
    window_size=256,
    activation_function="gelu_new",
    resid_dropout=0.0,
    embed_dropout=0.0,
    attention_dropout=0.0,
    layer_norm_epsilon=1e-5,
    attention_types=[[["global", "local"], 12]],
)
layers = decoder_layers


def _pattern(hf: dict) -> str:
    """HF's attention_types [[["global", "local"], 12]] as our window pattern "GL"."""
    kinds = [k for group, repeat in hf["attention_types"] for k in group * repeat]
    if len(kinds) != hf["num_layers"]:
        raise TcatError(
            f"Hugging Face config gpt_neo: attention_types gives {len(kinds)} layers, num_layers is {hf['num_layers']}"
        )
    letters = "".join("L" if k == "local" else "G" for k in kinds)
    for period in range(1, len(letters) + 1):  # the shortest repeating unit
        if len(letters) % period == 0 and letters == letters[:period] * (len(letters) // period):
            return letters[:period]
    return letters


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    d = hf["hidden_size"]
    return ModelConfig(
        arch="decoder",
        d_model=d,
        n_encoder_layers=0,
        n_decoder_layers=hf["num_layers"],
        dropout=hf["resid_dropout"],
        attention=AttentionConfig(
            n_heads=hf["num_heads"],
            qkv_bias=False,
            out_bias=True,
            scale=1.0,
            dropout=hf["attention_dropout"],
            window=hf["window_size"],
            window_pattern=_pattern(hf),
        ),
        position=PositionConfig(kind="learned", max_len=hf["max_position_embeddings"]),
        norm=NormConfig(placement="pre", final=True, eps=hf["layer_norm_epsilon"]),
        ffn=FFNConfig(d_ff=hf.get("intermediate_size") or 4 * d, activation=activation(hf, "activation_function")),
        embedding=EmbeddingConfig(vocab_size=hf["vocab_size"], pad_id=0, scale=False, tie_output=True),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    a = cfg.attention
    kinds = [
        "local" if a.window_pattern[i % len(a.window_pattern)] == "L" else "global" for i in range(cfg.n_decoder_layers)
    ]
    return {
        "model_type": "gpt_neo",
        "architectures": ["GPTNeoForCausalLM"],
        "vocab_size": cfg.embedding.vocab_size,
        "hidden_size": cfg.d_model,
        "num_layers": cfg.n_decoder_layers,
        "num_heads": a.n_heads,
        "intermediate_size": cfg.ffn.d_ff,
        "max_position_embeddings": cfg.position.max_len,
        "window_size": a.window or 256,
        "attention_types": [[[k], 1] for k in kinds],
        "activation_function": ACTIVATIONS_BACK[cfg.ffn.activation],
        "layer_norm_epsilon": cfg.norm.eps,
        "resid_dropout": cfg.dropout,
        "embed_dropout": cfg.dropout,
        "attention_dropout": a.dropout,
    }


B, H = "decoder.blocks.{i}", "transformer.h.{i}"
RULES = [
    rule("embed.tokens.weight", "transformer.wte.weight"),
    rule("embed.positions.weight", "transformer.wpe.weight"),
    *linear(f"{B}.self_attn_norm", "transformer.h.{i}.ln_1"),
    rule(f"{B}.self_attn.q_proj.weight", f"{H}.attn.attention.q_proj.weight"),
    rule(f"{B}.self_attn.k_proj.weight", f"{H}.attn.attention.k_proj.weight"),
    rule(f"{B}.self_attn.v_proj.weight", f"{H}.attn.attention.v_proj.weight"),
    *linear(f"{B}.self_attn.out_proj", f"{H}.attn.attention.out_proj"),
    *linear(f"{B}.ffn_norm", f"{H}.ln_2"),
    *linear(f"{B}.ffn.up", f"{H}.mlp.c_fc"),
    *linear(f"{B}.ffn.down", f"{H}.mlp.c_proj"),
    *linear("decoder.final_norm", "transformer.ln_f"),
]
IGNORED = ("lm_head.weight", "transformer.h.*.attn.attention.bias", "transformer.h.*.attn.attention.masked_bias")


FAMILY = Family(
    name="gpt_neo",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
)
