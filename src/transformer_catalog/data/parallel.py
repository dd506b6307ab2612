"""Parallel text: aligned (source, target) sentence pairs, for translation and contrastive training.

  bible-en-es     KJV and Reina-Valera 1909 (Debian sword-text-kjv, sword-text-sparv): 31,084 EN-ES verses
  bible-kjv-web   the same verse in the KJV and in the WEB (English paraphrases)
  bible-sample    the in-repo sample, EN-ES (held-out books and a few training chapters)
  FILE.tsv, FILE.txt   source<TAB>target lines, or id<TAB>source<TAB>target

Translation splits (split_parallel): Bible sources hold out whole books (bible.split_by_book); a
file holds out 5% valid and 5% test, shuffled with a fixed seed.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from ..errors import TcatError
from .bible import Pair, aligned_pairs, load_sample, split_by_book
from .text import read_text

SOURCES = ("bible-en-es", "bible-kjv-web", "bible-sample")
_MODULES = {"bible-en-es": ("engKJV2006eb", "spaRV1909eb"), "bible-kjv-web": ("engKJV2006eb", "engWEB2015eb")}


def load_parallel(data: str) -> list[Pair]:
    """Every pair of a source, in its order."""
    if data == "bible-sample":
        return load_sample()
    if data in _MODULES:
        return aligned_pairs(*_MODULES[data])
    path = Path(data)
    if path.suffix in (".tsv", ".txt") and path.is_file():
        return _tsv_pairs(path)
    raise TcatError(
        f"unknown dataset {data!r}: use one of {', '.join(SOURCES)}, or a .tsv file of source<TAB>target lines"
    )


def _tsv_pairs(path: Path) -> list[Pair]:
    pairs = []
    text = read_text(path, universal_newlines=False)  # csv reads line ends itself (QUOTE_NONE: tabs only)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    try:
        for row in reader:
            n = reader.line_num  # QUOTE_NONE: one row per line
            if not row or not any(row):
                continue
            if len(row) not in (2, 3):
                raise TcatError(
                    f"{path}:{n}: expected source<TAB>target (or id<TAB>source<TAB>target), "
                    f"got {len(row)} field{'s' * (len(row) != 1)}"
                )
            pairs.append(Pair(*(row if len(row) == 3 else [f"{path.name}:{n}", *row])))
    except csv.Error as e:  # e.g. a line longer than csv's field limit
        raise TcatError(f"{path}:{reader.line_num}: {e}") from None
    if not pairs:
        raise TcatError(f"{path}: no source<TAB>target lines (the file is empty)")
    return pairs


def split_parallel(data: str) -> dict[str, list[Pair]]:
    """train / valid / test pairs of a source, fixed for a given source."""
    pairs = load_parallel(data)
    if data in SOURCES:
        return split_by_book(pairs)
    if len(pairs) < 10:
        raise TcatError(f"{data}: {len(pairs)} pairs is too few to split into train/valid/test (need at least 10)")
    random.Random(0).shuffle(pairs)
    k = max(1, len(pairs) // 20)  # 5% valid, 5% test
    return {"valid": pairs[:k], "test": pairs[k : 2 * k], "train": pairs[2 * k :]}


def sentence_pairs(data: str) -> list[tuple[str, str]]:
    """(source, target) texts in corpus order: the examples of contrastive objectives."""
    return [(p.src, p.tgt) for p in load_parallel(data)]
