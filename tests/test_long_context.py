"""Passkey / needle-in-a-haystack data (data/passkey.py) and the long-context experiment's parts
(experiments/long_context.py) on the in-repo Bible sample."""

import re

import pytest
import torch
from repo_scripts import script_module

from transformer_catalog.data import passkey
from transformer_catalog.errors import TcatError


@pytest.fixture(scope="module")
def hay():
    train, held = passkey.haystack_texts("bible-sample")
    vocab = passkey.CharVocab(train + held)
    return vocab, torch.tensor(vocab.encode(train)), torch.tensor(vocab.encode(held)), train, held


@pytest.mark.parametrize("task", passkey.TASKS)
@pytest.mark.parametrize("length", [300, 1000])
def test_a_sample_is_haystack_needles_question_and_answer(hay, task, length):
    vocab, train, _, text, _ = hay
    g = torch.Generator().manual_seed(length)
    for _ in range(5):
        s = passkey.sample(task, length, train, vocab, g)
        assert s.ids.shape == (length,) and 0 <= s.depth <= 1
        decoded = vocab.decode(s.ids.tolist())
        assert decoded.endswith(s.answer) and len(s.answer) == passkey.ANSWER_DIGITS and s.answer.isdigit()
        assert vocab.decode(s.ids[-passkey.ANSWER_DIGITS :].tolist()) == s.answer
        if task == "passkey":
            needles = re.findall(r"The pass key is (\d+)\. Remember it\. (\d+) is the pass key\.", decoded)
            assert needles == [(s.answer, s.answer)]
            assert decoded.endswith(f"What is the pass key? The pass key is {s.answer}")
        else:
            needles = dict(re.findall(r"The magic number for (\w+) is (\d+)\. ", decoded))
            key = re.search(r"What is the magic number for (\w+)\?", decoded).group(1)
            assert needles[key] == s.answer and decoded.endswith(f"The magic number for {key} is {s.answer}")
            assert len(needles) == (1 + passkey.DISTRACTORS if task == "niah-multikey" else 1)
            # the distractors are other keys: only the question's key leads to the answer
        # what is left when the needles and the question are cut out is one window of Bible text
        hay_text = re.sub(r" The (pass key|magic number for \w+) is \d+\.( Remember it\. \d+ is the pass key\.)? ", "",
                          decoded.rsplit(" What is", 1)[0])  # fmt: skip
        assert hay_text in text


def test_needles_land_at_every_depth_and_samples_repeat_with_the_seed(hay):
    vocab, train, _, _, _ = hay
    depths = [passkey.sample("passkey", 400, train, vocab, torch.Generator().manual_seed(i)).depth for i in range(60)]
    assert min(depths) < 0.15 and max(depths) > 0.85
    a = passkey.batch("niah-multikey", 3, 400, train, vocab, torch.Generator().manual_seed(3))[0]
    b = passkey.batch("niah-multikey", 3, 400, train, vocab, torch.Generator().manual_seed(3))[0]
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])


def test_held_out_haystacks_come_from_other_chapters(hay):
    _, _, _, train, held = hay
    assert held and train and held[:200] not in train


def test_answer_hits_need_every_digit(hay):
    vocab, train, _, _, _ = hay
    ids, _ = passkey.batch("passkey", 4, 200, train, vocab, torch.Generator().manual_seed(0))
    logits = torch.nn.functional.one_hot(ids[:, 1:], vocab.size).float() * 20  # a perfect predictor
    loss, hits = passkey.answer_loss_and_hits(logits, ids)
    assert hits.all() and loss < 1e-3
    logits[1, -3] = logits[1, -3].roll(1)  # one wrong digit in sample 1
    loss, hits = passkey.answer_loss_and_hits(logits, ids)
    assert hits.tolist() == [True, False, True, True] and loss > 0.1
    logits[2, -passkey.ANSWER_DIGITS - 1] = 0  # the position before the answer is not part of it
    assert passkey.answer_loss_and_hits(logits, ids)[1][2]


def test_diagnosis_counts_first_digits_repeats_and_distractors(hay):
    vocab, train, _, _, _ = hay
    ids, _ = passkey.batch("niah-multikey", 6, 400, train, vocab, torch.Generator().manual_seed(5))
    logits = torch.nn.functional.one_hot(ids[:, 1:], vocab.size).float() * 20  # a perfect predictor
    texts = [vocab.decode(row.tolist()) for row in ids]
    repeated = sum(passkey.has_repeat(t[-passkey.ANSWER_DIGITS :]) for t in texts)
    assert passkey.diagnose(logits, ids, vocab) == {
        "samples": 6, "hits": 6, "first_digit": 6, "repeated": repeated, "repeated_hits": repeated,
        "distractor_first": 0,
    }  # fmt: skip
    # sample 0 answers with a distractor's first digit, sample 1 with a digit no needle starts with
    numbers = re.findall(r"is (\d{5})\. ", texts[0])
    answer = texts[0][-passkey.ANSWER_DIGITS :]
    other = next(n[0] for n in numbers if n[0] != answer[0])
    first = -passkey.ANSWER_DIGITS
    logits[0, first] = torch.nn.functional.one_hot(torch.tensor(vocab.index[other]), vocab.size).float() * 20
    starts = {n[0] for n in re.findall(r"is (\d{5})\. ", texts[1])}
    free = next(d for d in "0123456789" if d not in starts)
    logits[1, first] = torch.nn.functional.one_hot(torch.tensor(vocab.index[free]), vocab.size).float() * 20
    counts = passkey.diagnose(logits, ids, vocab)
    assert (counts["hits"], counts["first_digit"], counts["distractor_first"]) == (4, 4, 1)
    assert passkey.has_repeat("12321") and not passkey.has_repeat("12345")


def test_impossible_samples_are_refused(hay):
    vocab, train, _, _, _ = hay
    g = torch.Generator().manual_seed(0)
    with pytest.raises(TcatError, match="too short for the niah-multikey needle"):
        passkey.sample("niah-multikey", 100, train, vocab, g)
    with pytest.raises(TcatError, match="expected one of passkey, niah, niah-multikey"):
        passkey.sample("needle", 400, train, vocab, g)
    with pytest.raises(TcatError, match="haystack of 50 characters"):
        passkey.sample("passkey", 400, train[:50], vocab, g)


def test_effective_length_is_rulers_rule():
    from transformer_catalog.experiments.long_context import effective_length

    assert effective_length({"512": 1.0, "1024": 0.95, "2048": 0.5, "4096": 0.95}) == 1024  # no later recovery
    assert effective_length({"512": 0.8, "1024": 1.0}) == 0
    assert effective_length({"1024": 0.9, "512": 1.0}) == 1024  # order of the keys does not matter


def test_rebuilt_models_keep_the_weights_and_scale_only_the_positions():
    from transformer_catalog.experiments import long_context as lc
    from transformer_catalog.nn import build_model

    cfg = lc.Config.tiny()
    torch.manual_seed(0)
    base = build_model(lc.model_config(cfg, 40)).eval()
    ids = torch.randint(1, 40, (2, cfg.train_len))
    with torch.no_grad():
        same = lc.rebuilt(base, cfg, 40, "none", 4 * cfg.train_len).eval()
        assert torch.equal(same(ids), base(ids))
        for name, kind in lc.SCALINGS.items():
            scaled = lc.rebuilt(base, cfg, 40, name, 4 * cfg.train_len).eval()
            p = scaled.config.position
            assert (p.rope_scaling, p.rope_original_len, p.max_len) == (kind, cfg.train_len, 4 * cfg.train_len)
            long = torch.randint(1, 40, (1, 4 * cfg.train_len))
            changed = (scaled(long) - same(long)).abs().max()
            assert changed > 1e-3, name  # the positions really are scaled at 4x


@pytest.mark.parametrize(
    "change, match",
    [
        ({"factor": 0.0}, "factor must be positive"),
        ({"factor": -1.0}, "factor must be positive"),
        ({"finetune_steps": 1001}, "over the 1,000 steps"),
        ({"finetune": ["rope2"]}, "unknown scaling 'rope2'"),
        ({"train_len": 128, "short_steps": 0}, "train_len and finetune_len >= 256"),
        ({"short_len": 128}, "short_len=128 must be in \\[256, train_len\\]"),
        ({"short_len": 512}, "short_len=512 must be in"),
        ({"short_steps": 30}, "short_steps=30 under steps=30"),
    ],
)
def test_impossible_settings_are_refused_before_anything_is_written(tmp_path, change, match):
    import dataclasses

    from transformer_catalog.experiments import long_context as lc

    with pytest.raises(TcatError, match=match):
        lc.run(dataclasses.replace(lc.Config.tiny(), **change), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_tiny_run_writes_every_table_and_the_verdict(tmp_path):
    import json

    from transformer_catalog.experiments import long_context as lc

    torch.set_num_threads(1)
    cfg = lc.Config.tiny()
    results = lc.run(cfg, tmp_path / "out")
    tables = json.loads((tmp_path / "out" / "accuracy.json").read_text())["tables"]
    assert set(tables) == {"none", "dynamic-zero-shot", "yarn-finetuned", "none-finetuned"}
    for acc in tables.values():
        assert set(acc) == set(passkey.TASKS)
        assert all(set(a) == {str(cfg.train_len * m) for m in cfg.multiples} for a in acc.values())
    m = results["metrics"]
    assert (
        m["best_method"] == "yarn-finetuned"
        and m["none_at_1x"] == lc.mean_by_length(tables["none"])[str(cfg.train_len)]
    )
    assert results["claim_holds"] == (m["best_finetuned_at_4x"] >= lc.TARGET)
    saved = json.loads((tmp_path / "out" / "accuracy.json").read_text())
    assert set(saved["diagnosis_at_1x"]) == set(passkey.TASKS)
    assert all(d["samples"] == cfg.eval_samples for d in saved["diagnosis_at_1x"].values())
    assert saved["means_all_tasks"]["none"] == lc.mean_by_length(tables["none"], passkey.TASKS)
    for name, per_task in saved["effective_length_per_task"].items():
        assert per_task == {t: lc.effective_length(a) for t, a in tables[name].items()}
        assert m[f"{name}_effective_length_all_tasks"] == lc.effective_length(saved["means_all_tasks"][name])
    # the BENCHMARKS.md section reads these numbers (never literals)
    report_long_context = script_module("report_long_context")
    report_long_context.FOLDER = tmp_path / "out"
    lines = []
    report_long_context.section(lines)
    text = "\n".join(lines)
    means = saved["means"]["yarn-finetuned"]
    cells = " | ".join(f"{means[str(cfg.train_len * k)]:.2f}" for k in cfg.multiples)
    assert f"| YaRN, fine-tuned | {cells} | {m['yarn-finetuned_effective_length']:,} |" in text
    d = saved["diagnosis_at_1x"]["niah-multikey"]
    assert f"| niah-multikey | {d['hits']}/{d['samples']} | {d['first_digit']}/{d['samples']} |" in text
    assert results["command"] in text and f"the first {cfg.short_steps:,} at {cfg.short_len}" in text
    assert "cycling through 320 / 512 characters" in text
    assert (results.get("miss") is None) == (results["claim_holds"] and results["control_fails"])


def test_the_curriculum_trains_short_first_then_at_train_len(monkeypatch, hay):
    from transformer_catalog.experiments import long_context as lc
    from transformer_catalog.nn import build_model

    vocab, train, _, _, _ = hay
    seen, real = [], lc._mixed_batch

    def recording(cfg, n, length, haystack, vocab, g):
        seen.append(length)
        return real(cfg, n, length, haystack, vocab, g)

    monkeypatch.setattr(lc, "_mixed_batch", recording)
    cfg = lc.Config.tiny()
    model = build_model(lc.model_config(cfg, vocab.size))
    lc.train(model, cfg, 5, 320, 2, 1e-3, train, vocab, 0, "t", short=(256, 3))
    assert seen == [256, 256, 256, 320, 320]
    seen.clear()
    lc.train(model, cfg, 2, 320, 2, 1e-3, train, vocab, 0, "t")  # no curriculum: train_len throughout
    assert seen == [320, 320]
    seen.clear()  # the fine-tuning cycles through its lengths, so the answer is trained at each end position
    long = lc.rebuilt(model, cfg, vocab.size, "yarn", cfg.finetune_len)
    lc.train(long, cfg, 5, cfg.finetune_len, 2, 1e-3, train, vocab, 0, "t", cycle=lc.finetune_lengths(cfg))
    assert seen == [320, 512, 320, 512, 320]
    full = lc.Config()
    assert lc.finetune_lengths(full) == (full.train_len, 2 * full.train_len, 4 * full.train_len) == (512, 1024, 2048)


def test_the_claim_reads_passkey_and_niah_and_ruler_reads_all_three():
    from transformer_catalog.experiments import long_context as lc

    acc = {"passkey": {"512": 1.0, "1024": 0.8}, "niah": {"512": 0.9, "1024": 0.6}, "niah-multikey": {"512": 0.0,
           "1024": 0.3}}  # fmt: skip
    assert lc.mean_by_length(acc) == pytest.approx({"512": 0.95, "1024": 0.7})
    assert lc.mean_by_length(acc, passkey.TASKS) == pytest.approx({"512": 1.9 / 3, "1024": 1.7 / 3})
