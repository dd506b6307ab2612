"""GPT (Radford et al., 2018): the first generatively pretrained Transformer decoder — post-norm
like the original Transformer (no final norm), learned positions, GELU, output tied to the token
embedding, GPT-2's Conv1D weight layout. Checkpoint mapping below."""

from __future__ import annotations

from ..errors import TcatError
from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import decoder_layers
from ._rules import linear, rule

HF_MODEL_TYPES = ("openai-gpt",)
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = "transformer."
DEFAULTS = dict(
    model_type="openai-gpt",
    vocab_size=40478,
    n_positions=512,
    n_embd=768,
    n_layer=12,
    n_head=12,
    afn="gelu",
    resid_pdrop=0.1,
    attn_pdrop=0.1,
    layer_norm_epsilon=1e-5,
)
layers = decoder_layers
# OpenAI GPT's own activation table (modeling_openai.ACT_FNS): its "gelu" is the tanh approximation,
# unlike the "gelu" of every other Hugging Face architecture.
AFN = {"gelu": "gelu_tanh", "relu": "relu", "silu": "silu", "swish": "silu"}
AFN_BACK = {"gelu_tanh": "gelu", "relu": "relu", "silu": "silu"}


def _afn(name) -> str:
    if name not in AFN:
        raise TcatError(f"Hugging Face config openai-gpt: afn={name!r} is not supported (supported: {', '.join(AFN)})")
    return AFN[name]


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    d = hf["n_embd"]
    return ModelConfig(
        arch="decoder",
        d_model=d,
        n_encoder_layers=0,
        n_decoder_layers=hf["n_layer"],
        dropout=hf["resid_pdrop"],
        attention=AttentionConfig(n_heads=hf["n_head"], dropout=hf["attn_pdrop"]),
        position=PositionConfig(kind="learned", max_len=hf["n_positions"]),
        norm=NormConfig(placement="post", eps=hf["layer_norm_epsilon"]),
        ffn=FFNConfig(d_ff=4 * d, activation=_afn(hf["afn"])),
        embedding=EmbeddingConfig(vocab_size=hf["vocab_size"], pad_id=0, scale=False, tie_output=True),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    return {
        "model_type": "openai-gpt",
        "architectures": ["OpenAIGPTLMHeadModel"],
        "vocab_size": cfg.embedding.vocab_size,
        "n_positions": cfg.position.max_len,
        "n_embd": cfg.d_model,
        "n_layer": cfg.n_decoder_layers,
        "n_head": cfg.attention.n_heads,
        "afn": AFN_BACK[cfg.ffn.activation],
        "resid_pdrop": cfg.dropout,
        "embd_pdrop": cfg.dropout,
        "attn_pdrop": cfg.attention.dropout,
        "layer_norm_epsilon": cfg.norm.eps,
    }


B, H = "decoder.blocks.{i}", "transformer.h.{i}"
RULES = [
    rule("embed.tokens.weight", "transformer.tokens_embed.weight"),
    rule("embed.positions.weight", "transformer.positions_embed.weight"),
    rule(
        (f"{B}.self_attn.q_proj.weight", f"{B}.self_attn.k_proj.weight", f"{B}.self_attn.v_proj.weight"),
        f"{H}.attn.c_attn.weight",
        transpose=True,
    ),
    rule(
        (f"{B}.self_attn.q_proj.bias", f"{B}.self_attn.k_proj.bias", f"{B}.self_attn.v_proj.bias"),
        f"{H}.attn.c_attn.bias",
    ),
    *linear(f"{B}.self_attn.out_proj", f"{H}.attn.c_proj", transpose=True),
    *linear(f"{B}.self_attn_norm", f"{H}.ln_1"),
    *linear(f"{B}.ffn.up", f"{H}.mlp.c_fc", transpose=True),
    *linear(f"{B}.ffn.down", f"{H}.mlp.c_proj", transpose=True),
    *linear(f"{B}.ffn_norm", f"{H}.ln_2"),
]
IGNORED = ("lm_head.weight", "transformer.h.*.attn.bias", "transformer.position_ids")


FAMILY = Family(
    name="openai-gpt",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
)
