"""Initialisation is chosen by module type: every parameter gets exactly what the former rule (by
parameter-name substrings) gave it, and renaming a submodule changes nothing."""

import copy
from collections import OrderedDict

import pytest
import torch
from torch import nn

from transformer_catalog.nn import ModelConfig, build_model
from transformer_catalog.nn import model as model_module
from transformer_catalog.nn.init import init_weights

_SMALL = {
    "d_model": 16,
    "dropout": 0.0,
    "attention": {"n_heads": 4},
    "ffn": {"d_ff": 24},
    "embedding": {"vocab_size": 40},
    "position": {"max_len": 32},
}
_PRE = {"placement": "pre", "final": True}


def _cfg(**over) -> ModelConfig:
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in _SMALL.items()}
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    return ModelConfig.from_dict(data)


CONFIGS = {
    "seq2seq-learned-factorised-untied": _cfg(
        arch="encoder-decoder",
        n_encoder_layers=2,
        n_decoder_layers=2,
        position={"kind": "learned", "offset": 2},
        embedding={
            "share_src_tgt": False,
            "tie_output": False,
            "head_bias": True,
            "n_token_types": 2,
            "d_embed": 8,
            "norm": True,
        },
    ),
    "t5-relative-tied": _cfg(
        arch="encoder-decoder",
        n_encoder_layers=2,
        n_decoder_layers=2,
        position={"kind": "relative"},
        norm={"kind": "rmsnorm", "bias": False, **_PRE},
        attention={"qkv_bias": False, "out_bias": False, "scale": 1.0},
    ),
    "decoder-rope-moe-gated-gqa": _cfg(
        arch="decoder",
        n_encoder_layers=0,
        n_decoder_layers=3,
        norm=_PRE,
        position={"kind": "rope"},
        attention={"n_kv_heads": 2},
        ffn={"gated": True, "activation": "silu"},
        moe={"n_experts": 3, "top_k": 2, "pattern": "DE"},
    ),
    "decoder-xl-moe": _cfg(
        arch="decoder",
        n_encoder_layers=0,
        n_decoder_layers=2,
        memory=4,
        position={"kind": "xl"},
        moe={"n_experts": 2, "top_k": 1},
    ),
    "decoder-alibi-shared": _cfg(
        arch="decoder", n_encoder_layers=0, n_decoder_layers=3, share_layers=True, position={"kind": "alibi"}, norm=_PRE
    ),
    "deberta-disentangled": _cfg(
        arch="encoder",
        n_encoder_layers=2,
        n_decoder_layers=0,
        position={"kind": "disentangled", "relative_buckets": 8, "relative_max_distance": 16},
        embedding={"n_token_types": 2, "norm": True},
    ),
    "vit": _cfg(
        arch="encoder",
        n_encoder_layers=2,
        n_decoder_layers=0,
        norm=_PRE,
        position={"kind": "none"},
        vision={"image_size": 16, "patch_size": 4, "channels": 3},
    ),
}


def _former_rule(model: nn.Module) -> None:
    """The initialisation as it was written before it moved to the module types (by parameter-name
    substrings), kept here as the oracle."""
    for name, p in model.named_parameters():
        if (p.dim() < 2 and not name.endswith(("pos_u", "pos_v"))) or name.endswith("class_token"):
            if name.endswith("class_token"):
                nn.init.normal_(p, std=0.02)
            continue
        if name.endswith(("up", "down")) and p.dim() == 3:
            for expert in p:
                nn.init.xavier_uniform_(expert)
        elif "tokens" in name:
            nn.init.normal_(p, std=model.config.d_model**-0.5)
        elif any(
            k in name
            for k in ("positions", "token_types", "relative_bias", "class_token", "disentangled", "pos_u", "pos_v")
        ):
            nn.init.normal_(p, std=0.02)
        else:
            nn.init.xavier_uniform_(p)


def _uninitialised(cfg: ModelConfig, seed: int, monkeypatch) -> nn.Module:
    """The model as its constructors leave it, with the random state the initialisation would see."""
    torch.manual_seed(seed)
    with monkeypatch.context() as m:
        m.setattr(model_module._Base, "init_weights", lambda self: None)
        return build_model(cfg)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_parameter_initialised_as_the_former_name_rule_did(name, monkeypatch):
    cfg = CONFIGS[name]
    expected = _uninitialised(cfg, 7, monkeypatch)
    _former_rule(expected)
    torch.manual_seed(7)
    got = build_model(cfg)
    want = dict(expected.named_parameters())
    assert list(want) == [n for n, _ in got.named_parameters()]
    for pname, p in got.named_parameters():
        assert torch.equal(p, want[pname]), pname
    # and the distributions the rule means: token tables N(0, d^-1/2), position tables N(0, 0.02)
    for pname, p in got.named_parameters():
        if pname.endswith("tokens.weight"):
            assert p.std().item() == pytest.approx(cfg.d_model**-0.5, rel=0.15)
        if pname.endswith("positions.weight") or pname.endswith("relative_bias.weight"):
            assert p.std().item() == pytest.approx(0.02, rel=0.2)


def _rename_children(module: nn.Module, renames: dict[str, str]) -> None:
    """Rename child modules in place, keeping their order (the order the random numbers are drawn in)."""
    for child in module.modules():
        child._modules = OrderedDict((renames.get(k, k), v) for k, v in child._modules.items())


@pytest.mark.parametrize(
    "name",
    ["seq2seq-learned-factorised-untied", "t5-relative-tied", "deberta-disentangled", "decoder-rope-moe-gated-gqa"],
)
def test_renaming_submodules_does_not_change_the_initialisation(name):
    cfg = CONFIGS[name]
    torch.manual_seed(0)
    model = build_model(cfg)
    renamed = copy.deepcopy(model)  # what the initialisation leaves alone (biases, gains) is equal too
    # names the former substring rule keyed on; under it, these renames changed the initialisation
    _rename_children(
        renamed,
        {
            "tokens": "vocab",
            "positions": "where",
            "token_types": "segments",
            "relative_bias": "rb",
            "disentangled": "dis",
            "ffn": "mlp",
            "embed": "inputs",
        },
    )
    assert [n for n, _ in model.named_parameters()] != [n for n, _ in renamed.named_parameters()]
    torch.manual_seed(3)
    init_weights(model)
    torch.manual_seed(3)
    init_weights(renamed)
    for (a_name, a), (_, b) in zip(model.named_parameters(), renamed.named_parameters(), strict=True):
        assert torch.equal(a, b), a_name


def test_a_module_type_without_a_rule_is_refused():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(2, 2))

    with pytest.raises(TypeError, match="Odd"):
        init_weights(Odd())


def test_the_core_does_not_dispatch_on_attribute_presence():
    """Behaviour in nn/ comes from config fields, module types and explicit hooks: no hasattr, and
    no getattr with a default standing in for one (issue 12)."""
    import re
    from pathlib import Path

    import transformer_catalog.nn as core

    found = []
    for path in sorted(Path(core.__file__).parent.glob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bhasattr\(|\bgetattr\([^()]*,[^()]*,", line):
                found.append(f"{path.name}:{n}: {line.strip()}")
    assert not found, found
