"""The family registry: one `Family` record per file (families/*.py), found by name (as catalog
specs name a layout) or by Hugging Face model_type (as config.json declares it)."""

from __future__ import annotations

import difflib

from ..errors import TcatError
from . import (
    albert,
    bart,
    bert,
    bloom,
    clip,
    cohere,
    deberta_v2,
    deepseek,
    distilbert,
    gemma,
    gpt2,
    gpt_neo,
    gpt_neox,
    gpt_oss,
    gptj,
    granite,
    llama,
    llama4,
    modernbert,
    nemotron,
    olmo2,
    olmoe,
    openai_gpt,
    opt,
    persimmon,
    phi3,
    qwen,
    qwen3_moe,
    smollm3,
    stablelm,
    switch,
    t5,
    transformer,
    vit,
)
from ._family import Family

FAMILIES: tuple[Family, ...] = tuple(
    m.FAMILY
    for m in (
        transformer,
        gpt2,
        llama,
        bert,
        opt,
        gpt_neox,
        bart,
        t5,
        bloom,
        albert,
        distilbert,
        openai_gpt,
        vit,
        gpt_neo,
        gptj,
        deberta_v2,
        clip,
        switch,
        deepseek,
        qwen3_moe,
        gpt_oss,
        llama4,
        olmoe,
        qwen,
        gemma,
        phi3,
        olmo2,
        smollm3,
        modernbert,
        persimmon,
        cohere,
        granite,
        stablelm,
        nemotron,
    )
)
_BY_NAME = {f.name: f for f in FAMILIES}
_BY_HF = {t: f for f in FAMILIES for t in f.hf_model_types}
if len(_BY_NAME) != len(FAMILIES) or len(_BY_HF) != sum(len(f.hf_model_types) for f in FAMILIES):
    raise RuntimeError("two families claim one name or one Hugging Face model_type")


def family(name: str) -> Family:
    """The family called `name`."""
    if name not in _BY_NAME:
        raise TcatError(f"unknown family {name!r}; known: {', '.join(sorted(_BY_NAME))}, config")
    return _BY_NAME[name]


def family_for_hf(model_type: str) -> Family:
    """The family that reads and writes Hugging Face checkpoints of this model_type."""
    if model_type not in _BY_HF:
        raise TcatError(f"unsupported Hugging Face architecture {model_type!r}; supported: {', '.join(sorted(_BY_HF))}")
    return _BY_HF[model_type]


def hf_model_types() -> list[str]:
    return sorted(_BY_HF)


def make_config(fam: Family, **args):
    """A family's ModelConfig from its own arguments (Family.config)."""
    return fam.config(**args)


def config_names() -> list[str]:
    return sorted(name for fam in FAMILIES for name in fam.configs)


def get_config(name: str, **overrides):
    """The ModelConfig named `name`, with keyword overrides of the family's make_config arguments."""
    for fam in FAMILIES:
        if name in fam.configs:
            return fam.config(**{**fam.configs[name], **overrides})
    close = difflib.get_close_matches(name, config_names(), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise TcatError(
        f"unknown model config {name!r}; {hint}known: {', '.join(config_names())} "
        "(catalog entries with a spec work too, e.g. tcat build 'LLaMA')"
    )


__all__ = [
    "FAMILIES",
    "Family",
    "config_names",
    "family",
    "family_for_hf",
    "get_config",
    "hf_model_types",
    "make_config",
]
