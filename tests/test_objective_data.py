"""Exact checks of the objectives' data transformations on synthetic documents whose every token is
unique, so each token says which document and sentence it came from: NSP negatives are never the
true continuation, SOP negatives are the true pair swapped, whole-word masking picks ~15% of words,
the prefix-LM and permutation-LM masks are exactly what they claim, BART permutes sentences."""

import math
import random

import torch

from transformer_catalog.objectives import IGNORE, Vocab, make_objective

V = Vocab(size=20000, pad=0, bos=1, eos=2, mask=3)


def _docs(n_docs=60, seed=0, first=10, sentences=(3, 8)):
    """Documents of 3-8 sentences of 2-6 tokens; token ids are unique across all documents."""
    rng, nxt, docs = random.Random(seed), first, []
    for _ in range(n_docs):
        doc = []
        for _ in range(rng.randint(*sentences)):
            n = rng.randint(2, 6)
            doc.append(list(range(nxt, nxt + n)))
            nxt += n
        docs.append(doc)
    return docs


def _segments(row):
    """[CLS] A [SEP] B [SEP] -> (A, B) as lists."""
    ids = row.tolist()
    first = ids.index(V.eos)
    second = ids.index(V.eos, first + 1)
    return ids[1:first], ids[first + 1 : second]


def _continues(doc, a, b, half):
    """(a, b) is (first sentences, the rest) of doc cut at a sentence boundary, each cut to half."""
    for cut in range(1, len(doc)):
        head = [t for s in doc[:cut] for t in s]
        tail = [t for s in doc[cut:] for t in s]
        if a == head[:half] and b == tail[:half]:
            return True
    return False


def _pair_batch(task, seed):
    docs = _docs(seed=seed)
    obj = make_objective(f"mlm-{task}", V, max_len=64)
    return docs, obj.batch(docs, random.Random(seed)), (64 - 3) // 2


def test_nsp_negatives_are_never_the_true_continuation_and_half_are_negative():
    labels = []
    for seed in range(4):
        docs, b, half = _pair_batch("nsp", seed)
        owner = {t: d for d, doc in enumerate(docs) for s in doc for t in s}
        for row, doc in enumerate(docs):
            a, nxt = _segments(b["original"][row])
            label = int(b["pair_labels"][row])
            labels.append(label)
            assert {owner[t] for t in a} == {row}  # A always comes from the document itself
            if label == 1:
                assert _continues(doc, a, nxt, half)
            else:
                assert not _continues(doc, a, nxt, half)
    rate = sum(labels) / len(labels)
    assert abs(rate - 0.5) < 0.1, rate  # 240 pairs: 0.1 is 3 standard errors


def _continuation_tokens(doc, a):
    flat = [t for s in doc for t in s]
    return flat[len(a) :]


def test_nsp_negatives_come_from_another_document():
    docs, b, _ = _pair_batch("nsp", 0)
    owner = {t: d for d, doc in enumerate(docs) for s in doc for t in s}
    for row in range(len(docs)):
        a, nxt = _segments(b["original"][row])
        if int(b["pair_labels"][row]) == 0:
            assert not set(nxt) & set(_continuation_tokens(docs[row], a))  # nothing of the true B
            assert {owner[t] for t in nxt} != {row} or nxt == sorted(nxt, reverse=True)


def test_sop_negatives_are_the_true_pair_swapped():
    labels = []
    for seed in range(4):
        docs, b, half = _pair_batch("sop", seed)
        for row, doc in enumerate(docs):
            a, nxt = _segments(b["original"][row])
            label = int(b["pair_labels"][row])
            labels.append(label)
            if label == 1:
                assert _continues(doc, a, nxt, half)
            else:
                assert _continues(doc, nxt, a, half) and not _continues(doc, a, nxt, half)
    assert abs(sum(labels) / len(labels) - 0.5) < 0.1


def test_whole_word_masking_picks_15_percent_of_words_and_whole_words():
    word_start = torch.tensor([t % 3 == 0 for t in range(V.size)])  # words of 1-3 pieces
    v = Vocab(V.size, V.pad, V.bos, V.eos, V.mask, (), word_start)
    docs = _docs(200, seed=5, sentences=(14, 16))  # ~20 words a row: the at-least-one-target rule rarely fires
    b = make_objective("mlm-wwm", v, max_len=64).batch(docs, random.Random(0))
    ids, chosen = b["original"], b["labels"] != IGNORE
    special = (ids == v.pad) | (ids == v.bos) | (ids == v.eos)
    starts = word_start[ids] & ~special
    words = chosen_words = 0
    for row in range(ids.size(0)):
        i = 0
        while i < ids.size(1):
            if not starts[row, i]:
                i += 1
                continue
            j = i + 1
            while j < ids.size(1) and not starts[row, j] and not special[row, j]:
                j += 1
            piece = chosen[row, i:j]
            assert piece.all() or not piece.any()  # a word is masked whole or not at all
            words += 1
            chosen_words += bool(piece.any())
            i = j
    assert words > 3000
    assert abs(chosen_words / words - 0.15) < 0.025, chosen_words / words


def test_prefix_lm_mask_and_labels_are_exact():
    docs = _docs(20, seed=1)
    b = make_objective("prefix-lm", V, max_len=40).batch(docs, random.Random(0))
    ids, labels, mask, prefix = b["ids"], b["labels"], b["mask"][:, 0], b["prefix"]
    T = ids.size(1)
    for row, doc in enumerate(docs):
        p = int(prefix[row])
        flat = [t for s in doc for t in s][:41]
        assert 1 <= p <= len(flat) - 2
        # query i sees key j iff j <= i (left to right) or j is inside the prefix (j < p)
        want = torch.tensor([[j <= i or j < p for j in range(T)] for i in range(T)])
        assert torch.equal(mask[row], want)
        assert not mask[row, :p, p:].any()  # no prefix row sees the suffix
        # predicted: the tokens after the prefix, each from the position before it
        n = len(flat) - 1
        for i in range(T):
            assert labels[row, i].item() == (flat[i + 1] if p - 1 <= i < n else IGNORE)


def test_permutation_lm_orders_are_random_permutations_with_an_exact_mask():
    docs = _docs(20, seed=2)
    obj = make_objective("plm", V, max_len=30)
    b = obj.batch(docs, random.Random(0))
    ids, labels, mask, order = b["ids"], b["labels"], b["mask"][:, 0], b["order"]
    T = ids.size(1)
    identity = 0
    for row, doc in enumerate(docs):
        flat = [t for s in doc for t in s][:30]
        n = len(flat)
        assert sorted(order[row, :n].tolist()) == list(range(n))
        identity += order[row, :n].tolist() == list(range(n))
        targets = order[row, :n] >= n - math.ceil(n / obj.k)  # the last 1/K of the order
        assert torch.equal(labels[row, :n] != IGNORE, targets)
        assert torch.equal(labels[row, :n][targets], torch.tensor(flat)[targets])
        assert torch.equal(ids[row, :n], torch.where(targets, torch.tensor(V.mask), torch.tensor(flat)))
        want = torch.tensor([[order[row, j] < order[row, i] or i == j for j in range(T)] for i in range(T)])
        assert torch.equal(mask[row], want)
    assert identity == 0  # 20 random orders of 10-30 tokens: none is left to right


def test_bart_sentence_permutation_permutes_whole_sentences():
    docs = _docs(40, seed=3)
    b = make_objective("denoise", V, max_len=128, ratio=0.0).batch(docs, random.Random(0))
    moved = 0
    for row, doc in enumerate(docs):
        src = [t for t in b["src"][row].tolist() if t != V.pad]
        assert src[-1] == V.eos
        src = src[:-1]
        original = [t for s in doc for t in s]
        assert b["labels"][row][b["labels"][row] != IGNORE].tolist() == original + [V.eos]
        # the source is the document's sentences, each intact, in some order
        pieces, i = [], 0
        starts = {s[0]: s for s in doc}
        while i < len(src):
            sentence = starts[src[i]]
            assert src[i : i + len(sentence)] == sentence
            pieces.append(sentence)
            i += len(sentence)
        assert sorted(map(tuple, pieces)) == sorted(map(tuple, doc))
        moved += pieces != doc
    assert moved >= 30  # documents of 3-8 sentences: few keep their order by chance


def test_whole_word_fallback_target_is_a_whole_word():
    word_start = torch.tensor([t % 3 == 0 for t in range(V.size)])
    v = Vocab(V.size, V.pad, V.bos, V.eos, V.mask, (), word_start)
    b = make_objective("mlm-wwm", v, max_len=64).batch(_docs(200, seed=5), random.Random(0))  # short rows
    ids, chosen = b["original"], b["labels"] != IGNORE
    for row in range(ids.size(0)):
        for i in chosen[row].nonzero().flatten().tolist():
            # a continuation piece is chosen only with the piece before it (a piece right after a special
            # token starts the row: the word's first piece is not in the sequence, nothing to mask with it)
            if not word_start[ids[row, i]] and int(ids[row, i - 1]) not in v.specials:
                assert chosen[row, i - 1]
