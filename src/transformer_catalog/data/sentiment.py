"""Sentiment data: VADER's human-rated movie-review sentences (Hutto & Gilbert, 2014).

10,605 Rotten Tomatoes snippets (the Pang & Lee sentences behind MR/SST), each with the mean of 20
human ratings on -4..+4. Positive: mean > +0.5; negative: mean < -0.5; the rest (neutral) dropped:
10,043 sentences, split 80 / 10 / 10 by a fixed shuffle.

The file ships only in the vaderSentiment source distribution on PyPI (MIT). The setup step
(`python -m transformer_catalog.data.sentiment`, run by scripts/install_data.sh) downloads that sdist
with pip and extracts the one file into the cache; nothing is downloaded at run time.
"""

from __future__ import annotations

import io
import random
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ..errors import TcatError
from .cache import cache_dir

FILE = "movieReviewSnippets_GroundTruth.txt"
INSTALL = "python -m transformer_catalog.data.sentiment"
SENTIMENT_SOURCES = ("vader-movies",)


def _path() -> Path:
    return cache_dir() / "vader" / FILE


def install() -> Path:
    """Download vaderSentiment 3.3.2's sdist with pip and keep the movie-review ground truth."""
    target = _path()
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        "vaderSentiment==3.3.2", "-d", tmp], check=True)
        with tarfile.open(next(Path(tmp).glob("vaderSentiment-*.tar.gz"))) as sdist:
            inner = sdist.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz").read()
        with tarfile.open(fileobj=io.BytesIO(inner)) as data:
            member = next(m for m in data.getmembers() if m.name.endswith(FILE))
            text = data.extractfile(member).read()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text)
    return target


def load_sentiment(name: str = "vader-movies") -> dict[str, list[tuple[str, int]]]:
    """{"train" | "valid" | "test": [(sentence, label 1 = positive, 0 = negative)]}."""
    if name not in SENTIMENT_SOURCES:
        raise TcatError(f"unknown sentiment dataset {name!r}: use {', '.join(SENTIMENT_SOURCES)}")
    path = _path()
    if not path.is_file():
        raise TcatError(f"VADER's movie-review ratings are not installed: run {INSTALL}")
    rows = []
    for n, line in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
        parts = line.rstrip("\r\n").split("\t", 2)
        if len(parts) != 3:
            raise TcatError(f"{path}:{n}: expected id<TAB>rating<TAB>text")
        rating = float(parts[1])
        if abs(rating) > 0.5:
            rows.append((parts[2].strip(), int(rating > 0)))
    random.Random(0).shuffle(rows)
    k = len(rows) // 10
    return {"test": rows[:k], "valid": rows[k:2 * k], "train": rows[2 * k:]}


if __name__ == "__main__":
    print(install())
