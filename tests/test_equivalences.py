"""Equivalences, for every catalog entry with an architecture spec (at tiny scale, random weights):
SDPA equals the eager reference; padding never changes real tokens (an encoder's padded sequence,
an encoder-decoder's padded source, a decoder's left-padded prompt, each against the same sequence
alone); a decoder's cached generation equals recomputation (same tokens, logits)."""

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
    if cfg.dit is not None:  # a denoiser (nn/dit.py): an image, a timestep and a class in, no tokens
        g = cfg.dit
        with torch.no_grad():
            for p in sdpa.parameters():  # adaLN-Zero starts at exactly 0: give every weight a value
                p.normal_(0, 0.2)
        eager.load_state_dict(sdpa.state_dict())
        x, t, y = torch.randn(2, g.channels, g.image_size, g.image_size), torch.tensor([3, 700]), torch.tensor([1, 2])
        with torch.no_grad():
            assert (sdpa(x, t, y) - eager(x, t, y)).abs().max().item() <= 1e-4, "SDPA differs from eager"
        return
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


TEXT_ENTRIES = [e for e in ENTRIES if _tiny(*e).vision is None and _tiny(*e).dit is None]  # images have no padding


@pytest.mark.parametrize("name,variant", TEXT_ENTRIES)
def test_padding_never_changes_real_tokens(name, variant):
    torch.manual_seed(0)
    cfg = _tiny(name, variant)
    model = build_model(cfg).eval()
    x = _ids(cfg, (2, 9))
    pad = cfg.embedding.pad_id
    with torch.no_grad():
        if cfg.arch == "encoder":
            padded = x.clone()
            padded[1, 5:] = pad
            got, alone = model(padded)[1, :5], model(padded[1:, :5])[0]
        elif cfg.arch == "encoder-decoder":
            src = x.clone()
            src[1, 5:] = pad  # a padded source: the decoder must read only its 5 real tokens
            tgt = _ids(cfg, (2, 6))
            got, alone = model(src, tgt)[1], model(src[1:, :5], tgt[1:])[0]
        else:
            prompt = x[:, :7].clone()
            prompt[1, :3] = pad  # left padding, marked by keep (Hugging Face's attention_mask)
            keep = torch.ones_like(prompt, dtype=torch.bool)
            keep[1, :3] = False
            steps = list(iter_tokens(model, prompt, 5, keep=keep))
            ref = list(iter_tokens(model, prompt[1:, 3:], 5))
            assert all(torch.equal(a[0][1:], b[0]) for a, b in zip(steps, ref)), "padding changed the tokens"
            got, alone = torch.stack([a[1][1] for a in steps]), torch.stack([b[1][0] for b in ref])
    assert (got - alone).abs().max().item() <= 1e-4, "padding changed real tokens"
