"""Summarisation (issue 17 item 6): docstring pairs read from source with ast (PEP 257 shape only, test
folders skipped, duplicates dropped), split by module with no module in two splits, the lead-sentence
baseline, ROUGE-L by hand, the evaluation's numbers recomputed from its own hypotheses (an oracle
scores 100), training through the one trainer with exact resume, and the pipeline over a trained run."""

from __future__ import annotations

import json

import pytest

from transformer_catalog.apps import summarise
from transformer_catalog.data.docstrings import (
    docstring_documents,
    lead_sentence,
    load_pairs,
    split_docstring,
    split_of,
    split_pairs,
    stdlib_root,
)
from transformer_catalog.errors import TcatError

BODY = "Reads the whole file named by path. Returns the text decoded with the given encoding."


def _module(i: int, name: str) -> str:
    return f'''
def read_{name}{i}(path, encoding="utf-8"):
    """Return the text of file {i} in {name}.

    {BODY} Raises OSError when file {i} cannot be opened.
    """


class Box{i}:
    def get(self, key):
        """Get item {i} of the box.

        Looks the key up in the box number {i} and returns its value or None when it is missing.
        """

    def one_line(self):
        """Only a summary, no body: not a pair."""

    def two_lines(self):
        """A summary that runs
        over two lines.

        So it is not a PEP 257 summary line and gives no pair at all.
        """
'''


@pytest.fixture(scope="module")
def fake_stdlib(tmp_path_factory):
    """A folder shaped like the standard library: modules of every split, a package, a test folder."""
    root = tmp_path_factory.mktemp("stdlib")
    names = {"train": [], "valid": [], "test": []}
    i = 0
    while min(len(v) for v in names.values()) < 2 or len(names["train"]) < 8:
        name = f"mod{i}.py"
        names[split_of(name)].append(name)
        (root / name).write_text(_module(i, "m"))
        i += 1
    (root / "pkg").mkdir()
    (root / "pkg" / "inner.py").write_text(_module(999, "pkg"))
    (root / "test").mkdir()
    (root / "test" / "test_x.py").write_text(_module(1000, "test"))
    (root / "broken.py").write_text("def f(:\n")
    (root / "zdup.py").write_text(_module(0, "m"))  # the same pairs as mod0.py (read first): dropped
    return root, names


def test_split_docstring_keeps_only_the_pep257_shape():
    assert split_docstring("Return x.\n\n    Longer text   about x,\n  over lines here.") == (
        "Return x.",
        "Longer text about x, over lines here.",
    )
    assert split_docstring("Only a summary.") is None
    assert split_docstring("Two\nlines.\n\nThe body has enough words in it.") is None
    assert split_docstring("Summary.\n\nToo short body.") is None  # fewer than 5 words


def test_pairs_from_a_tree_skip_tests_duplicates_and_broken_files(fake_stdlib):
    root, names = fake_stdlib
    pairs = load_pairs(root)
    refs = [p.ref for p in pairs]
    n_modules = sum(len(v) for v in names.values())
    assert len(pairs) == 2 * n_modules + 2  # each module: read_* and Box.get; plus pkg/inner.py's two
    assert "pkg/inner.py:read_pkg999" in refs and not any(r.startswith(("test/", "zdup.py", "broken")) for r in refs)
    first = next(p for p in pairs if p.ref == "mod0.py:read_m0")
    assert first.tgt == "Return the text of file 0 in m."
    assert first.src == BODY + " Raises OSError when file 0 cannot be opened."
    assert first.module == "mod0.py"
    with pytest.raises(TcatError, match="not a folder of Python sources"):
        load_pairs(root / "nowhere")


def test_splits_are_by_module_and_stable(fake_stdlib):
    root, names = fake_stdlib
    splits = split_pairs(load_pairs(root))
    for split, modules in names.items():
        assert {p.module for p in splits[split] if p.module.startswith("mod")} == set(modules)
        assert all(split_of(p.module) == split for p in splits[split])
    # a sha256 of the path, not Python's salted hash(): the same split on every machine and run
    names = ["json/decoder.py", "email/message.py", "ast.py", "threading.py"]
    assert [split_of(n) for n in names] == ["train", "train", "test", "train"]


def test_the_installed_stdlib_gives_pairs_and_no_module_crosses_splits():
    pairs = load_pairs(stdlib_root() / "email")  # one package: fast; the full library gives ~2,300 pairs
    assert len(pairs) > 50
    seen: dict[str, str] = {}
    for split, rows in split_pairs(pairs).items():
        for p in rows:
            assert seen.setdefault(p.module, split) == split


def test_lead_sentence():
    assert lead_sentence("First one. Second one.") == "First one."
    assert lead_sentence("Uses e.g.x and 3.5 first? Then more.") == "Uses e.g.x and 3.5 first?"
    assert lead_sentence("No end at all") == "No end at all"
    assert lead_sentence("Ends here.") == "Ends here."


def test_rouge_l_by_hand_and_the_paired_bootstrap():
    # LCS("return the list of items", "return items list") = 2 tokens: P 2/3, R 2/5, F 0.5
    assert summarise.rouge_l(["return items list"], ["return the list of items"]) == [pytest.approx(50.0)]
    assert summarise.rouge_l(["same words here"], ["same words here"]) == [pytest.approx(100.0)]
    assert summarise.rouge_l(["nothing shared"], ["completely different"]) == [0.0]
    assert summarise.paired_bootstrap([3.0] * 20, [2.0] * 20) == (1.0, 1.0)
    lo, hi = summarise.paired_bootstrap([float(i % 7) for i in range(50)], [3.0] * 50)
    assert lo < 0 < hi


@pytest.fixture(scope="module")
def trained(fake_stdlib, tmp_path_factory):
    root, _ = fake_stdlib
    out = tmp_path_factory.mktemp("runs") / "sum"
    train = {"steps": 6, "max_tokens": 400, "warmup": 2, "eval_every": 0, "save_every": 0, "schedule": "cosine"}
    train["lr"] = 3e-3
    result = summarise.train_summariser(str(out), train=train, vocab=300, max_len=48, root=str(root), progress=False)
    return out, result, root


def test_training_goes_through_the_trainer_and_resumes_exactly(trained, tmp_path):
    out, result, root = trained
    assert result["step"] == 6 and result["train_pairs"] > 0 and result["cpu_s"] > 0
    meta = json.loads((out / "checkpoint" / "config.json").read_text())
    assert meta["task"]["name"] == "summarise" and meta["task"]["root"] == str(root)
    logged = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in logged if "loss" in x] == [6]
    again = summarise.train_summariser(str(out), train={"steps": 8}, resume=True, progress=False)
    assert again["step"] == 8
    record = json.loads((out / "train_result.json").read_text())
    assert [r["step"] for r in record["invocations"]] == [6, 8]
    assert record["cpu_s"] == pytest.approx(result["cpu_s"] + again["cpu_s"], abs=0.11)
    with pytest.raises(TcatError, match="already holds a checkpoint"):
        summarise.train_summariser(str(out), root=str(root), progress=False)


def test_evaluation_is_recomputed_from_its_hypotheses_and_an_oracle_scores_100(trained, monkeypatch):
    out, _, root = trained
    r = summarise.evaluate_summariser(str(out), progress=False)
    pairs = split_pairs(load_pairs(root))["test"]
    refs = [p.tgt for p in pairs]
    assert r["pairs"] == len(pairs) and len(r["hypotheses"]) == len(pairs)
    assert r["rouge_l"] == pytest.approx(sum(summarise.rouge_l(r["hypotheses"], refs)) / len(refs), abs=0.01)
    lead = summarise.rouge_l([lead_sentence(p.src) for p in pairs], refs)
    assert r["lead_rouge_l"] == pytest.approx(sum(lead) / len(lead), abs=0.01)
    # an oracle that answers each body with its own summary
    truth = {p.src: p.tgt for p in pairs}
    monkeypatch.setattr(
        summarise, "summarise_texts", lambda m, t, texts, beam=1, no_repeat_ngram=0: [truth[x] for x in texts]
    )
    perfect = summarise.evaluate_summariser(str(out), progress=False)
    assert perfect["rouge_l"] == 100.0 and perfect["hypotheses"] == refs
    assert perfect["difference_ci95"][0] > 0  # the oracle beats the lead sentence on every resample


def test_pipeline_summarises_in_batches_and_refuses_long_bodies(trained, monkeypatch):
    from transformer_catalog.apps import translation
    from transformer_catalog.apps.pipeline import pipeline

    out, _, _ = trained
    bodies = ["Reads the whole file named by path.", "Returns the text.", "Looks the key up in the box."]
    one = pipeline("summarisation", out, batch_size=1, max_new_tokens=8)
    many = pipeline("summarization", out, batch_size=3, max_new_tokens=8)
    answers = many(bodies)
    assert answers == [one(b) for b in bodies] and all(set(a) == {"summary_text"} for a in answers)
    long = " ".join(["word"] * 80)
    with pytest.raises(TcatError, match=r"input 0 is \d+ tokens, longer than .*maximum of 48"):
        many([long])
    assert len(pipeline("summarization", out, truncation=True, max_new_tokens=4)([long])) == 1
    with pytest.raises(TcatError, match="not a translation run"):
        pipeline("translation", out)
    # batches are sorted by length: the answers must come back in input order
    monkeypatch.setattr(translation, "translate_batch", lambda model, tok, texts, *rest: [t.upper() for t in texts])
    texts = ["a long body text", "b", "medium c", "dd"]
    got = pipeline("summarization", out, batch_size=2)(texts)
    assert got == [{"summary_text": t.upper()} for t in texts]


def test_pretraining_reads_only_training_modules_and_hands_over_weights_and_vocabulary(fake_stdlib, tmp_path):
    import torch

    from transformer_catalog.train.checkpoint import load_model

    root, names = fake_stdlib
    docs = docstring_documents(root)
    held_out = {f"file {n[3:-3]} " for split in ("valid", "test") for n in names[split]}  # "file 7 " of mod7.py
    train_text = " ".join(p for d in docs["train"] for p in d)
    assert docs["train"] and not any(h in train_text for h in held_out)
    assert any(f"file {n[3:-3]} " in train_text for n in names["train"])
    t = {"steps": 2, "max_tokens": 400, "warmup": 1, "eval_every": 0, "save_every": 0}
    pre = tmp_path / "pre"
    summarise.train_summariser(str(pre), train=t, vocab=300, max_len=48, root=str(root), progress=False, pretrain=True)
    ft = tmp_path / "ft"
    still = {**t, "steps": 1, "lr": 1e-12, "schedule": "cosine"}
    summarise.train_summariser(str(ft), train=still, init=str(pre), progress=False)
    a, _, tok_a = load_model(pre)
    b, meta, tok_b = load_model(ft)
    assert meta["task"]["name"] == "summarise" and tok_a.hf.to_str() == tok_b.hf.to_str()
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(x, y, atol=1e-6), name
    with pytest.raises(TcatError, match="not a summariser pretraining run"):
        summarise.train_summariser(str(tmp_path / "again"), init=str(ft), progress=False)
