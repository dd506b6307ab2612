"""The lineage rows' implementations (lineage/): each learning rule or update checked against what it
must do, so a bug in the rule fails here before it can move an experiment's numbers; and the CLI
`tcat lineage list|run`. The rows' claims at their tiny settings run in tests/test_experiments.py."""

import json
import math

import pytest
import torch

from transformer_catalog.cli import main
from transformer_catalog.experiments import registry

# --- perceptron ---------------------------------------------------------------------------------


def test_perceptron_never_learns_xor_and_converges_on_iris():
    from transformer_catalog.lineage.perceptron import XOR_X, XOR_Y, iris_setosa, train_perceptron

    for seed in range(5):
        r = train_perceptron(XOR_X, XOR_Y, 50, seed)
        assert not r.converged and r.best_accuracy <= 0.75 and min(r.mistakes_per_epoch) >= 1
    x, t = iris_setosa()
    assert x.shape == (150, 4) and t.sum() == 50
    r = train_perceptron(x, t, 50, 0)
    assert r.converged and r.accuracy_per_epoch[-1] == 1.0 and r.mistakes_per_epoch[-1] == 0


def test_perceptron_rule_moves_only_on_mistakes_towards_the_target():
    from transformer_catalog.lineage.perceptron import predict, train_perceptron

    x = torch.tensor([[2.0, 0.0], [-2.0, 0.0]])  # separable by the sign of x0
    t = torch.tensor([1.0, 0.0])
    r = train_perceptron(x, t, 10, 3, lr=0.5)
    assert r.converged and torch.equal(predict(r.w, r.b, x), t)
    # AND is separable; a rule that moved away from the target (w -= ...) would never converge
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    r = train_perceptron(x, torch.tensor([0.0, 0.0, 0.0, 1.0]), 100, 0)
    assert r.converged and r.best_accuracy == 1.0


# --- MLP: backpropagation written out ---------------------------------------------------------


@pytest.mark.parametrize("loss", ["squared", "cross-entropy"])
@pytest.mark.parametrize("linear", [False, True])
def test_backprop_deltas_equal_autograd(loss, linear):
    from transformer_catalog.lineage.mlp import MLP

    net = MLP.init(3, 4, 2, seed=1, linear_hidden=linear, loss=loss)
    x = torch.rand(5, 3, dtype=torch.float64)
    t = (torch.rand(5, 2, dtype=torch.float64) > 0.5).double()
    e, grads = net.gradients(x, t)
    params = [p.clone().requires_grad_() for p in (net.w1, net.b1, net.w2, net.b2)]
    z = x @ params[0] + params[1]
    h = z if linear else torch.sigmoid(z)
    y = torch.sigmoid(h @ params[2] + params[3])
    ref = (
        0.5 * ((y - t) ** 2).sum()
        if loss == "squared"
        else torch.nn.functional.binary_cross_entropy(y, t, reduction="sum")
    )
    ref.backward()
    assert e == pytest.approx(ref.item())
    for g, p in zip(grads, params):
        torch.testing.assert_close(g, p.grad)


def test_hidden_layer_solves_xor_and_linear_hidden_units_cannot():
    from transformer_catalog.lineage.mlp import MLP
    from transformer_catalog.lineage.perceptron import XOR_X, XOR_Y

    x, t = XOR_X.double(), XOR_Y.double()[:, None]
    assert MLP.init(2, 2, 1, 1, 0.3).train(x, t, 3000, 0.5, 0.9).accuracy(x, t) == 1.0
    for seed in range(3):
        assert MLP.init(2, 2, 1, seed, 0.3, linear_hidden=True).train(x, t, 1000, 0.5, 0.9).accuracy(x, t) <= 0.75


def test_code_counting():
    from transformer_catalog.lineage.mlp import binary_codes, distinct_codes

    codes = torch.tensor([[0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.5, 0.5]], dtype=torch.float64)
    assert distinct_codes(codes) == 3  # the first two are within 0.1 of each other
    assert binary_codes(codes) == 2  # (0,0,0) three times (0.5 is not above 0.5) and (1,0,0)
    assert binary_codes(torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.9, 0.9]])) == 3


# --- Hopfield -----------------------------------------------------------------------------------


def test_hebbian_weights_are_symmetric_with_zero_diagonal():
    from transformer_catalog.lineage.hopfield import store

    p = torch.tensor([[1.0, -1.0, 1.0], [1.0, 1.0, -1.0]], dtype=torch.float64)
    w = store(p)
    expected = (torch.outer(p[0], p[0]) + torch.outer(p[1], p[1])) / 3
    expected.fill_diagonal_(0)
    torch.testing.assert_close(w, expected)


def test_recall_lowers_energy_and_ends_in_a_fixed_point():
    from transformer_catalog.lineage.hopfield import energy, random_patterns, recall, store

    g = torch.Generator().manual_seed(0)
    w = store(random_patterns(15, 60, g))  # overloaded: recall ends in spurious states, still fixed points
    for _ in range(5):
        s0 = random_patterns(1, 60, g)[0]
        s = recall(w, s0, g)
        assert energy(w, s) <= energy(w, s0)
        assert torch.equal(torch.where(w @ s >= 0, 1.0, -1.0).double(), s)  # no unit wants to flip


def test_low_load_recall_is_exact_and_overload_breaks_it():
    from transformer_catalog.lineage.hopfield import flip, recall_errors, recall_rate

    g = torch.Generator().manual_seed(1)
    cue = flip(torch.ones(100, dtype=torch.float64), 0.1, g)
    assert int((cue != 1).sum()) == 10
    assert recall_rate(recall_errors(100, 5, 3, 0.1, seed=0), 100) == 1.0
    assert recall_rate(recall_errors(100, 30, 1, 0.1, seed=0), 100) < 0.3
    assert recall_rate([0, 2, 3], 100, 0.02) == pytest.approx(2 / 3) and recall_rate([0, 2, 3], 100) == pytest.approx(
        1 / 3
    )


# --- Elman --------------------------------------------------------------------------------------


def test_letter_stream_drops_spaces_and_marks_word_starts():
    from transformer_catalog.lineage.elman import LETTERS, boundary_gap, by_position, letter_stream

    ids, initial = letter_stream(["In the Lord, 3 of us"])
    assert "".join(LETTERS[i] for i in ids) == "inthelordofus"
    assert [i for i, f in enumerate(initial) if f] == [0, 2, 5, 9, 11]
    bits = [float(i) for i in range(1, len(ids))]  # bits[i] is letter i + 1's; value = that letter's index
    first, inner = boundary_gap(bits, initial)
    assert first == pytest.approx((2 + 5 + 9 + 11) / 4)  # the first letter (index 0) has no prediction
    assert inner == pytest.approx((sum(range(1, 13)) - 27) / 8)
    assert by_position(bits, initial, longest=3)[1] == pytest.approx(first)
    assert by_position(bits, initial, longest=3)[3] == pytest.approx((4 + 7 + 8) / 3)  # 'e'; 'r', 'd' (3+)


def test_elman_surprisal_is_the_next_letter_log_loss_given_the_whole_prefix():
    from transformer_catalog.lineage.elman import Elman, surprisal

    torch.manual_seed(0)
    model = Elman(8)
    ids = [0, 4, 2, 7, 7, 1]
    bits = surprisal(model, ids)
    h = torch.zeros(1, 8)
    for k in range(len(ids) - 1):  # one step at a time, the state carried by hand
        logits, h = model(torch.tensor([[ids[k]]]), h)
        p = torch.softmax(logits[0, 0], -1)[ids[k + 1]]
        assert bits[k] == pytest.approx(-math.log2(p.item()), rel=1e-5)


# --- LSTM and tanh RNN --------------------------------------------------------------------------


def test_written_out_cells_equal_torch_lstm_and_rnn_cells():
    from transformer_catalog.lineage.lstm import Recurrent

    torch.manual_seed(0)
    x, h, c = torch.randn(3, 2), torch.randn(3, 5), torch.randn(3, 5)
    ours = Recurrent("lstm", 2, 5)
    ref = torch.nn.LSTMCell(2, 5)
    with torch.no_grad():  # torch keeps [W_ih | W_hh] and two biases; the gates in the same order (i, f, g, o)
        ref.weight_ih.copy_(ours.w.weight[:, :2])
        ref.weight_hh.copy_(ours.w.weight[:, 2:])
        ref.bias_ih.copy_(ours.w.bias)
        ref.bias_hh.zero_()
    h1, c1 = ours.step(x, h, c)
    h2, c2 = ref(x, (h, c))
    torch.testing.assert_close(h1, h2)
    torch.testing.assert_close(c1, c2)
    assert torch.equal(ours.w.bias[5:10].detach(), torch.ones(5))  # forget gate starts open
    rnn, ref = Recurrent("tanh", 2, 5), torch.nn.RNNCell(2, 5)
    with torch.no_grad():
        ref.weight_ih.copy_(rnn.w.weight[:, :2])
        ref.weight_hh.copy_(rnn.w.weight[:, 2:])
        ref.bias_ih.copy_(rnn.w.bias)
        ref.bias_hh.zero_()
    torch.testing.assert_close(rnn.step(x, h, c)[0], ref(x, h))


def test_adding_problem_marks_one_number_in_each_half():
    from transformer_catalog.lineage.lstm import BASELINE_MSE, adding_batch

    x, y = adding_batch(500, 40, torch.Generator().manual_seed(0))
    marks = x[..., 1]
    assert torch.equal(marks.sum(1), torch.full((500,), 2.0))
    assert torch.equal(marks[:, :20].sum(1), torch.ones(500))
    torch.testing.assert_close(y, (x[..., 0] * marks).sum(1))
    assert abs(((y - 1) ** 2).mean().item() - BASELINE_MSE) < 0.03  # the mean's MSE is Var(u1 + u2)


# --- GCN ----------------------------------------------------------------------------------------


def test_gcn_propagation_and_the_karate_club():
    from transformer_catalog.lineage.gcn import GCN, karate, normalised_adjacency

    path = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])  # 0 - 1 - 2
    a = normalised_adjacency(path)
    d = torch.tensor([2.0, 3.0, 2.0]).rsqrt()
    torch.testing.assert_close(a, d[:, None] * (path + torch.eye(3)) * d[None, :])
    model = GCN(3, 4, 2)
    x = torch.eye(3)
    x_moved = x.clone()
    x_moved[2] = 0  # a change at node 2 reaches node 0 in two hops, and never without the graph
    assert not torch.allclose(model(x, a)[0], model(x_moved, a)[0])
    assert torch.equal(model(x, None)[0], model(x_moved, None)[0])
    adj, y = karate()
    assert adj.shape == (34, 34) and int(adj.sum()) == 2 * 78 and torch.equal(adj, adj.T)
    assert y.sum() == 17 and y[0] == 0 and y[33] == 1


# --- seq2seq with additive attention ------------------------------------------------------------


def test_attention_is_a_distribution_over_real_source_tokens():
    from transformer_catalog.lineage.seq2seq import AttentionSeq2Seq

    torch.manual_seed(0)
    model = AttentionSeq2Seq(20, d=8, pad_id=0, dropout=0.0).eval()
    src = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    annotations, keys, mask, state = model.encode(src)
    s = state[0]
    scores = model.v(torch.tanh(model.w(s)[:, None, :] + keys)).squeeze(-1)
    ctx = model.context(s, annotations, keys, mask)
    alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)
    assert torch.equal(alpha[0, 3:], torch.zeros(2)) and torch.allclose(alpha.sum(-1), torch.ones(2))
    torch.testing.assert_close(ctx, torch.einsum("bj,bjd->bd", alpha, annotations))
    # padding does not change what the model says about a sentence
    tgt = torch.tensor([[1, 5, 6], [1, 5, 6]])
    longer = torch.cat([src, torch.zeros(2, 3, dtype=torch.long)], 1)
    torch.testing.assert_close(model(src, tgt), model(longer, tgt))
    blind = AttentionSeq2Seq(20, d=8, pad_id=0, attend=False).eval()
    assert torch.equal(blind.context(s, annotations, keys, mask), torch.zeros(2, 16))


def test_greedy_decoding_follows_the_teacher_forced_argmax():
    from transformer_catalog.lineage.seq2seq import AttentionSeq2Seq

    torch.manual_seed(1)
    model = AttentionSeq2Seq(12, d=8, pad_id=0, dropout=0.0).eval()
    src = torch.tensor([[3, 4, 5]])
    out = model.greedy(src, bos_id=1, eos_id=2, max_new=6)[0]
    with torch.no_grad():
        logits = model(src, torch.tensor([[1] + out]))
    assert logits.argmax(-1)[0, : len(out)].tolist() == out


# --- the CLI ------------------------------------------------------------------------------------

MINE = {"perceptron": "Perceptron", "mlp": "MLP", "hopfield": "RNN", "elman": "RNN", "lstm": "LSTM",
        "gcn": "GNN", "seq2seq": "LSTM"}  # fmt: skip


def test_every_row_names_a_lineage_root():
    import yaml

    from transformer_catalog.catalog.load import DATA

    roots = {r["name"] for r in yaml.safe_load((DATA / "lineage.yaml").read_text())}
    rows = {n: e.lineage for n, e in registry().items() if e.lineage}
    assert {f"lineage-{k}": v for k, v in MINE.items()}.items() <= rows.items()
    assert set(rows.values()) <= roots
    assert registry()["copy"].lineage is None


def test_lineage_list_shows_rows_and_roots(capsys):
    assert main(["lineage", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    shown = {line.split()[0]: line.split()[1] for line in lines}
    assert MINE.items() <= shown.items() and "copy" not in shown


def test_lineage_run_one_row_and_all_rows(tmp_path, capsys, monkeypatch):
    assert main(["lineage", "run", "gcn", "--tiny", "--out", str(tmp_path / "g"), "--threads", "1"]) == 0
    results = json.loads((tmp_path / "g" / "results.json").read_text())
    assert results["name"] == "lineage-gcn" and results["claim_holds"] and results["control_fails"]
    assert "lineage-gcn: the claim holds" in capsys.readouterr().out
    from transformer_catalog.cli import experiments as cli

    rows = {n: e for n, e in registry().items() if n in ("lineage-perceptron", "lineage-gcn")}
    monkeypatch.setattr(cli, "_rows", lambda: rows)  # --all over two fast rows
    assert main(["lineage", "run", "--all", "--tiny", "--out", str(tmp_path / "all"), "--threads", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir() if p.is_dir()) == ["gcn-tiny", "perceptron-tiny"]
    for row in ("gcn", "perceptron"):
        assert json.loads((tmp_path / "all" / f"{row}-tiny" / "results.json").read_text())["setting"] == "tiny"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["lineage", "run", "nope"], "unknown lineage row 'nope'; known: perceptron, mlp"),
        (["lineage", "run", "copy"], "unknown lineage row 'copy'"),  # an experiment, not a lineage row
        (["lineage", "run"], "name the row to run, or --all for every row"),
        (["lineage", "run", "gcn", "--all"], "give one row NAME or --all, not both"),
        (["lineage", "run", "gcn", "--threads", "-1"], "--threads"),
    ],
)
def test_lineage_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_lineage_run_refuses_a_users_folder_before_working(tmp_path, capsys):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine")
    assert main(["lineage", "run", "gcn", "--tiny", "--out", str(mine)]) == 2
    assert "non-empty folder tcat did not create" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]


def test_experiments_list_aligns_claims_after_the_longest_name(capsys):
    assert main(["experiments", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    width = max(len(n) for n in registry())
    assert len(lines) == len(registry())
    for line, (name, ex) in zip(lines, registry().items()):
        assert line == f"{name.ljust(width)} {ex.claim}"


def test_a_missed_target_is_explained_from_the_numbers():
    from transformer_catalog.experiments import lineage_hopfield, lineage_seq2seq

    hop = {"recall_at_0.10N": 0.94, "recall_at_0.20N": 0.2, "exact_recall_bound_patterns": 10.857, "n_units": 100,
           "recall_within_2pct_at_0.10N": 0.98, "recall_within_2pct_at_0.20N": 0.33}  # fmt: skip
    text = lineage_hopfield.miss(hop)
    assert "0.940, 0.010 short of 0.95" in text and "N / (2 ln N) = 10.9" in text and "0.980 at 0.10 N" in text
    assert lineage_hopfield.miss(hop | {"recall_at_0.10N": 0.96}) == ""
    s2s = {"transformer_chrf": 9.3, "lstm-attention_chrf": 6.4, "lstm-no-attention_chrf": 8.7, "copy_source_chrf": 17.0,
           "transformer_tokens_per_cpu_s": 7500.0, "lstm-attention_tokens_per_cpu_s": 4800.0,
           "lstm-no-attention_tokens_per_cpu_s": 6400.0,
           "lstm-attention_steps": 116, "lstm-no-attention_steps": 158}  # fmt: skip
    text = lineage_seq2seq.miss(s2s, 60.0)
    assert "chrF 8.7, 2.3 above the attention LSTM's 6.4" in text and "below copying the source, 17.0" in text
    assert lineage_seq2seq.miss(s2s | {"lstm-no-attention_chrf": 5.0}, 60.0) == ""
    slow = lineage_seq2seq.miss(s2s | {"transformer_tokens_per_cpu_s": 4000.0, "transformer_chrf": 6.0}, 60.0)
    assert "not above the attention LSTM's 4,800" in slow and "0.4 below the attention LSTM's 6.4" in slow
    for name in ("lineage-hopfield", "lineage-seq2seq"):  # the shipped misses say so
        shipped = {
            r["name"]: r for r, _ in __import__("transformer_catalog.experiments", fromlist=["x"]).shipped_results()
        }
        assert shipped[name]["miss"].strip()
