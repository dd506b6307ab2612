"""The course's text-classification sets and corpora (issue 17), each read offline with a small loader.

Classification sets: `load_dataset(name)` -> {"train" | "valid" | "test": [(text, label)]}, labels as
strings, a fixed split (no seed to choose: every model and every helper gets the same one).

  vader-domains  which of VADER's four rated sets a snippet comes from: movies / tweets / nyt / amazon;
                 data/vader.py's split (each set's distinct texts 80/10/10); a text found in two sets
                 is dropped (its label would be ambiguous)
  austen         passages of PASSAGE_LINES lines of Jane Austen's six novels -> which novel (Debian
                 r-cran-janeaustenr); whole chapters held out (every chapter's split by a seeded shuffle)
  kjv-genre      passages of KJV_VERSES consecutive verses of one chapter -> the book's genre (8 genres:
                 `kjv_genre`); whole chapters held out as for Austen
  fine-food      Amazon fine-food reviews -> great / other (Debian r-cran-modeldata's training_data
                 4,000 and testing_data 1,000; valid is a seeded tenth of training_data)

Corpora: `load_tweets()` (dslabs `trump_tweets`: 20,761 tweets with their UTC time and client).
`sample=True` reads the in-repo excerpts under data/samples/ instead (tests, machines without the data).
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import TcatError

SAMPLES = Path(__file__).parent / "samples"
DATASETS = ("vader-domains", "austen", "kjv-genre", "fine-food")
SPLITS = ("train", "valid", "test")
PASSAGE_LINES = 4  # ~40 words of Austen: a few sentences
KJV_VERSES = 3
NOVELS = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion")

# Protestant canon order; Acts is narrative history; Daniel is counted with the major prophets (its
# canonical place), Revelation alone is apocalyptic.
_GENRE_BOOKS = {
    "law": ("Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy"),
    "history": ("Joshua", "Judges", "Ruth", "I Samuel", "II Samuel", "I Kings", "II Kings", "I Chronicles",
                "II Chronicles", "Ezra", "Nehemiah", "Esther", "Acts"),
    "wisdom": ("Job", "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon"),
    "major prophets": ("Isaiah", "Jeremiah", "Lamentations", "Ezekiel", "Daniel"),
    "minor prophets": ("Hosea", "Joel", "Amos", "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah",
                       "Haggai", "Zechariah", "Malachi"),
    "gospels": ("Matthew", "Mark", "Luke", "John"),
    "epistles": ("Romans", "I Corinthians", "II Corinthians", "Galatians", "Ephesians", "Philippians",
                 "Colossians", "I Thessalonians", "II Thessalonians", "I Timothy", "II Timothy", "Titus",
                 "Philemon", "Hebrews", "James", "I Peter", "II Peter", "I John", "II John", "III John", "Jude"),
    "apocalyptic": ("Revelation of John",),
}  # fmt: skip
GENRES = tuple(_GENRE_BOOKS)
_GENRE = {book: genre for genre, books in _GENRE_BOOKS.items() for book in books}


def kjv_genre(book: str) -> str:
    """The genre of a KJV book as data/bible.py names it ("I Samuel", "Revelation of John")."""
    if book not in _GENRE:
        raise TcatError(f"unknown KJV book {book!r}: data/bible.py's names, e.g. 'Genesis', 'I Samuel'")
    return _GENRE[book]


@dataclass(frozen=True)
class Tweet:
    text: str
    date: datetime  # UTC
    source: str  # the client: "Twitter for Android", "Twitter Web Client", ...


def load_tweets(sample: bool = False) -> list[Tweet]:
    """dslabs' trump_tweets in the package's order (Debian r-cran-dslabs); sample=True: the in-repo excerpt."""
    if sample:
        rows = _tsv(SAMPLES / "trump_tweets.tsv", 3)
        return [Tweet(text, datetime.fromisoformat(date), source) for date, source, text in rows]
    from .rpackage import r_object

    frame = r_object("dslabs", "trump_tweets")
    return [
        Tweet(str(t), datetime.fromtimestamp(float(c), tz=UTC), str(s))
        for t, c, s in zip(frame["text"], frame["created_at"], frame["source"])
    ]


def _chapter_split(keys: list, seed: str) -> dict:
    """Each key (a chapter) -> "test" (a tenth), "valid" (a tenth) or "train", by a seeded shuffle."""
    order = sorted(set(keys))
    random.Random(seed).shuffle(order)
    k = round(len(order) / 10)
    return {key: "test" if i < k else "valid" if i < 2 * k else "train" for i, key in enumerate(order)}


_CHAPTER = re.compile(r"^(CHAPTER|Chapter)\s+[0-9IVXLC]+\.?$")


def austen_passages(novel: str, lines: list[str]) -> list[tuple[int, str]]:
    """(chapter number, passage) of one novel: inside each chapter, every PASSAGE_LINES non-empty lines
    joined; title pages and headings (text before the first chapter, all-capital lines) are left out."""
    out, chapter, buffer = [], 0, []
    for line in list(lines) + ["CHAPTER 0"]:  # the sentinel flushes the last chapter
        line = str(line).strip()
        if _CHAPTER.match(line):
            if chapter and buffer:
                out.append((chapter, " ".join(" ".join(buffer).split())))
            chapter, buffer = chapter + 1, []
        elif chapter and line and not line.isupper():
            buffer.append(line)
            if len(buffer) == PASSAGE_LINES:
                out.append((chapter, " ".join(" ".join(buffer).split())))
                buffer = []
    if not out:
        raise TcatError(f"janeaustenr {novel}: no chapters found")
    return out


def _austen() -> dict[str, list[tuple[str, str]]]:
    from .rpackage import r_object

    out = {s: [] for s in SPLITS}
    for novel in NOVELS:
        passages = austen_passages(novel, list(r_object("janeaustenr", novel)))
        where = _chapter_split([c for c, _ in passages], f"austen:{novel}")
        for chapter, text in passages:
            out[where[chapter]].append((text, novel))
    return out


def kjv_passages(verses: dict[str, str]) -> list[tuple[str, str, str]]:
    """(book, "Book chapter", passage) for every KJV_VERSES consecutive verses of one chapter."""
    chapters: dict[str, list[str]] = {}
    for ref, text in verses.items():
        chapters.setdefault(ref.split(":")[0], []).append(text)
    out = []
    for chapter, texts in chapters.items():
        book = chapter.rsplit(" ", 1)[0]
        for i in range(0, len(texts), KJV_VERSES):
            out.append((book, chapter, " ".join(texts[i : i + KJV_VERSES])))
    return out


def _kjv() -> dict[str, list[tuple[str, str]]]:
    from .bible import load_bible

    passages = kjv_passages(load_bible("engKJV2006eb"))
    where = _chapter_split([c for _, c, _ in passages], "kjv-genre")
    out = {s: [] for s in SPLITS}
    for book, chapter, text in passages:
        out[where[chapter]].append((text, kjv_genre(book)))
    return out


def _vader() -> dict[str, list[tuple[str, str]]]:
    from .vader import load_snippets, split_snippets

    snippets = load_snippets()
    sets_of: dict[str, set[str]] = {}
    for s in snippets:
        sets_of.setdefault(" ".join(s.text.lower().split()), set()).add(s.set)
    splits = split_snippets(snippets)
    return {
        k: [(s.text, s.set) for s in v if len(sets_of[" ".join(s.text.lower().split())]) == 1]
        for k, v in splits.items()
    }


def _review(text) -> str:
    return " ".join(str(text).replace("<br />", " ").split())


def _fine_food() -> dict[str, list[tuple[str, str]]]:
    from .rpackage import r_object

    train, test = r_object("modeldata", "training_data"), r_object("modeldata", "testing_data")
    train = [(_review(t), str(y)) for t, y in zip(train["review"], train["score"])]
    random.Random("fine-food").shuffle(train)
    k = len(train) // 10
    return {
        "train": train[k:],
        "valid": train[:k],
        "test": [(_review(t), str(y)) for t, y in zip(test.review, test.score)],
    }


_LOADERS = {"vader-domains": _vader, "austen": _austen, "kjv-genre": _kjv, "fine-food": _fine_food}


@functools.cache
def _load(name: str, where: str) -> dict[str, tuple[tuple[str, str], ...]]:
    """Cached per R library folder (`where`), so a changed TCAT_R_LIBRARY is read again."""
    return {k: tuple(v) for k, v in _LOADERS[name]().items()}


def load_dataset(name: str, sample: bool = False) -> dict[str, list[tuple[str, str]]]:
    """{"train" | "valid" | "test": [(text, label)]} of one classification set (see the module's table)."""
    if name not in DATASETS:
        raise TcatError(f"unknown dataset {name!r}: use {', '.join(DATASETS)}")
    if sample:
        return load_sample(name)
    from .rpackage import library

    return {k: list(v) for k, v in _load(name, str(library())).items()}


def parse_labelled(text: str, source: str, seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    """A user's set: one `label<TAB>text` per line; a seeded tenth each for valid and test (at least one)."""
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise TcatError(f"{source}:{n}: expected label<TAB>text (one tab, both non-empty)")
        label, body = fields
        rows.append((body.strip(), label.strip()))
    if len(rows) < 30:  # the tcat BERT's MLM pretraining splits the training texts again
        raise TcatError(
            f"{source}: {len(rows)} labelled texts are too few to split into train, valid and test (need 30)"
        )
    random.Random(seed).shuffle(rows)
    k = max(1, len(rows) // 10)
    return {"train": rows[2 * k :], "valid": rows[k : 2 * k], "test": rows[:k]}


def load_sample(name: str) -> dict[str, list[tuple[str, str]]]:
    """The in-repo excerpt of one set (data/samples/course.tsv: dataset, split, label, text; real rows
    taken from the same splits by `write_sample`)."""
    out = {s: [] for s in SPLITS}
    for dataset, split, label, text in _tsv(SAMPLES / "course.tsv", 4):
        if dataset == name:
            out[split].append((text, label))
    return out


def _tsv(path: Path, columns: int) -> list[list[str]]:
    """Tab-separated rows, no quoting (the texts hold quotes; tabs and newlines were replaced by spaces)."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line]
    for n, row in enumerate(rows, 1):
        if len(row) != columns:
            raise TcatError(f"{path}:{n}: expected {columns} tab-separated fields, got {len(row)}")
    return rows


def labels_of(splits: dict[str, list[tuple[str, str]]]) -> list[str]:
    """The sorted label set of the training split (a model's output classes)."""
    return sorted({label for _, label in splits["train"]})


def write_sample(per_label: dict[str, int] | None = None, seed: int = 0) -> None:
    """Rewrite the in-repo samples from the installed data (a few rows per label and split; 60 tweets)."""
    from ..files import write_text

    per_label = per_label or {"train": 12, "valid": 3, "test": 6}
    rows = []
    for name in DATASETS:
        splits = load_dataset(name)
        for split, n in per_label.items():
            rng = random.Random(f"{seed}:{name}:{split}")
            for label in labels_of(splits):
                texts = [t for t, y in splits[split] if y == label and len(t) < 600]  # short: fast tests
                rows += [(name, split, label, t) for t in rng.sample(texts, min(n, len(texts)))]
    tweets = random.Random(seed).sample(load_tweets(), 60)
    tsv = lambda rows: "".join("\t".join(c.replace("\t", " ").replace("\n", " ") for c in r) + "\n" for r in rows)  # noqa: E731
    write_text(SAMPLES / "course.tsv", tsv(rows))
    write_text(SAMPLES / "trump_tweets.tsv", tsv([(t.date.isoformat(), t.source, t.text) for t in tweets]))


if __name__ == "__main__":
    write_sample()
