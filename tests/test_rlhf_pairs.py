"""Preference pairs from human ratings (rlhf/pairs.py): the split by snippet has no leakage, pairs respect
the rating gap and stay inside one set, and the references (rater agreement, pairwise accuracy) are
the formulas they claim to be."""

from __future__ import annotations

import random

import pytest

from transformer_catalog.errors import TcatError
from transformer_catalog.rlhf.pairs import (
    Pair,
    Snippet,
    check_pairs,
    folder,
    linear_fit,
    make_pairs,
    pairwise_accuracy,
    rater_agreement,
    split_snippets,
)


def _snippets(n: int = 400, seed: int = 0) -> list[Snippet]:
    """Two sets of rated snippets; every tenth text repeats an earlier one (duplicates must not straddle splits)."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        name = "a" if k % 2 else "b"
        text = f"text {k - 10 if k % 10 == 9 and k > 10 else k}"
        mean = rng.uniform(-4, 4)
        out.append(Snippet(name, str(k), text, mean, tuple(rng.randint(-4, 4) for _ in range(5))))
    return out


def test_pairs_are_split_by_snippet_without_leakage():
    splits = split_snippets(_snippets())
    pairs = {k: make_pairs(v, per_snippet=3, min_gap=1.0, seed=i) for i, (k, v) in enumerate(splits.items())}
    assert all(pairs[k] for k in pairs)
    seen = {k: {(s.set, s.id) for p in v for s in (p.chosen, p.rejected)} for k, v in pairs.items()}
    texts = {k: {s.text for p in v for s in (p.chosen, p.rejected)} for k, v in pairs.items()}
    for a, b in (("train", "test"), ("train", "valid"), ("valid", "test")):
        assert not seen[a] & seen[b], (a, b)
        assert not texts[a] & texts[b], (a, b)  # a repeated text lands in one split only
    for p in pairs["train"]:
        assert p.chosen.set == p.rejected.set
        assert p.chosen.mean - p.rejected.mean >= 1.0
    keys = [frozenset([(p.chosen.set, p.chosen.id), (p.rejected.set, p.rejected.id)]) for p in pairs["train"]]
    assert len(keys) == len(set(keys))  # no pair twice


def test_split_is_about_80_10_10_and_deterministic():
    snippets = _snippets(1000)
    a, b = split_snippets(snippets, seed=3), split_snippets(snippets, seed=3)
    assert a == b
    assert 0.75 < len(a["train"]) / 1000 < 0.85 and 0.07 < len(a["test"]) / 1000 < 0.13
    assert split_snippets(snippets, seed=4)["test"] != a["test"]


def test_rater_agreement_by_hand():
    # chosen's raters 2, 3 against rejected's 1, 3: (2>1) + (2<3) + (3>1) + (3=3)/2 = 2.5 of 4
    p = Pair(Snippet("a", "1", "x", 2.5, (2, 3)), Snippet("a", "2", "y", 1.5, (1, 3)))
    q = Pair(Snippet("a", "3", "z", 4.0, (4,)), Snippet("a", "4", "w", 0.0, (0,)))
    assert rater_agreement([p]) == pytest.approx(0.625)
    assert rater_agreement([p, q]) == pytest.approx((0.625 + 1.0) / 2)


def test_pairwise_accuracy_counts_ties_half():
    assert pairwise_accuracy([1.0, 2.0, 3.0, 0.0], [0.0, 2.0, 4.0, -1.0]) == pytest.approx(2.5 / 4)


def test_linear_fit_recovers_a_line():
    a, b = linear_fit([0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 5.0, 7.0])
    assert (a, b) == pytest.approx((2.0, 1.0))


def test_empty_and_one_class_preference_sets_are_refused():
    s = _snippets(4)
    with pytest.raises(TcatError, match="empty"):
        check_pairs([], "x")
    with pytest.raises(TcatError, match="one-class"):
        check_pairs([Pair(s[0], s[1]), Pair(s[0], s[2])], "x")
    check_pairs([Pair(s[0], s[1]), Pair(s[2], s[3])], "x")
    assert make_pairs(s, min_gap=8.0) == []


@pytest.mark.skipif(
    not (folder() / "vaderSentiment.py").is_file(), reason="run python -m transformer_catalog.rlhf.pairs"
)
def test_vader_sets_pairs_and_references():
    from transformer_catalog.rlhf.pairs import load_snippets, preference_pairs, vader_compound

    snippets = load_snippets()
    assert len(snippets) == 10605 + 4200 + 5190 + 3708
    assert all(-4 <= s.mean <= 4 and len(s.ratings) >= 10 for s in snippets)
    pairs = preference_pairs()
    train = {s.text for p in pairs["train"] for s in (p.chosen, p.rejected)}
    test = {s.text for p in pairs["test"] for s in (p.chosen, p.rejected)}
    assert not train & test and len(pairs["test"]) > 1000
    assert 0.85 < rater_agreement(pairs["test"][:500]) < 1.0
    good, bad = vader_compound(["What a wonderful, moving film.", "A dull, ugly, painful mess."])
    assert good > 0.5 and bad < -0.5
