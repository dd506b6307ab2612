"""The Family record: everything tcat knows about one checkpoint layout, as data.

A family is a code notion (how a kind of checkpoint is laid out and translated), not the catalog's
genealogy: the catalog's `spec.layout` names one. Optional behaviour is an explicit field that is
None when a family has none, so that callers test a field, never the presence of an attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._rules import Rule


def _no_layers(cfg) -> dict[str, int]:
    return {}


@dataclass(frozen=True)
class Family:
    name: str  # the registry key, as catalog specs name it (spec.layout)
    # Named configurations in the family's own arguments (make_config's, else Hugging Face's
    # config vocabulary over `defaults`).
    configs: Mapping[str, dict] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)  # Hugging Face config values assumed when absent
    # -- Hugging Face translation (absent for families that exist only as configurations) --------
    hf_model_types: tuple[str, ...] = ()  # config.json model_type values this family reads and writes
    config_from_hf: Callable[[dict], Any] | None = None
    config_to_hf: Callable[[Any, str], dict] | None = None  # (config, model_type) -> config.json dict
    rules: Callable[[Any], list[Rule]] = lambda cfg: []  # weight-name rules for a config
    layers: Callable[[Any], dict[str, int]] = _no_layers  # layer placeholders ({i}, {e}, {d}) -> counts
    ignored: tuple[str, ...] = ()  # checkpoint tensors (glob patterns) that carry nothing tcat needs
    hf_prefix: str = ""  # the base model's prefix in a task checkpoint (e.g. "model.")
    hf_wrapper_prefixes: tuple[str, ...] = ()  # prefixes a task wrapper adds (BertForMaskedLM: "bert.")
    # -- optional hooks (None: the family has no such step) --------------------------------------
    make_config: Callable[..., Any] | None = None  # own arguments -> config (the paper's Transformer)
    check: Callable[[dict, str], None] | None = None  # refuse tensors the conversion would drop
    pack: Callable[[dict, Any, str], dict] | None = None  # checkpoint tensors -> the rules' layout
    unpack: Callable[[dict, Any], dict] | None = None  # the rules' layout -> checkpoint tensors
    build: Callable[..., Any] | None = None  # model builder other than nn.model.build_model (two towers)
    # Head count for rules with per_head layouts; None: cfg.attention.n_heads.
    heads: Callable[[Any], int] | None = None

    def config(self, **args):
        """A configuration from the family's own arguments: make_config where the family has one,
        else its Hugging Face translation over `defaults`."""
        if self.make_config is not None:
            return self.make_config(**args)
        if self.config_from_hf is None:
            raise TypeError(f"family {self.name} has neither make_config nor config_from_hf")
        return self.config_from_hf({**self.defaults, **args})

    def head_count(self, cfg) -> int:
        return self.heads(cfg) if self.heads is not None else cfg.attention.n_heads
