"""Equivalences, for every catalog entry with an architecture spec (at tiny scale, random weights):
SDPA equals the eager reference; an encoder gives a padded sequence the same hidden states as the
same sequence alone; a decoder's cached generation equals recomputation (same tokens, logits)."""

import pytest
import torch

from transformer_catalog.catalog.load import load_catalog
from transformer_catalog.catalog.verify import build_config, tiny_config
from transformer_catalog.generate import iter_tokens
from transformer_catalog.nn import build_model

ENTRIES = [(e.name, next(iter(e.spec.to_dict()["variants"]))) for e in load_catalog().entries if e.spec]


def _tiny(name, variant):
    spec = load_catalog().get(name).spec.to_dict()
    cfg = tiny_config(build_config(spec, variant))
    return cfg.replace(dropout=0.0, **{"attention.dropout": 0.0})


def _ids(cfg, shape):
    ids = torch.randint(0, cfg.embedding.vocab_size - 1, shape)
    return ids + (ids >= cfg.embedding.pad_id).long()  # never the padding id


def _run(model, cfg, ids):
    if cfg.vision is not None:
        return model(ids)
    return model(ids, ids) if cfg.arch == "encoder-decoder" else model(ids)


@pytest.mark.parametrize("name,variant", ENTRIES)
def test_every_family_is_consistent(name, variant):
    torch.manual_seed(0)
    cfg = _tiny(name, variant)
    sdpa = build_model(cfg).eval()
    eager = build_model(cfg.replace(**{"attention.backend": "eager"})).eval()
    eager.load_state_dict(sdpa.state_dict())
    if cfg.vision is not None:
        v = cfg.vision
        x = torch.randn(2, v.channels, v.image_size, v.image_size)
    else:
        x = _ids(cfg, (2, 9))
    with torch.no_grad():
        assert (_run(sdpa, cfg, x) - _run(eager, cfg, x)).abs().max().item() <= 1e-4, "SDPA differs from eager"
        if cfg.vision is not None:
            return
        if cfg.arch == "encoder":
            padded = x.clone()
            padded[1, 5:] = cfg.embedding.pad_id
            alone = sdpa(padded[1:, :5])
            assert (sdpa(padded)[1, :5] - alone[0]).abs().max().item() <= 1e-4, "padding changed real tokens"
            return
        kw = dict(src=x) if cfg.arch == "encoder-decoder" else {}
        start = x[:, :1] if cfg.arch == "encoder-decoder" else x[:, :4]
        cached = list(iter_tokens(sdpa, start, 6, use_cache=True, **kw))
        full = list(iter_tokens(sdpa, start, 6, use_cache=False, **kw))
        for (t1, l1), (t2, l2) in zip(cached, full):
            assert torch.equal(t1, t2) and (l1 - l2).abs().max().item() <= 1e-4, "cached decoding differs"
