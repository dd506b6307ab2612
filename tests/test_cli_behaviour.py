"""What tcat's refusals leave possible: --force writes into a user's folder and deletes nothing, the
experiments commands' plumbing. (The refusals themselves are the rows of tests/test_bad_inputs.py.)"""

from transformer_catalog.cli import main


def test_force_writes_into_a_users_folder_and_deletes_nothing(tmp_path, capsys):
    from transformer_catalog.train.checkpoint import load_model

    user = tmp_path / "user"
    user.mkdir()
    (user / "thesis.tex").write_text("mine")
    assert main(["build", "transformer-tiny", "--out", str(user)]) == 2
    assert main(["build", "transformer-tiny", "--out", str(user), "--force"]) == 0
    model, _, _ = load_model(user)  # the checkpoint went into user/checkpoint
    assert model.config.d_model == 128
    assert (
        main(["build", "transformer-tiny", "--out", str(user), "--seed", "1"]) == 0
    )  # a checkpoint tcat wrote: replaced
    assert (user / "thesis.tex").read_text() == "mine"
    site = tmp_path / "site"
    site.mkdir()
    (site / "notes.txt").write_text("mine too")
    assert main(["site", "build", str(site)]) == 2
    assert main(["site", "build", str(site), "--force"]) == 0
    assert (site / "index.html").is_file() and (site / "notes.txt").read_text() == "mine too"
    capsys.readouterr()


def test_experiments_list_shows_each_claim(capsys):
    from transformer_catalog.experiments import registry

    assert main(["experiments", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(registry())
    assert all(len(line.split(maxsplit=1)[1]) > 20 for line in out)


def test_experiments_run_writes_into_the_folder_it_is_given(tmp_path, capsys, monkeypatch):
    """The command's plumbing (the experiments themselves are tested at their tiny setting in
    tests/test_experiments.py): --tiny reaches the experiment, its folder is created and marked."""
    from types import SimpleNamespace

    from transformer_catalog.cli import experiments as cli_experiments
    from transformer_catalog.experiments import Experiment
    from transformer_catalog.files import MARKER, write_json

    seen = {}

    def run(cfg, out):
        seen["cfg"] = cfg
        results = {"metrics": {"exact_match": 1.0}, "claim_holds": True, "control_fails": True}
        write_json(out / "results.json", results)
        return results

    config = SimpleNamespace(tiny=lambda: "tiny setting")
    module = SimpleNamespace(run=run, Config=lambda: "full setting")
    module.Config.tiny = config.tiny
    fake = Experiment("fake", "A claim that is long enough to read.", "A control.", module)
    monkeypatch.setattr(cli_experiments, "_registry", lambda: {"fake": fake})
    out = tmp_path / "exp"
    assert main(["experiments", "run", "fake", "--tiny", "--out", str(out), "--threads", "1"]) == 0
    assert seen["cfg"] == "tiny setting" and (out / MARKER).is_file() and (out / "results.json").is_file()
    said = capsys.readouterr().out
    assert "fake: the claim holds, the control fails as it should" in said
