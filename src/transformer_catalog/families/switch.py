"""Switch Transformer (Fedus et al., 2021): T5 v1.0 with every other feed-forward replaced by a
mixture of ReLU experts, each token sent to its single most probable expert (top-1), the expert's
output scaled by that probability, and at most `expert_capacity` tokens of a sequence per expert.
Checkpoint mapping below (T5's, plus the router and the experts)."""

from __future__ import annotations

import dataclasses

import torch

from ..errors import TcatError
from ..nn.config import ModelConfig, MoEConfig
from . import t5
from ._family import Family
from ._hf import seq2seq_layers, unsupported
from ._rules import rule

HF_MODEL_TYPES = ("switch_transformers",)
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = ""
DEFAULTS = dict(
    t5.DEFAULTS,
    model_type="switch_transformers",
    expert_capacity=64,
    num_experts=8,
    num_sparse_encoder_layers=3,
    num_sparse_decoder_layers=3,
    num_layers=12,
    router_bias=False,
    router_aux_loss_coef=0.001,
    dense_act_fn="relu",
)

layers = seq2seq_layers


def _pattern(n_layers: int, n_sparse: int) -> str:
    """Hugging Face puts experts in layer i when i % step == 1 (every layer when step == 1), with
    step = n_layers // n_sparse: as a pattern, "E" or a D, an E, then step - 2 D's."""
    step = n_layers // n_sparse if n_sparse > 0 else n_layers
    return "E" if step == 1 else "DE" + "D" * (step - 2)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    unsupported(hf, "dense_act_fn", ("relu",))
    unsupported(hf, "router_bias", (False,))
    n_dec = hf.get("num_decoder_layers") or hf["num_layers"]
    enc = _pattern(hf["num_layers"], hf["num_sparse_encoder_layers"])
    dec = _pattern(n_dec, hf["num_sparse_decoder_layers"])
    if enc != dec:
        raise TcatError(
            f"Hugging Face config switch_transformers: encoder experts every {len(enc)} layers, decoder every "
            f"{len(dec)}; tcat has one moe.pattern for both stacks"
        )
    if "E" not in enc:
        raise TcatError("Hugging Face config switch_transformers: no sparse layers; convert it as t5")
    cfg = t5.config_from_hf(
        {**hf, "model_type": "t5", "feed_forward_proj": "relu", "scale_decoder_outputs": hf["tie_word_embeddings"]}
    )
    return cfg.replace(
        moe=dataclasses.asdict(
            MoEConfig(
                n_experts=hf["num_experts"],
                top_k=1,
                d_ff=hf["d_ff"],
                renormalize=False,
                aux_loss_weight=hf["router_aux_loss_coef"],
                pattern=enc,
                capacity=hf["expert_capacity"],
            )
        )
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    moe = cfg.moe
    if moe is None or moe.top_k != 1 or moe.renormalize or cfg.ffn.gated or moe.d_ff not in (0, cfg.ffn.d_ff):
        raise TcatError(
            "export as switch_transformers: needs top-1 experts (moe.top_k: 1, renormalize: false) "
            "with the dense feed-forward's width and no gate"
        )
    sparse = {}
    for stack, n in (("encoder", cfg.n_encoder_layers), ("decoder", cfg.n_decoder_layers)):
        ours = ["E" if cfg.experts_at(i) else "D" for i in range(n)]
        count = ours.count("E")
        theirs = (_pattern(n, count) * n)[:n] if count else ""
        if list(theirs) != ours:
            raise TcatError(
                f"export as switch_transformers: moe.pattern {moe.pattern!r} over {n} {stack} layers "
                "is not expressible as Hugging Face's sparse step"
            )
        sparse[stack] = count
    out = t5.config_to_hf(cfg, "t5")
    out.pop("feed_forward_proj")
    out.pop("scale_decoder_outputs")
    return out | {
        "model_type": "switch_transformers",
        "architectures": ["SwitchTransformersForConditionalGeneration"],
        "num_experts": moe.n_experts,
        "expert_capacity": moe.capacity if moe.capacity is not None else 2**31 - 1,
        "num_sparse_encoder_layers": sparse["encoder"],
        "num_sparse_decoder_layers": sparse["decoder"],
        "router_aux_loss_coef": moe.aux_loss_weight,
        "router_bias": False,
        "dense_act_fn": "relu",
        "router_jitter_noise": 0.0,
    }


def rules(cfg: ModelConfig) -> list:
    E, D = "encoder.blocks.{e}.ffn", "decoder.blocks.{d}.ffn"
    HE, HD = "encoder.block.{e}.layer.1.mlp", "decoder.block.{d}.layer.2.mlp"
    experts = [
        rule(f"{ours}.{name}", f"{theirs}.experts.{name}")
        for ours, theirs in ((E, HE), (D, HD))
        for name in ("up", "down")
    ]  # stacked by pack() below
    routers = [
        rule(f"{ours}.router.weight", f"{theirs}.router.classifier.weight") for ours, theirs in ((E, HE), (D, HD))
    ]
    return t5.rules(cfg, ffn="mlp") + routers + experts


def _expert_layers(cfg: ModelConfig):
    for stack, n, sub in (("encoder", cfg.n_encoder_layers, 1), ("decoder", cfg.n_decoder_layers, 2)):
        for i in range(n):
            if cfg.experts_at(i):
                yield f"{stack}.block.{i}.layer.{sub}.mlp.experts"


def pack(tensors: dict, cfg: ModelConfig, where: str) -> dict:
    """Hugging Face stores each expert as expert_{n}.wi / .wo; tcat stacks them: up (E, d_ff, d), down (E, d, d_ff)."""
    out = dict(tensors)
    for p in _expert_layers(cfg):
        for ours, theirs in (("up", "wi"), ("down", "wo")):
            names = [f"{p}.expert_{e}.{theirs}.weight" for e in range(cfg.moe.n_experts)]
            missing = [n for n in names if n not in out]
            if missing:
                raise TcatError(f"{where}: tensor {missing[0]} is missing")
            out[f"{p}.{ours}"] = torch.stack([out.pop(n) for n in names])
    return out


def unpack(tensors: dict, cfg: ModelConfig) -> dict:
    out = dict(tensors)
    for p in _expert_layers(cfg):
        for ours, theirs in (("up", "wi"), ("down", "wo")):
            for e, w in enumerate(out.pop(f"{p}.{ours}")):
                out[f"{p}.expert_{e}.{theirs}.weight"] = w.contiguous()
    return out


IGNORED = t5.IGNORED


FAMILY = Family(
    name="switch",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=rules,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
    pack=pack,
    unpack=unpack,
)
