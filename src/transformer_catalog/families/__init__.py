"""Named model configurations, per family. Plain data; `get_config` resolves a name."""

from __future__ import annotations

import difflib

from ..errors import TcatError
from . import albert, bart, bert, bloom, deberta_v2, distilbert, gpt2, gpt_neo, gpt_neox, gptj, llama, openai_gpt, opt, t5, transformer, vit

_FAMILIES = {"transformer": transformer, "gpt2": gpt2, "llama": llama, "bert": bert, "opt": opt, "gpt_neox": gpt_neox,
             "bart": bart, "t5": t5, "bloom": bloom, "albert": albert,
             "distilbert": distilbert, "openai-gpt": openai_gpt, "vit": vit, "gpt_neo": gpt_neo, "gptj": gptj,
             "deberta_v2": deberta_v2}


def family(name: str):
    """The family module called `name`."""
    if name not in _FAMILIES:
        raise TcatError(f"unknown family {name!r}; known: {', '.join(sorted(_FAMILIES))}, config")
    return _FAMILIES[name]


def make_config(fam, **args):
    """A family's ModelConfig from its own arguments: the family's make_config where it has one
    (the paper's Transformer), else its Hugging Face config translation over its DEFAULTS."""
    if hasattr(fam, "make_config"):
        return fam.make_config(**args)
    return fam.config_from_hf({**fam.DEFAULTS, **args})


def config_names() -> list[str]:
    return sorted(name for fam in _FAMILIES.values() for name in getattr(fam, "CONFIGS", {}))


def get_config(name: str, **overrides):
    """The ModelConfig named `name`, with keyword overrides of the family's make_config arguments."""
    for fam in _FAMILIES.values():
        if name in getattr(fam, "CONFIGS", {}):
            return make_config(fam, **{**fam.CONFIGS[name], **overrides})
    close = difflib.get_close_matches(name, config_names(), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise TcatError(f"unknown model config {name!r}; {hint}known: {', '.join(config_names())} "
                    "(catalog entries with a spec work too, e.g. tcat build 'LLaMA')")
