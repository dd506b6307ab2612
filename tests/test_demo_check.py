"""scripts/demo_check.py: the demo's pass/fail bar (beats copying on BLEU and chrF, no word
repeated more than four times in a row)."""

import pytest
from repo_scripts import ROOT, script_module

demo_check = script_module("demo_check", "scripts")


@pytest.mark.parametrize(
    "text, run",
    [
        ("Y la la la la la", (5, "la")),
        ("Y la, la La la. la tierra", (5, "la")),  # case and punctuation do not hide a run
        ("Y los hijos de los hijos de Israel", (2, "los hijos de")),  # a phrase twice is far below the bar
        ("y y y y", (4, "y")),
        ("y de la mareseseseseses, y", (6, "es")),  # a sub-word token looping inside one word
        ("y llamó, y él dijo: ¿Quién?", (2, "l")),  # "ll": natural text stays far below the bar
        ("", (0, "")),
    ],
)
def test_longest_run(text, run):
    assert demo_check.longest_run(text) == run


def _result(bleu=1.0, chrf=20.0, copy_bleu=0.2, copy_chrf=17.0):
    return {"bleu": bleu, "chrf": chrf, "copy_source_bleu": copy_bleu, "copy_source_chrf": copy_chrf}


def test_verdict_passes_a_model_that_beats_copying():
    assert demo_check.verdict(_result(), ["Y dijo Dios: Sea la luz.", "y y y y fué"]) == []


@pytest.mark.parametrize(
    "result, hyps, says",
    [
        (_result(bleu=0.22, copy_bleu=0.24), ["Y dijo Dios"], "BLEU 0.22 is not above"),
        (_result(bleu=0.24, copy_bleu=0.24), ["Y dijo Dios"], "BLEU 0.24 is not above"),  # equal is not above
        (_result(chrf=6.2, copy_chrf=17.3), ["Y dijo Dios"], "chrF 6.2 is not above"),
        (_result(), ["Y dijo Dios", "Y la la la la la la"], "translation 2 repeats 'la' 6 times"),
        (_result(), ["de la mareseseseseses"], "translation 1 repeats 'es' 6 times"),
    ],
)
def test_verdict_fails(result, hyps, says):
    problems = demo_check.verdict(result, hyps)
    assert len(problems) == 1 and says in problems[0], problems


def test_hypotheses_come_from_the_json():
    result = {"hypotheses": ["uno", "dos"], "pairs": 2}
    assert demo_check.hypotheses_of(result) == ["uno", "dos"]


@pytest.mark.parametrize("result", [{"pairs": 2}, {"hypotheses": ["uno"], "pairs": 2}])
def test_a_json_without_every_hypothesis_is_refused(result):
    with pytest.raises(SystemExit, match="does not list every hypothesis"):
        demo_check.hypotheses_of(result)


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_demo_refuses_to_delete_what_tcat_did_not_make(tmp_path, kind):
    """scripts/demo.sh replaces its run folder only when it holds tcat's marker (.tcat)."""
    import subprocess

    run = tmp_path / "mine"
    if kind == "folder":
        run.mkdir()
        (run / "notes.txt").write_text("keep me")
    else:
        run.write_text("keep me")
    demo = ROOT / "scripts" / "demo.sh"
    done = subprocess.run(["bash", str(demo), str(run)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "was not made by tcat" in done.stderr
    kept = run / "notes.txt" if kind == "folder" else run
    assert kept.read_text() == "keep me"
