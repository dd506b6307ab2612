"""Tasks = one objective over one corpus (train/tasks.py), parallel text in one place
(data/parallel.py), one batch-RNG key, and one clean line for every damaged data file."""

import gzip
import random
import struct

import pytest
import torch

from transformer_catalog.data import images
from transformer_catalog.data.batching import batch_rng, epoch_rng, fixed_size_batches, rng_key
from transformer_catalog.data.corpora import load_documents
from transformer_catalog.data.parallel import load_parallel, sentence_pairs, split_parallel
from transformer_catalog.errors import TcatError
from transformer_catalog.objectives import OBJECTIVES, SEQ2SEQ, Seq2Seq, describe
from transformer_catalog.train.tasks import Task, make_copy_task, make_task


# -- the task protocol -----------------------------------------------------------------------------
def test_every_task_is_an_objective_over_a_corpus():
    copy = make_task("copy", None, 0, 0)
    translate = make_task("translate", "bible-sample", 300, 64)
    clm = make_task("clm", "bible-sample", 300, 32)
    for task in (copy, translate, clm):
        assert type(task) is Task and task.objective.name == task.name
    assert isinstance(copy.objective, Seq2Seq) and isinstance(translate.objective, Seq2Seq)
    assert copy.objective.smooths and translate.objective.smooths and not clm.objective.smooths
    assert set(SEQ2SEQ) == {"translate", "copy"}
    assert describe("translate").arch == describe("copy").arch == "encoder-decoder"
    assert describe("translate").takes_pairs and not describe("clm").takes_pairs
    # what a resumed run rebuilds the task from (config.json's "task") is unchanged
    assert copy.meta == {"name": "copy", "n_symbols": 10, "length": 10}
    assert translate.meta == {"name": "translate", "data": "bible-sample"}
    assert clm.meta == {"name": "objective", "objective": "clm", "data": "bible-sample"}


def test_label_smoothing_reaches_seq2seq_objectives_only():
    torch.manual_seed(0)
    task = make_copy_task(n_symbols=5, length=4, n_train=8)
    from transformer_catalog.families import get_config
    from transformer_catalog.nn import build_model

    model = build_model(get_config("transformer-tiny", N=1, dropout=0.0, vocab_size=task.vocab_size, max_len=16)).eval()
    batch = task.collate(task.train, key=0)
    plain, n = task.loss(model, batch, 0.0)
    smooth, _ = task.loss(model, batch, 0.3)
    assert n == 8 * 5 and smooth.item() != pytest.approx(plain.item())
    # a pretraining objective ignores it (its papers train on plain cross-entropy), whatever is passed
    clm = make_task("clm", "bible-sample", 300, 32)
    calls = []
    clm.objective.loss = lambda m, b, *rest: calls.append(rest) or (torch.zeros(()), 1)
    clm.loss(model, {}, 0.1)
    assert calls == [()]


def test_batch_rng_key_is_the_one_formula_everyone_uses():
    assert rng_key(3, 2) == 3 * 1_000_003 + 2
    assert rng_key(3, 2, 7) == (3 * 1_000_003 + 2) * 1_000_003 + 7
    keys = {rng_key(s, e, b) for s in range(3) for e in range(3) for b in range(50)}
    assert len(keys) == 3 * 3 * 50
    assert epoch_rng(1, 4).random() == random.Random(rng_key(1, 4)).random()
    assert batch_rng(rng_key(1, 4, 2)).random() == random.Random(rng_key(1, 4, 2)).random()
    a = fixed_size_batches(10, 3, seed=0, epoch=1)
    assert a == fixed_size_batches(10, 3, seed=0, epoch=1) != fixed_size_batches(10, 3, seed=0, epoch=2)
    assert [len(b) for b in a] == [3, 3, 3, 1] and sorted(i for b in a for i in b) == list(range(10))


def test_the_trainer_keys_each_batch_with_rng_key(tmp_path):
    """The random choices of step k's batch are those of Task.collate(..., key=rng_key(seed, epoch, k))."""
    from transformer_catalog.train.trainer import TrainConfig, Trainer

    task = make_task("mlm", "bible-sample", 300, 32)
    seen = []
    real = task.collate
    task.collate = lambda examples, key=0: seen.append(key) or real(examples, key)
    trainer = Trainer(torch.nn.Linear(1, 1), task, TrainConfig(seed=5, max_tokens=64), tmp_path, progress=False)
    trainer._batches = task.batches(task.train, 64, 5, 0)
    assert [key for key, _ in trainer._next_micro_batches()] == [rng_key(5, 0, 0)]
    assert [key for key, _ in trainer._next_micro_batches()] == [rng_key(5, 0, 1)]
    assert not seen  # keys only; collate is the caller's


# -- parallel text: one parser ---------------------------------------------------------------------
def test_parallel_text_has_one_parser(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text(
        "".join(f"source {i}\ttarget {i}\n" for i in range(18)) + "\nid-x\tsource x\ttarget x\n", encoding="utf-8"
    )
    pairs = load_parallel(str(path))
    assert len(pairs) == 19 and pairs[0].ref == "p.tsv:1" and pairs[-1].ref == "id-x"
    assert sentence_pairs(str(path)) == [(p.src, p.tgt) for p in pairs]
    splits = split_parallel(str(path))
    assert sorted(p.ref for s in splits.values() for p in s) == sorted(p.ref for p in pairs)
    assert len(splits["valid"]) == len(splits["test"]) == 1
    # the same source means the same pairs for translation and for contrastive training
    sample = sentence_pairs("bible-sample")
    assert sorted(sample) == sorted((p.src, p.tgt) for s in split_parallel("bible-sample").values() for p in s)


def test_parallel_text_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\nonly one field\n", encoding="utf-8")
    with pytest.raises(TcatError, match=r"bad.tsv:2: expected source<TAB>target .*got 1 field$"):
        load_parallel(str(bad))
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(TcatError, match=r"empty.tsv: no source<TAB>target lines"):
        make_task("contrastive", str(empty), 300, 32)
    huge = tmp_path / "huge.tsv"
    huge.write_text("a\tb\n" + "x" * 200_000 + "\ty\n", encoding="utf-8")
    with pytest.raises(TcatError, match=r"huge.tsv:2: field larger than field limit"):
        load_parallel(str(huge))
    few = tmp_path / "few.tsv"
    few.write_text("a\tb\n" * 3, encoding="utf-8")
    with pytest.raises(TcatError, match=r"few.tsv: 3 pairs is too few"):
        make_task("translate", str(few), 300, 32)
    with pytest.raises(TcatError, match="unknown dataset 'wmt14'"):
        make_task("translate", "wmt14", 300, 32)


# -- damaged data files: one line naming the file and the problem ------------------------------------
@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".tsv", ".csv", ".md"])
def test_non_utf8_data_files_name_the_line(tmp_path, suffix):
    path = tmp_path / f"latin1{suffix}"
    first = '{"text": "fine"}\n' if suffix == ".jsonl" else "text\n" if suffix == ".csv" else "a\tb\n"
    path.write_bytes(first.encode() + "caf\xe9\tx\n".encode("latin-1"))
    load = load_parallel if suffix == ".tsv" else load_documents
    with pytest.raises(TcatError, match=rf"latin1\{suffix}:2: not UTF-8 text \(byte 0xe9\)"):
        load(str(path))


@pytest.mark.parametrize(
    "line, problem",
    [
        ('{"text": 5}', '"text" is a number, expected a string'),
        ('{"text": null}', '"text" is null, expected a string'),
        ('{"text": ["a"]}', '"text" is a list, expected a string'),
        ('{"title": "x"}', 'expected a JSON object with a "text" field'),
        ('["text"]', 'expected a JSON object with a "text" field'),
        ('{"text": "unterminated', "not valid JSON"),
    ],
)
def test_jsonl_whose_text_is_not_a_string(tmp_path, line, problem):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "a good line"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(TcatError) as err:
        load_documents(str(path))
    assert str(err.value).startswith(f"{path}:3: ") and problem in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".md"])
def test_an_empty_corpus_names_the_file(tmp_path, suffix, content):
    path = tmp_path / f"empty{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TcatError, match=rf"empty\{suffix}: no documents"):
        make_task("clm", str(path), 300, 32)


def test_too_small_corpus_names_the_source(tmp_path):
    path = tmp_path / "two.txt"
    path.write_text("one line\n\nanother\n", encoding="utf-8")
    with pytest.raises(TcatError, match=r"two.txt: 2 documents or pairs are too few to split"):
        make_task("clm", str(path), 300, 32)


def test_csv_and_parquet_problems_are_one_line(tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    numbers = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), numbers)
    with pytest.raises(TcatError, match=r'numbers.parquet: row 1: "text" is a number, expected a string'):
        load_documents(str(numbers))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(TcatError, match=r"broken.parquet: not a readable Parquet file"):
        load_documents(str(broken))
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("title,body\nx,y\n", encoding="utf-8")
    with pytest.raises(TcatError, match=r'nocol.csv: no "text" column \(columns: title, body\)'):
        load_documents(str(nocol))


def _idx_file(path, array_bytes: bytes, sizes, cut: int = 0, compress_cut: int = 0):
    raw = b"\x00\x00\x08" + bytes([len(sizes)]) + b"".join(struct.pack(">I", n) for n in sizes) + array_bytes
    raw = raw[: len(raw) - cut] if cut else raw
    data = gzip.compress(raw)
    path.write_bytes(data[: len(data) - compress_cut] if compress_cut else data)


def _fashion(root, n=6, **damage):
    root.mkdir(exist_ok=True)
    for prefix in ("train", "t10k"):
        _idx_file(
            root / f"{prefix}-images-idx3-ubyte.gz",
            bytes(n * 28 * 28),
            (n, 28, 28),
            **(damage if prefix == "t10k" else {}),
        )
        _idx_file(root / f"{prefix}-labels-idx1-ubyte.gz", bytes(range(n)), (n,))


def test_fashion_mnist_reader_accepts_a_whole_file(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "FASHION_ROOT", tmp_path / "fm")
    _fashion(tmp_path / "fm")
    data = images.load_images("fashion-mnist")
    assert data["train"][0].shape == (6, 1, 28, 28) and data["test"][1].tolist() == list(range(6))


@pytest.mark.parametrize(
    "damage, problem",
    [
        ({"cut": 100}, "holds 4,620 bytes where its header announces 4,720"),
        ({"compress_cut": 20}, "truncated (the gzip stream ends early)"),
        ({"cut": 4 + 28 * 28 * 6 + 1}, "truncated (the header is incomplete)"),
    ],
)
def test_truncated_fashion_mnist_is_one_line(tmp_path, monkeypatch, damage, problem):
    monkeypatch.setattr(images, "FASHION_ROOT", tmp_path / "fm")
    _fashion(tmp_path / "fm", **damage)
    with pytest.raises(TcatError) as err:
        images.load_images("fashion-mnist")
    assert str(err.value).startswith(str(tmp_path / "fm" / "t10k-images-idx3-ubyte.gz") + ": " + problem)
    assert "reinstall" in str(err.value) and "\n" not in str(err.value)


def test_fashion_mnist_not_gzip_or_missing_or_mismatched(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "FASHION_ROOT", tmp_path / "fm")
    _fashion(tmp_path / "fm")
    labels = tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz"
    _idx_file(labels, bytes(5), (5,))
    with pytest.raises(TcatError, match=r"t10k images \(6, 28, 28\) and labels \(5,\) do not match"):
        images.load_images("fashion-mnist")
    labels.write_bytes(b"plain bytes, not gzip")
    with pytest.raises(TcatError, match=r"t10k-labels-idx1-ubyte.gz: not a readable gzip file"):
        images.load_images("fashion-mnist")
    labels.write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + bytes(8)))
    with pytest.raises(TcatError, match=r"wrong magic number"):
        images.load_images("fashion-mnist")
    labels.unlink()
    with pytest.raises(TcatError, match=r"t10k-labels-idx1-ubyte.gz: missing; reinstall"):
        images.load_images("fashion-mnist")


def test_a_damaged_bible_cache_is_rebuilt_not_trusted(tmp_path, monkeypatch):
    """The cache goes through data/cache.py's digest envelope plus a shape check: a truncated,
    hand-edited (plain JSON, even of the right shape), foreign or wrongly shaped file is parsed again."""
    from transformer_catalog.data import bible
    from transformer_catalog.data.cache import read_cached, write_cached

    parsed = []
    monkeypatch.setattr(bible, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(bible, "_parse_module", lambda module: parsed.append(module) or {"Ruth 1:1": "In the days"})
    path = tmp_path / "bible-m.json"
    assert bible.load_bible("m") == {"Ruth 1:1": "In the days"} and parsed == ["m"]
    assert bible.load_bible("m") == {"Ruth 1:1": "In the days"} and parsed == ["m"]  # the intact cache is used
    damages = [
        lambda: path.write_text('{"Ruth 1:1": "In the da', encoding="utf-8"),
        lambda: path.write_text('{"Ruth 1:1": "tampered"}', encoding="utf-8"),  # right shape, no envelope
        lambda: path.write_bytes(path.read_bytes()[:-3]),  # digest no longer matches
        lambda: write_cached(path, ["a", "list"]),
        lambda: write_cached(path, {"Ruth 1:1": 5}),
        lambda: write_cached(path, {}),
        lambda: path.write_bytes(b"\xff"),
    ]
    for i, damage in enumerate(damages):
        write_cached(path, {"Ruth 1:1": "In the days"})
        damage()
        assert bible.load_bible("m") == {"Ruth 1:1": "In the days"}
        assert len(parsed) == i + 2
        assert read_cached(path) == {"Ruth 1:1": "In the days"}


@pytest.mark.parametrize("name", sorted({*SEQ2SEQ, *OBJECTIVES}))
def test_every_objective_speaks_the_whole_protocol(name):
    """The trainer reaches objectives only through Task, which uses exactly these: none may be missing."""
    obj = describe(name)
    assert obj.name == name and obj.arch in ("encoder", "decoder", "encoder-decoder")
    assert isinstance(obj.takes_pairs, bool) and isinstance(obj.smooths, bool) and obj.max_len >= 0
    for method in ("wrap", "batches", "batch", "loss"):
        assert callable(getattr(obj, method)), method
    examples = [([5, 6, 7], [6, 7])] * 5 if obj.takes_pairs else [[[5, 6, 7], [6, 7]]] * 5
    batches = obj.batches(examples, 4 * max(obj.max_len, 8), seed=0, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(5))


def test_pair_task_drops_or_cuts_what_does_not_fit():
    """Translation drops a pair with either side too long; summarisation cuts the source, keeps the pair."""
    from types import SimpleNamespace

    from transformer_catalog.train.tasks import pair_task

    class Chars:  # one token per character
        vocab_size, pad_id, bos_id, eos_id = 300, 0, 1, 2

        def encode_batch(self, texts):
            return [[ord(c) for c in t] for t in texts]

    pair = SimpleNamespace
    splits = {"train": [pair(src="abcdefgh", tgt="xy"), pair(src="ab", tgt="xyz")], "valid": []}
    dropped = pair_task("translate", splits, 300, max_len=5, tokenizer=Chars())
    assert dropped.train == [([97, 98], [120, 121, 122])]
    cut = pair_task("summarise", splits, 300, max_len=5, tokenizer=Chars(), truncate_source=True)
    assert cut.train == [([97, 98, 99, 100], [120, 121]), ([97, 98], [120, 121, 122])]
    assert cut.meta == {"name": "summarise"}
