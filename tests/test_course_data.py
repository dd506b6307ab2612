"""The course's data (issue 17): R packages read without R (data/rpackage.py), the classification sets,
the tweets and the KJV genres (data/course.py), checked on a lazy-load database written here and on
the installed Debian packages."""

from __future__ import annotations

import bz2
import collections
import gzip
import lzma
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from transformer_catalog.data import course, rpackage
from transformer_catalog.data.vader import folder as vader_folder
from transformer_catalog.errors import TcatError

R_LIBRARY = Path("/usr/lib/R/site-library")


def _installed(package: str) -> bool:
    return (R_LIBRARY / package / "data" / "Rdata.rdx").is_file()


def _serialize(obj) -> bytes:
    from rdata.conversion import convert_python_to_r_data
    from rdata.unparser import unparse_data

    return unparse_data(convert_python_to_r_data(obj, file_type="rds"), file_type="rds")


def _compress(data: bytes, compressed: int, kind: bytes) -> bytes:
    head = struct.pack(">I", len(data))
    if compressed == 1:
        return head + zlib.compress(data)
    body = {
        b"Z": lambda d: lzma.compress(d, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "preset": 6}]),
        b"2": bz2.compress,
        b"1": zlib.compress,
        b"0": lambda d: d,
    }[kind](data)
    return head + kind + body


def _package(root: Path, objects: dict, compressed: int = 1, kind: bytes = b"Z") -> Path:
    """A package folder with R's lazy-load layout: Rdata.rdb (entries back to back) + gzip'd Rdata.rdx."""
    data = root / "fake" / "data"
    data.mkdir(parents=True)
    rdb, variables = b"", {}
    for name, obj in objects.items():
        entry = _compress(_serialize(obj), compressed, kind)
        variables[name] = np.array([len(rdb), len(entry)], dtype=np.int32)
        rdb += entry
    (data / "Rdata.rdb").write_bytes(rdb)
    flag = np.array([True]) if compressed == 1 else np.array([compressed], dtype=np.int32)
    (data / "Rdata.rdx").write_bytes(gzip.compress(_serialize({"variables": variables, "compressed": flag})))
    return root


@pytest.fixture
def fresh(monkeypatch):
    rpackage._index.cache_clear()
    rpackage._object.cache_clear()
    yield monkeypatch
    rpackage._index.cache_clear()
    rpackage._object.cache_clear()


@pytest.mark.parametrize("compressed,kind", [(1, b""), (3, b"Z"), (2, b"2"), (3, b"1"), (3, b"0")])
def test_reads_every_object_of_a_lazy_load_database(tmp_path, fresh, compressed, kind):
    objects = {"lines": np.array(["CHAPTER 1", "It is a truth"]), "n": np.array([3, 1, 4], dtype=np.int32)}
    fresh.setenv("TCAT_R_LIBRARY", str(_package(tmp_path, objects, compressed, kind)))
    assert rpackage.r_objects("fake") == ["lines", "n"]
    assert list(rpackage.r_object("fake", "lines")) == ["CHAPTER 1", "It is a truth"]
    assert list(rpackage.r_object("fake", "n")) == [3, 1, 4]


def test_missing_package_names_the_install_command(tmp_path, fresh):
    fresh.setenv("TCAT_R_LIBRARY", str(tmp_path))
    with pytest.raises(TcatError, match=r"sudo apt-get install r-cran-dslabs"):
        course.load_tweets()
    with pytest.raises(TcatError, match=r"sudo apt-get install r-cran-janeaustenr"):
        course._austen()


def test_damaged_database_and_unknown_object_are_one_line_errors(tmp_path, fresh):
    root = _package(tmp_path, {"x": np.array(["a"])})
    fresh.setenv("TCAT_R_LIBRARY", str(root))
    with pytest.raises(TcatError, match=r"has no data object 'y'"):
        rpackage.r_object("fake", "y")
    rdb = root / "fake" / "data" / "Rdata.rdb"
    good = rdb.read_bytes()
    rdb.write_bytes(good[:4] + b"g" * (len(good) - 4))
    with pytest.raises(TcatError, match=r"Rdata.rdb: x: damaged compressed data"):
        rpackage.r_object("fake", "x")
    rdb.write_bytes(good[:-3])
    with pytest.raises(TcatError, match=r"Rdata.rdb: x is cut short"):
        rpackage.r_object("fake", "x")
    (root / "fake" / "data" / "Rdata.rdx").write_bytes(b"not gzip")
    rpackage._index.cache_clear()
    with pytest.raises(TcatError, match=r"not a gzip-compressed R index"):
        rpackage.r_objects("fake")


def test_kjv_genre_covers_all_66_books():
    from transformer_catalog.data.bible import TEST_BOOKS

    counts = collections.Counter(course._GENRE.values())
    assert sum(counts.values()) == 66 and len(course.GENRES) == 8
    assert counts["law"] == 5 and counts["gospels"] == 4 and counts["epistles"] == 21 and counts["apocalyptic"] == 1
    assert course.kjv_genre("Revelation of John") == "apocalyptic" and course.kjv_genre("Acts") == "history"
    assert [course.kjv_genre(b) for b in TEST_BOOKS] == ["history", "minor prophets", "epistles", "epistles"]
    with pytest.raises(TcatError, match="unknown KJV book 'Revelation'"):
        course.kjv_genre("Revelation")


def test_austen_passages_skip_headings_and_never_cross_chapters():
    lines = ["PERSUASION", "", "by Jane Austen", "Chapter 1", "", "a b", "c", "", "d", "e", "f",
             "CHAPTER II", "VOLUME II", "g", "h"]  # fmt: skip
    assert course.austen_passages("x", lines) == [(1, "a b c d e"), (1, "f"), (2, "g h")]
    with pytest.raises(TcatError, match="no chapters"):
        course.austen_passages("x", ["no chapters here"])


def test_kjv_passages_stay_inside_a_chapter():
    verses = {f"Jude 1:{v}": f"v{v}" for v in range(1, 6)} | {"Ruth 2:1": "r1"}
    assert course.kjv_passages(verses) == [("Jude", "Jude 1", "v1 v2 v3"), ("Jude", "Jude 1", "v4 v5"),
                                           ("Ruth", "Ruth 2", "r1")]  # fmt: skip


def test_chapter_split_is_a_fixed_tenth_and_a_tenth():
    where = course._chapter_split(list(range(100)) * 3, "s")
    assert collections.Counter(where.values()) == {"train": 80, "valid": 10, "test": 10}
    assert where == course._chapter_split(list(range(100)), "s") != course._chapter_split(list(range(100)), "t")


@pytest.mark.parametrize("name", course.DATASETS)
def test_samples_hold_every_label_in_every_split(name):
    splits = course.load_dataset(name, sample=True)
    labels = course.labels_of(splits)
    assert len(labels) >= 2
    assert all({y for _, y in splits[s]} == set(labels) for s in course.SPLITS)
    texts = [{t for t, _ in v} for v in splits.values()]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])


def test_tweet_sample_and_unknown_dataset():
    tweets = course.load_tweets(sample=True)
    assert len(tweets) == 60 and all(t.text and t.source and t.date.tzinfo for t in tweets)
    with pytest.raises(TcatError, match="unknown dataset 'imdb'"):
        course.load_dataset("imdb")


@pytest.mark.skipif(not _installed("dslabs"), reason="sudo apt-get install r-cran-dslabs")
def test_trump_tweets_from_dslabs(fresh):
    tweets = course.load_tweets()
    assert len(tweets) == 20761
    first = tweets[0]
    assert first.text.startswith("From Donald Trump: Wishing everyone") and first.source == "Twitter Web Client"
    assert first.date.isoformat() == "2009-12-23T17:38:18+00:00"
    assert collections.Counter(t.source for t in tweets).most_common(1) == [("Twitter Web Client", 10718)]


@pytest.mark.skipif(not _installed("modeldata"), reason="sudo apt-get install r-cran-modeldata")
def test_fine_food_is_the_4000_1000_split(fresh):
    splits = course.load_dataset("fine-food")
    assert [len(splits[s]) for s in course.SPLITS] == [3600, 400, 1000]
    assert collections.Counter(y for _, y in splits["test"]) == {"great": 658, "other": 342}


@pytest.mark.skipif(not _installed("janeaustenr"), reason="sudo apt-get install r-cran-janeaustenr")
def test_austen_six_novels(fresh):
    assert list(rpackage.r_object("janeaustenr", "emma")[:3]) == ["EMMA", "", "By Jane Austen"]
    splits = course.load_dataset("austen")
    assert course.labels_of(splits) == sorted(course.NOVELS)
    assert 12000 < len(splits["train"]) < 13000 and all(len(splits[s]) > 1000 for s in ("valid", "test"))


@pytest.mark.skipif(
    not (vader_folder() / "tweets_GroundTruth.txt").is_file(),
    reason="python -m transformer_catalog.rlhf.pairs",
)
def test_vader_domains_split_like_the_rlhf_pairs_and_without_ambiguous_texts():
    from transformer_catalog.rlhf.pairs import load_snippets, split_snippets

    splits = course.load_dataset("vader-domains")
    assert course.labels_of(splits) == ["amazon", "movies", "nyt", "tweets"]
    rlhf = split_snippets(load_snippets())
    for s in course.SPLITS:  # the same split as the RLHF stages: a subset of each split (ambiguous texts dropped)
        assert {t for t, _ in splits[s]} <= {x.text for x in rlhf[s]}
        assert len(splits[s]) > 0.98 * len(rlhf[s])
    label = collections.defaultdict(set)
    for v in splits.values():
        for t, y in v:
            label[" ".join(t.lower().split())].add(y)
    assert all(len(ys) == 1 for ys in label.values())
