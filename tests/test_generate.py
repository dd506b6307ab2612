"""Cached decoding must equal full recomputation: same token ids, logits within 1e-5."""

import math

import pytest
import torch

from transformer_catalog.families import family, get_config
from transformer_catalog.generate import SamplingConfig, beam_search, filter_logits, generate, iter_tokens
from transformer_catalog.nn import ModelConfig, build_model


def _models():
    ed = build_model(get_config("transformer-tiny", N=2, d_model=32, d_ff=64, h=4, dropout=0.0, vocab_size=40)).eval()
    dec_cfg = ModelConfig(arch="decoder", d_model=32, n_decoder_layers=2, dropout=0.0)
    dec_cfg = dec_cfg.replace(**{"attention.n_heads": 4, "ffn.d_ff": 64, "embedding.vocab_size": 40})
    return {"encoder-decoder": ed, "decoder": build_model(dec_cfg).eval()}


def _inputs(arch):
    if arch == "encoder-decoder":
        src = torch.randint(3, 40, (3, 9))
        src[2, -3:] = 0  # padding in one source
        return dict(start=torch.full((3, 1), 1), src=src)
    return dict(start=torch.randint(3, 40, (3, 4)))


@pytest.mark.parametrize("arch", ["encoder-decoder", "decoder"])
def test_cached_greedy_equals_recomputation(arch):
    model = _models()[arch]
    kw = _inputs(arch)
    cached = list(iter_tokens(model, max_new_tokens=12, use_cache=True, **kw))
    full = list(iter_tokens(model, max_new_tokens=12, use_cache=False, **kw))
    assert len(cached) == len(full) == 12
    for (t1, l1), (t2, l2) in zip(cached, full):
        assert torch.equal(t1, t2)
        assert (l1 - l2).abs().max().item() <= 1e-5


@pytest.mark.parametrize("arch", ["encoder-decoder", "decoder"])
def test_cached_sampling_equals_recomputation(arch):
    model = _models()[arch]
    kw = _inputs(arch)
    s = SamplingConfig(temperature=0.9, top_k=10, top_p=0.9)
    a = generate(model, max_new_tokens=10, sampling=s, use_cache=True, generator=torch.Generator().manual_seed(3), **kw)
    b = generate(
        model, max_new_tokens=10, sampling=s, use_cache=False, generator=torch.Generator().manual_seed(3), **kw
    )
    assert torch.equal(a, b)


@pytest.mark.parametrize("arch", ["encoder-decoder", "decoder"])
def test_cached_beam_search_equals_recomputation(arch):
    model = _models()[arch]
    kw = _inputs(arch)
    a = beam_search(model, max_new_tokens=8, beam_size=4, eos_id=2, use_cache=True, **kw)
    b = beam_search(model, max_new_tokens=8, beam_size=4, eos_id=2, use_cache=False, **kw)
    assert a == b and any(len(h) > 0 for h in a)


def test_beam_of_one_is_greedy():
    model = _models()["encoder-decoder"]
    kw = _inputs("encoder-decoder")
    greedy = generate(model, max_new_tokens=8, **kw).tolist()
    beam = beam_search(model, max_new_tokens=8, beam_size=1, alpha=0.0, **kw)
    assert beam == greedy


def test_beam_search_finds_better_sequences_than_greedy():
    """Beam search maximises total log-probability at least as well as greedy (alpha=0)."""
    model = _models()["decoder"]
    start = torch.randint(3, 40, (4, 3))

    def logprob(seq):
        ids = torch.cat([start, torch.tensor(seq)], dim=1)
        lp = torch.log_softmax(model(ids)[:, start.size(1) - 1 : -1], -1)
        return lp.gather(-1, torch.tensor(seq)[..., None]).sum(dim=(1, 2))

    greedy = generate(model, start, max_new_tokens=6).tolist()
    beam = beam_search(model, start, max_new_tokens=6, beam_size=5, alpha=0.0)
    assert (logprob(beam) >= logprob(greedy) - 1e-5).all()


def test_filter_logits_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isfinite(filter_logits(logits, top_k=2)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.7)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.5)).tolist() == [[True, False, False, False]]


@pytest.mark.parametrize("position", ["learned", "rope"])
def test_static_cache_equals_recomputation(position):
    """Fixed-size cache buffers, a position tensor and a mask of the filled part: the same logits as
    recomputing the whole prefix (eager; the compiled step runs this same code)."""
    from transformer_catalog.nn.attention import StaticKVCache

    cfg = ModelConfig(arch="decoder", d_model=32, n_decoder_layers=2, dropout=0.0)
    cfg = cfg.replace(
        **{
            "attention.n_heads": 4,
            "attention.n_kv_heads": 2,
            "ffn.d_ff": 64,
            "embedding.vocab_size": 40,
            "position.kind": position,
            "norm.placement": "pre",
            "norm.final": True,
        }
    )
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    ids = torch.randint(3, 40, (2, 10))
    cache = model.new_static_cache(2, 16)
    assert isinstance(cache, StaticKVCache)
    with torch.no_grad():
        full = model(ids)
        first = model(ids[:, :6], cache)  # a prompt of 6, then one token at a time
        cache.advance(6)
        steps = [first]
        for t in range(6, 10):
            steps.append(model(ids[:, t : t + 1], cache))
            cache.advance(1)
    assert (torch.cat(steps, dim=1) - full).abs().max().item() < 1e-5


def test_static_cache_refuses_what_it_cannot_hold():
    from transformer_catalog.errors import TcatError

    window = ModelConfig(arch="decoder", d_model=32, n_decoder_layers=1).replace(
        **{"attention.n_heads": 4, "attention.window": 4, "attention.window_pattern": "L", "embedding.vocab_size": 40}
    )
    with pytest.raises(TcatError, match="sliding-window"):
        build_model(window).new_static_cache(1, 8)
    plain = build_model(
        ModelConfig(arch="decoder", d_model=32, n_decoder_layers=1).replace(
            **{"attention.n_heads": 4, "embedding.vocab_size": 40, "position.max_len": 16}
        )
    )
    with pytest.raises(TcatError, match="longer than the model's position.max_len"):
        plain.new_static_cache(1, 17)


def test_compiled_decoding_gives_the_eager_tokens():
    from transformer_catalog.runtime import has_cxx_compiler

    if not has_cxx_compiler():
        pytest.skip("inductor needs a C++ compiler")
    cfg = family("gpt2").config(n_layer=2, n_embd=32, n_head=4, n_positions=64, vocab_size=50)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    start = torch.randint(0, 50, (2, 5))
    eager = list(iter_tokens(model, start, 12))
    compiled = list(iter_tokens(model, start, 12, compile=True))
    assert all(torch.equal(a, b) for (a, _), (b, _) in zip(eager, compiled))
    assert max((a - b).abs().max().item() for (_, a), (_, b) in zip(eager, compiled)) < 1e-4
    with pytest.warns(UserWarning, match="encoder-decoder"):  # what cannot compile decodes eagerly, and says why
        ed = _models()["encoder-decoder"]
        list(iter_tokens(ed, torch.full((1, 1), 1), 3, src=torch.randint(3, 40, (1, 5)), compile=True))


def test_gnmt_length_penalty_is_the_papers_formula():
    from transformer_catalog.generate import length_penalty

    for alpha in (0.0, 0.6, 1.0, 2.0):
        for n in (1, 2, 7, 30):
            assert abs(length_penalty(n, alpha) - ((5 + n) / 6) ** alpha) < 1e-12  # Wu et al. 2016, eq. 14
    assert length_penalty(1, 0.6) == 1.0 and length_penalty(7, 0.6) > length_penalty(3, 0.6)


def _constant_logits_decoder(bias: torch.Tensor, eos_free: bool = True):
    """A decoder whose logits are `bias` whatever the input: every weight is zero and the untied head
    carries the bias. Sampling from it draws from softmax(bias / temperature) exactly."""
    cfg = ModelConfig(arch="decoder", d_model=16, n_decoder_layers=1, dropout=0.0).replace(
        **{
            "attention.n_heads": 2,
            "ffn.d_ff": 32,
            "embedding.vocab_size": bias.numel(),
            "embedding.tie_output": False,
            "embedding.head_bias": True,
        }
    )
    model = build_model(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.head.bias.copy_(bias)
    return model


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sampling_draws_from_softmax_of_logits_over_temperature(temperature):
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    model = _constant_logits_decoder(logits)
    n = 20000
    draws = generate(
        model,
        torch.zeros(n, 1, dtype=torch.long),
        1,
        sampling=SamplingConfig(temperature=temperature),
        generator=torch.Generator().manual_seed(0),
    )[:, 0]
    freq = torch.bincount(draws, minlength=4).double() / n
    scaled = [math.exp(x / temperature) for x in logits.tolist()]  # p_i = exp(z_i / T) / sum_j exp(z_j / T)
    expected = torch.tensor([s / sum(scaled) for s in scaled], dtype=torch.float64)
    assert (freq - expected).abs().max().item() < 0.015  # 4+ standard errors at n = 20000


def test_higher_temperature_flattens_the_distribution():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, -3.0])
    model = _constant_logits_decoder(logits)

    def entropy(t):
        draws = generate(
            model,
            torch.zeros(20000, 1, dtype=torch.long),
            1,
            sampling=SamplingConfig(temperature=t),
            generator=torch.Generator().manual_seed(1),
        )[:, 0]
        p = torch.bincount(draws, minlength=5).double() / draws.numel()
        return -(p[p > 0] * p[p > 0].log()).sum().item()

    low, mid, high = entropy(0.3), entropy(1.0), entropy(3.0)
    assert low < mid < high and high > 1.4 and low < 0.3


def test_beam_search_with_length_penalty_finds_the_best_normalised_hypothesis():
    """A beam wide enough to keep every hypothesis (vocabulary 4, 3 steps, beam 64) must return the
    sequence maximising log P(Y) / lp(Y) with lp = ((5 + |Y|) / 6)^alpha (|Y| counts the eos), found
    here by enumeration. alpha changes the winner in some rows, so a penalty that ignores alpha fails;
    at alpha = 6 winners of every length compete, so a length off by one fails too."""
    import itertools

    cfg = ModelConfig(arch="decoder", d_model=16, n_decoder_layers=1, dropout=0.0).replace(
        **{"attention.n_heads": 2, "ffn.d_ff": 32, "embedding.vocab_size": 4}
    )
    torch.manual_seed(3)
    model = build_model(cfg).eval()
    eos, steps = 2, 3
    start = torch.randint(0, 4, (12, 2))

    def candidates(row):  # (log P(Y), |Y| counting the eos, hypothesis without the eos)
        out = []
        for n in range(1, steps + 1):
            for seq in itertools.product(range(4), repeat=n):
                if eos in seq[:-1] or (seq[-1] != eos and n < steps):
                    continue
                ids = torch.cat([start[row], torch.tensor(seq)])[None]
                with torch.no_grad():
                    lp = torch.log_softmax(model(ids)[0, start.size(1) - 1 : -1].float(), -1)
                score = lp.gather(-1, torch.tensor(seq)[:, None]).sum().item()
                out.append((score, n, list(seq[:-1]) if seq[-1] == eos else list(seq)))
        return out

    cands = [candidates(r) for r in range(start.size(0))]
    winners = {}
    for alpha in (0.0, 0.6, 1.5, 6.0):
        winners[alpha] = [max((s / ((5 + n) / 6) ** alpha, hyp) for s, n, hyp in c)[1] for c in cands]
        assert beam_search(model, start, steps, beam_size=64, alpha=alpha, eos_id=eos) == winners[alpha], alpha
    assert sum(a != b for a, b in zip(winners[0.0], winners[1.5])) >= 2
    assert len({len(w) for w in winners[6.0]}) == 3
