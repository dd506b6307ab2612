"""Mixture-of-experts checkpoint layouts shared by the MoE families (DeepSeek-V2/V3, Qwen3-MoE, OLMoE,
Mixtral): Hugging Face files keep each expert as its own gate_proj / up_proj / down_proj (Mixtral: w1 /
w3 / w2); tcat stacks them
(nn/moe.py): gate_up = [gate; up] per expert, (E, 2 d_ff, d), and down, (E, d, d_ff). The
conversion both ways, and the config fields every MoE converter reads the same way."""

from __future__ import annotations

import dataclasses

import torch

from ..errors import TcatError
from ..nn.config import MoEConfig
from ._decoder import decoder_family, decoder_rules
from ._hf import unsupported
from ._rules import rule

B, H = "decoder.blocks.{i}", "model.layers.{i}"
# The router and stack_experts' stacked tensors under `mlp` (OLMoE, Qwen3-MoE).
MLP_EXPERT_RULES = [
    rule(f"{B}.ffn.router.weight", f"{H}.mlp.gate.weight"),
    rule(f"{B}.ffn.gate_up", f"{H}.mlp.experts.gate_up"),  # stacked by stack_experts()
    rule(f"{B}.ffn.down", f"{H}.mlp.experts.down"),
]


def topk_moe(hf: dict, n_experts: int, d_ff_key: str, pattern: str = "E") -> dict:
    """moe (as a dict) of softmax top-k routing in transformers' vocabulary (num_experts_per_tok,
    norm_topk_prob, router_aux_loss_coef); `d_ff_key` names the experts' hidden size."""
    return dataclasses.asdict(
        MoEConfig(
            n_experts=n_experts,
            top_k=hf["num_experts_per_tok"],
            d_ff=hf[d_ff_key],
            renormalize=bool(hf["norm_topk_prob"]),
            aux_loss_weight=float(hf["router_aux_loss_coef"]),
            pattern=pattern,
        )
    )


def topk_moe_to_hf(cfg, d_ff_key: str) -> dict:
    """The config.json keys topk_moe reads, from cfg.moe."""
    m = cfg.moe
    return {
        "num_experts": m.n_experts,
        "num_experts_per_tok": m.top_k,
        d_ff_key: m.d_ff or cfg.ffn.d_ff,
        "norm_topk_prob": m.renormalize,
        "router_aux_loss_coef": m.aux_loss_weight,
    }


def expert_layers(cfg) -> list[int]:
    return [i for i in range(cfg.n_decoder_layers) if cfg.experts_at(i)]


PROJ_NAMES = ("gate_proj", "up_proj", "down_proj")


def stack_experts(
    tensors: dict, cfg, where: str, prefix: str = "model.layers.{i}.mlp.experts", names: tuple = PROJ_NAMES
) -> dict:
    """Per-expert tensors -> the stacked `{prefix}.gate_up` and `{prefix}.down` the rules map.
    `names`: the checkpoint's (gate, up, down) projections (Mixtral: w1, w3, w2)."""
    out = dict(tensors)
    for i in expert_layers(cfg):
        p = prefix.format(i=i)
        gate_up, down = [], []
        for e in range(cfg.moe.n_experts):
            keys = [f"{p}.{e}.{w}.weight" for w in names]
            missing = [n for n in keys if n not in out]
            if missing:
                raise TcatError(f"{where}: tensor {missing[0]} is missing")
            gate, up, d = (out.pop(n) for n in keys)
            gate_up.append(torch.cat([gate, up]))
            down.append(d)
        out[f"{p}.gate_up"], out[f"{p}.down"] = torch.stack(gate_up), torch.stack(down)
    return out


def unstack_experts(
    tensors: dict, cfg, prefix: str = "model.layers.{i}.mlp.experts", names: tuple = PROJ_NAMES
) -> dict:
    out = dict(tensors)
    g, u, d = names
    for i in expert_layers(cfg):
        p = prefix.format(i=i)
        gate_up, down = out.pop(f"{p}.gate_up"), out.pop(f"{p}.down")
        for e in range(cfg.moe.n_experts):
            gate, up = gate_up[e].chunk(2)
            out[f"{p}.{e}.{g}.weight"], out[f"{p}.{e}.{u}.weight"] = gate.contiguous(), up.contiguous()
            out[f"{p}.{e}.{d}.weight"] = down[e].contiguous()
    return out


def no_jitter(hf: dict) -> None:
    """Router noise during training changes no weight, but a converter must not drop it silently.
    Quantized releases (DeepSeek-V3's fp8 blocks, gpt-oss's mxfp4 experts) are refused by name."""
    unsupported(hf, "router_jitter_noise", (0, 0.0, None), None)
    quant = hf.get("quantization_config")
    if quant is not None:
        method = quant.get("quant_method") if isinstance(quant, dict) else quant
        raise TcatError(
            f"Hugging Face config {hf.get('model_type')}: quantization_config quant_method={method!r} is not "
            "supported (convert a dequantized bf16/fp32 checkpoint)"
        )


def mlp_experts_family(name: str, defaults: dict, hf_model_types: tuple[str, ...], config_from_hf, config_to_hf):
    """The Family record of a LLaMA-layout decoder whose experts sit one by one under `mlp.experts`
    with their router at `mlp.gate` (OLMoE, Qwen3-MoE)."""
    return decoder_family(
        name,
        defaults,
        hf_model_types,
        config_from_hf,
        config_to_hf,
        rules=lambda cfg: [*decoder_rules(cfg), *MLP_EXPERT_RULES],
        pack=stack_experts,
        unpack=unstack_experts,
    )
