"""LLaMA (Touvron et al., 2023) and the decoders that share its layout (Mistral without a
sliding window): pre-norm RMSNorm, rotary positions, SwiGLU feed-forward, no biases, grouped-query
attention from LLaMA 2 70B on, an untied output projection. Checkpoint mapping below."""

from __future__ import annotations

from ..errors import TcatError
from ..interop.mapping import linear, rule
from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._hf import ACTIVATIONS_BACK, activation, unsupported
from ._hf import no_check as check  # noqa: F401  (the family interface)

HF_MODEL_TYPES = ("llama", "mistral")
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = "model."

# Published LLaMA 1 sizes (Touvron et al., 2023, Table 2), in Hugging Face's config vocabulary.
CONFIGS = {
    "llama-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32),
    "llama-13b": dict(hidden_size=5120, intermediate_size=13824, num_hidden_layers=40, num_attention_heads=40),
    "llama-33b": dict(hidden_size=6656, intermediate_size=17920, num_hidden_layers=60, num_attention_heads=52),
    "llama-65b": dict(hidden_size=8192, intermediate_size=22016, num_hidden_layers=80, num_attention_heads=64),
}
DEFAULTS = dict(model_type="llama", vocab_size=32000, max_position_embeddings=2048, rms_norm_eps=1e-6,
                hidden_act="silu", tie_word_embeddings=False, attention_bias=False, mlp_bias=False)


def make_config(**hf) -> ModelConfig:
    return config_from_hf({**DEFAULTS, **hf})


def layers(cfg: ModelConfig) -> dict[str, int]:
    return {"i": cfg.n_decoder_layers}


def _rope_theta(hf: dict) -> float:
    # transformers >= 4.56 nests RoPE settings in rope_parameters; older configs use rope_theta
    # and rope_scaling. Only unscaled RoPE is implemented so far.
    params = hf.get("rope_parameters") or {}
    scaling = hf.get("rope_scaling") or {}
    kind = params.get("rope_type", scaling.get("rope_type", scaling.get("type", "default")))
    if kind != "default":
        raise TcatError(f"Hugging Face config {hf.get('model_type')}: rope_type={kind!r} is not supported yet")
    return float(params.get("rope_theta", hf.get("rope_theta", 10000.0)))


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    unsupported(hf, "sliding_window", (None,), None)
    unsupported(hf, "pretraining_tp", (1,), 1)
    d, heads = hf["hidden_size"], hf["num_attention_heads"]
    if hf.get("head_dim") not in (None, d // heads):
        raise TcatError(f"Hugging Face config {hf['model_type']}: head_dim={hf['head_dim']} != hidden_size / "
                        "num_attention_heads is not supported yet")
    bias = bool(hf["attention_bias"])
    return ModelConfig(
        arch="decoder", d_model=d, n_encoder_layers=0, n_decoder_layers=hf["num_hidden_layers"], dropout=0.0,
        attention=AttentionConfig(n_heads=heads, n_kv_heads=hf.get("num_key_value_heads") or heads,
                                  qkv_bias=bias, out_bias=bias, dropout=hf.get("attention_dropout", 0.0)),
        position=PositionConfig(kind="rope", max_len=hf["max_position_embeddings"], rope_theta=_rope_theta(hf)),
        norm=NormConfig(kind="rmsnorm", bias=False, placement="pre", final=True, eps=hf["rms_norm_eps"]),
        ffn=FFNConfig(d_ff=hf["intermediate_size"], activation=activation(hf, "hidden_act"), gated=True,
                      bias=bool(hf["mlp_bias"])),
        embedding=EmbeddingConfig(vocab_size=hf["vocab_size"], pad_id=hf.get("pad_token_id") or 0, scale=False,
                                  tie_output=bool(hf["tie_word_embeddings"])),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    a = cfg.attention
    if a.qkv_bias != a.out_bias:
        raise TcatError("LLaMA's Hugging Face config has one attention_bias for q, k, v and o; this model differs")
    return {
        "model_type": model_type,
        "architectures": [{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM"}[model_type]],
        "vocab_size": cfg.embedding.vocab_size,
        "hidden_size": cfg.d_model, "intermediate_size": cfg.ffn.d_ff, "num_hidden_layers": cfg.n_decoder_layers,
        "num_attention_heads": a.n_heads, "num_key_value_heads": cfg.n_kv_heads,
        "max_position_embeddings": cfg.position.max_len, "rms_norm_eps": cfg.norm.eps,
        "hidden_act": ACTIVATIONS_BACK[cfg.ffn.activation], "tie_word_embeddings": cfg.embedding.tie_output,
        "attention_bias": a.qkv_bias, "mlp_bias": cfg.ffn.bias, "rope_theta": cfg.position.rope_theta,
        "pad_token_id": cfg.embedding.pad_id, **({"sliding_window": None} if model_type == "mistral" else {}),
    }


B, H = "decoder.blocks.{i}", "model.layers.{i}"
RULES = [
    rule("embed.tokens.weight", "model.embed_tokens.weight"),
    *linear(f"{B}.self_attn.q_proj", f"{H}.self_attn.q_proj"),
    *linear(f"{B}.self_attn.k_proj", f"{H}.self_attn.k_proj"),
    *linear(f"{B}.self_attn.v_proj", f"{H}.self_attn.v_proj"),
    *linear(f"{B}.self_attn.out_proj", f"{H}.self_attn.o_proj"),
    *linear(f"{B}.ffn.gate", f"{H}.mlp.gate_proj"),
    *linear(f"{B}.ffn.up", f"{H}.mlp.up_proj"),
    *linear(f"{B}.ffn.down", f"{H}.mlp.down_proj"),
    rule(f"{B}.self_attn_norm.weight", f"{H}.input_layernorm.weight"),
    rule(f"{B}.ffn_norm.weight", f"{H}.post_attention_layernorm.weight"),
    rule("decoder.final_norm.weight", "model.norm.weight"),
    rule("head.weight", "lm_head.weight"),
]
IGNORED = ("model.layers.*.self_attn.rotary_emb.inv_freq",)
