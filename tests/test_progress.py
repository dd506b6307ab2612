"""The shared progress bar: hidden, it builds nothing and prints nothing; shown, it moves and sets fields."""

from transformer_catalog.progress import Bar


def test_a_hidden_bar_builds_nothing_and_prints_nothing(capsys):
    with Bar(False, "train", ("loss {task.fields[loss]}",), total=4, loss="-") as bar:
        bar.show(advance=1, loss="0.5")
        bar.note("a note")
    assert not hasattr(bar, "bar")
    assert capsys.readouterr() == ("", "")


def test_a_shown_bar_moves_sets_fields_and_prints_notes(capsys):
    with Bar(True, "train", ("loss {task.fields[loss]}",), total=4, completed=1, loss="-") as bar:
        bar.show(advance=2, loss="0.500")
        task = bar.bar.tasks[0]
        assert (task.completed, task.total, task.fields["loss"]) == (3, 4, "0.500")
        bar.note("valid loss 1.25")
    assert "valid loss 1.25" in capsys.readouterr().out


def test_the_trainer_and_the_rlhf_loops_share_it():
    from transformer_catalog.rlhf.progress import RLProgress
    from transformer_catalog.train.trainer import _Progress

    assert issubclass(_Progress, Bar) and issubclass(RLProgress, Bar)
    bar = _Progress(total=10, done=5, enabled=True, budget_s=100.0, elapsed_s=80.0)
    assert bar.bar.tasks[0].completed == 0.8  # the time budget is the nearer limit


def test_a_stepping_bar_counts_its_steps_with_a_rate_and_is_silent_when_hidden(capsys):
    from transformer_catalog.progress import stepping

    with stepping("recall", 3, enabled=True) as advance:
        for _ in range(3):
            advance()
    out = capsys.readouterr().out
    assert "recall" in out and "3/3" in out and "steps/s" in out and "- steps/s" not in out  # the rate was set
    with stepping("recall", 3, enabled=False) as advance:
        advance()
    assert capsys.readouterr() == ("", "")
