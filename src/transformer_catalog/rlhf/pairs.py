"""Human preference pairs from VADER's ground truth (Hutto & Gilbert, 2014), and the references a reward
model is measured against.

Four rated sets (movie-review sentences 10,605, tweets 4,200, NYT editorial snippets 5,190, Amazon
review snippets 3,708), each snippet with the mean of ~20 individual human ratings on -4..+4 and the
ratings themselves (`*_anonDataRatings.txt`). A preference pair is two snippets of the same set whose
means differ by at least `min_gap` (1.0); the higher-rated one is "chosen".

No leakage: snippets are split train / valid / test first (80 / 10 / 10 of each set, by a fixed
shuffle; snippets with the same text go to the same split), and pairs are drawn inside one split, so
no snippet, and no text, is in the pairs of two splits (tests/test_rlhf_pairs.py).

References on the same pairs:
- `rater_agreement`: the agreement ceiling between individual raters: for each pair, the probability
  that one rating drawn from each snippet's raters orders the pair as the means do (ties count half).
  A model of "the" human preference cannot be checked beyond what individual humans agree on.
- `vader_compound`: VADER's own lexicon and rules (its `compound`, -1..+1), loaded from the same sdist.

The files are read by data/vader.py. Setup: `python -m transformer_catalog.rlhf.pairs` downloads
vaderSentiment 3.3.2's sdist with pip (the sha256 pinned by data/sentiment.py), and extracts the eight
rating files and VADER's module and lexicons into the cache; nothing is downloaded at run time.
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import random
from dataclasses import dataclass

# The rated sets' reading lives in data/vader.py (the course's classification reads them too); these
# names stay importable from here.
from ..data.vader import (  # noqa: F401
    INSTALL,
    SETS,
    SPLITS,
    VADER_FILES,
    Snippet,
    _file,
    _key,
    folder,
    install,
    load_set,
    load_snippets,
    split_snippets,
)
from ..errors import TcatError


@dataclass(frozen=True)
class Pair:
    chosen: Snippet
    rejected: Snippet

    @property
    def gap(self) -> float:
        return self.chosen.mean - self.rejected.mean


def make_pairs(snippets: list[Snippet], per_snippet: int = 2, min_gap: float = 1.0, seed: int = 0) -> list[Pair]:
    """Preference pairs inside `snippets` (one split): each snippet is paired with up to `per_snippet`
    random partners of its own set whose mean rating differs by at least `min_gap`; the higher-rated one
    is chosen. Unordered duplicates are dropped; the order is shuffled (seeded)."""
    if min_gap <= 0:
        raise TcatError(f"min_gap must be positive, got {min_gap}")
    rng = random.Random(seed)
    pairs, seen = [], set()
    by_set: dict[str, list[Snippet]] = {}
    for s in snippets:
        by_set.setdefault(s.set, []).append(s)
    for items in by_set.values():
        ranked = sorted(items, key=lambda s: s.mean)
        means = [s.mean for s in ranked]
        for s in items:
            low = bisect.bisect_right(means, s.mean - min_gap)  # ranked[:low] are >= min_gap below
            high = bisect.bisect_left(means, s.mean + min_gap)  # ranked[high:] are >= min_gap above
            far = low + len(ranked) - high
            for _ in range(min(per_snippet, far)):
                k = rng.randrange(far)
                other = ranked[k] if k < low else ranked[high + k - low]
                key = tuple(sorted([(s.set, s.id), (other.set, other.id)]))
                if key in seen:
                    continue
                seen.add(key)
                pairs.append(Pair(s, other) if s.mean > other.mean else Pair(other, s))
    rng.shuffle(pairs)
    return pairs


def check_pairs(pairs: list[Pair], what: str) -> None:
    """A preference set must hold pairs, and both orders of preference must be learnable from it: a set
    whose pairs all have one and the same chosen text (or nothing) is refused."""
    if not pairs:
        raise TcatError(f"{what}: the preference set is empty")
    if len({p.chosen.text for p in pairs}) == 1 or all(p.chosen.text == p.rejected.text for p in pairs):
        raise TcatError(f"{what}: every pair prefers the same response: a one-class preference set cannot be learnt")


def preference_pairs(seed: int = 0, per_snippet: int = 2, min_gap: float = 1.0, sets=tuple(SETS)) -> dict:
    """{"train" | "valid" | "test": [Pair]} over VADER's rated sets, split by snippet (no leakage)."""
    splits = split_snippets(load_snippets(sets), seed)
    return {k: make_pairs(v, per_snippet, min_gap, seed + i) for i, (k, v) in enumerate(splits.items())}


def rater_agreement(pairs: list[Pair]) -> float:
    """Mean over pairs of P(one rating of the chosen snippet > one rating of the rejected one) + P(=)/2,
    with one rating drawn uniformly from each snippet's raters: how often an individual human orders the
    pair as the mean of all humans does (the ceiling a reward model of individual judgements can reach)."""
    if not pairs:
        raise TcatError("rater agreement of an empty pair set")
    total = 0.0
    for p in pairs:
        a, b = p.chosen.ratings, p.rejected.ratings
        wins = sum((x > y) + 0.5 * (x == y) for x in a for y in b)
        total += wins / (len(a) * len(b))
    return total / len(pairs)


def pairwise_accuracy(chosen_scores, rejected_scores) -> float:
    """Share of pairs whose chosen score is higher (ties count half)."""
    scored = list(zip(chosen_scores, rejected_scores))
    if not scored:
        raise TcatError("accuracy of an empty pair set")
    return sum((c > r) + 0.5 * (c == r) for c, r in scored) / len(scored)


@functools.cache
def _vader():
    """VADER's SentimentIntensityAnalyzer, from the module file kept in the cache (MIT, no dependencies)."""
    path = _file("vaderSentiment.py")
    spec = importlib.util.spec_from_file_location("tcat_vader_sentiment", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SentimentIntensityAnalyzer()


def vader_compound(texts: list[str]) -> list[float]:
    """VADER's lexicon-and-rules sentiment (`compound`, -1..+1) of each text."""
    analyzer = _vader()
    return [analyzer.polarity_scores(t)["compound"] for t in texts]


def linear_fit(x: list[float], y: list[float]) -> tuple[float, float]:
    """(a, b) minimising sum (a x + b - y)^2: a score put on the scale of mean human ratings."""
    n = len(x)
    if n < 2:
        raise TcatError("a calibration needs at least two snippets")
    mx, my = sum(x) / n, sum(y) / n
    var = sum((v - mx) ** 2 for v in x)
    a = sum((u - mx) * (v - my) for u, v in zip(x, y)) / var if var > 0 else 0.0
    return a, my - a * mx


if __name__ == "__main__":
    print(install())
