"""Verse-aligned Bible translations from Debian's SWORD modules (public domain).

  engKJV2006eb  King James Version          Debian package sword-text-kjv
  spaRV1909eb   Reina-Valera 1909 (Spanish) Debian package sword-text-sparv
  engWEB2015eb  World English Bible         Debian package sword-text-web

KJV and RV1909 share the KJV versification, so a verse reference aligns the two exactly: 31,084
EN-ES pairs. Evaluation holds out whole books, so no test verse has a neighbour in training.
"""

from __future__ import annotations

import functools
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import TcatError
from .cache import cache_dir, read_cached, write_cached

MODULES = {"engKJV2006eb": "sword-text-kjv", "spaRV1909eb": "sword-text-sparv", "engWEB2015eb": "sword-text-web"}
SWORD_ROOT = os.environ.get("TCAT_SWORD_ROOT", "/usr/share/sword")
SAMPLE = Path(__file__).parent / "samples" / "bible_en_es.tsv"

# Whole books held out: small, varied in genre (narrative, prophecy, letters), both testaments.
VALID_BOOKS = ("Titus", "Jude", "Obadiah", "Haggai")
TEST_BOOKS = ("Ruth", "Jonah", "Philippians", "James")

_NOTES = re.compile(r"<note\b.*?</note>", re.S)  # translators' footnotes are not verse text
_MARKUP = re.compile(r"<[^>]+>")
_SPACE_BEFORE = re.compile(r"\s+([.,;:!?)\]»’”])")
_SPACE_AFTER = re.compile(r"([(\[«¿¡‘“])\s+")


def _clean(text: str) -> str:
    """Tags become spaces (so words they separated stay apart); then no space before punctuation."""
    text = " ".join(_MARKUP.sub(" ", _NOTES.sub(" ", text)).replace("¶", " ").split())
    return _SPACE_AFTER.sub(r"\1", _SPACE_BEFORE.sub(r"\1", text))


def _parse_module(module: str) -> dict[str, str]:
    try:
        import pysword.bible as pb
        from pysword.modules import SwordModules
    except ImportError:
        raise TcatError("the Bible corpora need pysword: pip install pysword") from None
    # pysword decompresses a whole book per verse; memoising the block cuts ~50 s to ~2 s a module.
    if not hasattr(pb.ZTextModule._decompressed_text, "cache_info"):
        pb.ZTextModule._decompressed_text = functools.lru_cache(maxsize=8)(pb.ZTextModule._decompressed_text)
    mods = SwordModules(SWORD_ROOT)
    try:
        found = mods.parse_modules()
    except Exception:
        found = {}
    if module not in found:
        raise TcatError(
            f"Bible module {module} not found under {SWORD_ROOT}; install it with "
            f"'sudo apt-get install {MODULES.get(module, 'sword-text-*')}' (or 'make data')"
        )
    bible = mods.get_bible_from_module(module)
    books = bible.get_structure().get_books()
    verses: dict[str, str] = {}
    for book in books.get("ot", []) + books.get("nt", []):
        refs = [f"{book.name} {c + 1}:{v + 1}" for c, n in enumerate(book.chapter_lengths) for v in range(n)]
        # clean=False + our own tag stripping: pysword's clean=True glues words at removed tags.
        for ref, text in zip(refs, bible.get_iter(books=[book.name], clean=False)):
            text = _clean(text)
            if text:
                verses[ref] = text
    return verses


def load_bible(module: str) -> dict[str, str]:
    """{"Genesis 1:1": text} for a SWORD module, parsed once and cached (data/cache.py's envelope)."""
    path = cache_dir() / f"bible-{module}.json"
    cached = read_cached(path)  # None unless the file is intact (its digest matches)
    if (
        isinstance(cached, dict)
        and cached
        and all(isinstance(k, str) and isinstance(v, str) for k, v in cached.items())
    ):
        return cached
    # Missing, damaged, hand-edited or of another shape: derived data, so parse the module again and
    # replace it (best effort: an unwritable cache only costs the next run a parse).
    verses = _parse_module(module)
    write_cached(path, verses)
    return verses


@dataclass
class Pair:
    ref: str
    src: str
    tgt: str

    @property
    def book(self) -> str:
        return self.ref.rsplit(" ", 1)[0]


def aligned_pairs(src_module: str = "engKJV2006eb", tgt_module: str = "spaRV1909eb") -> list[Pair]:
    src, tgt = load_bible(src_module), load_bible(tgt_module)
    return [Pair(ref, src[ref], tgt[ref]) for ref in src if ref in tgt]


def load_sample() -> list[Pair]:
    """The in-repo sample (the held-out books and a few training chapters), for tests and demos
    on machines without the Debian packages."""
    rows = [line.rstrip("\n").split("\t") for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line]
    return [Pair(*row) for row in rows]


def split_by_book(pairs: list[Pair], seed: int = 0) -> dict[str, list[Pair]]:
    """train / valid / test, holding out whole books (VALID_BOOKS, TEST_BOOKS); deterministic."""
    out = {"train": [], "valid": [], "test": []}
    for p in pairs:
        out["valid" if p.book in VALID_BOOKS else "test" if p.book in TEST_BOOKS else "train"].append(p)
    random.Random(seed).shuffle(out["train"])
    return out
