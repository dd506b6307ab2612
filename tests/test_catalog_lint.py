"""The catalog's data checks: the shipped catalog lints clean, and each kind of mistake in an
entry gets one exact `file:line: field: message` line."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from transformer_catalog.catalog.lint import lint
from transformer_catalog.catalog.load import LINEAGE, MODELS, load_catalog
from transformer_catalog.errors import TcatError


def test_shipped_catalog_is_clean_and_complete():
    assert lint() == []
    cat = load_catalog()
    assert len(cat.entries) >= 80
    in_paper = [e for e in cat.entries if e.in_paper]
    assert len(in_paper) == 77  # the paper's May-2023 list; RT-1, Atlas and the Transformer are ours
    for name in ("RT-1", "Atlas", "BERT", "GPT-3", "LLaMA", "T5", "ViT", "CLIP"):
        assert cat.find(name) is not None, name
    corrected = [e for e in cat.entries if e.corrections]
    assert len(corrected) >= 50  # the paper's evident errors, each with a source


@pytest.fixture
def fixture_dir(tmp_path):
    for name in ("transformer", "bert"):
        shutil.copy(MODELS / f"{name}.yaml", tmp_path)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def messages(folder):
    return [str(p) for p in lint(folder, LINEAGE)]


def test_unknown_field(fixture_dir):
    bert = fixture_dir / "bert.yaml"
    edit(bert, "corpus:", "corpos: typo\ncorpus:")
    assert messages(fixture_dir) == [f"{bert}:{line_of(bert, 'corpos')}: corpos: unknown field"]


def test_non_numeric_size(fixture_dir):
    bert = fixture_dir / "bert.yaml"
    edit(bert, "params: 110000000", "params: 110M")
    assert messages(fixture_dir) == [
        f"{bert}:{line_of(bert, 'params: 110M')}: sizes.0.params: Input should be a valid integer, unable to parse string as an integer"]


def test_bad_date_format(fixture_dir):
    bert = fixture_dir / "bert.yaml"
    edit(bert, "date: 2018-10", "date: 10/2018")
    assert messages(fixture_dir) == [f"{bert}:{line_of(bert, 'date:')}: date: '10/2018' is not a YYYY-MM date"]


def test_closed_vocabulary(fixture_dir):
    bert = fixture_dir / "bert.yaml"
    edit(bert, "architecture: encoder", "architecture: Encoder/Decoder")
    assert messages(fixture_dir) == [
        f"{bert}:{line_of(bert, 'architecture:')}: architecture: 'Encoder/Decoder' is not allowed; "
        "use one of 'encoder', 'decoder' or 'encoder-decoder'"]


def test_unknown_parent(fixture_dir):
    bert = fixture_dir / "bert.yaml"
    edit(bert, "- Transformer", "- Transformr")
    assert messages(fixture_dir) == [
        f"{bert}:{line_of(bert, '- Transformr')}: derived_from.0: 'Transformr' is not a catalog entry or lineage root"]


def test_date_later_than_arxiv_id(fixture_dir):
    bert = fixture_dir / "bert.yaml"
    edit(bert, "date: 2018-10", "date: 2019-02")
    assert messages(fixture_dir) == [
        f"{bert}:{line_of(bert, 'date:')}: date: 2019-02 is later than its arXiv id 1810.04805 (2018-10): the model was public by then"]


def test_cycle(fixture_dir):
    tr = fixture_dir / "transformer.yaml"
    edit(tr, "- LSTM", "- BERT")
    assert messages(fixture_dir) == [f"{tr}:{line_of(tr, 'derived_from:')}: derived_from: cycle: bert -> transformer -> bert"]


def test_duplicate_alias(fixture_dir):
    bert = fixture_dir / "bert.yaml"
    edit(bert, "family: BERT", "aliases:\n- Transformer\nfamily: BERT")
    assert messages(fixture_dir) == [f"{bert}:{line_of(bert, '- Transformer')}: aliases.0: 'Transformer' is already used by 'Transformer'"]


def test_undisclosed_size_needs_a_note(fixture_dir):
    bert = fixture_dir / "bert.yaml"
    edit(bert, "params: 110000000", "params: null")
    assert messages(fixture_dir) == [
        f"{bert}:{line_of(bert, '- variant: base')}: sizes.0: params is null: say in `note` that the size is undisclosed, never guess"]


def test_malformed_yaml_and_file_name(fixture_dir):
    bert = fixture_dir / "bert.yaml"
    bert.write_text(bert.read_text() + "  bad: [indent\n")
    (fixture_dir / "transformer.yaml").rename(fixture_dir / "vaswani.yaml")
    out = messages(fixture_dir)
    assert out[0].startswith(f"{bert}:") and ": (yaml): malformed YAML:" in out[0]
    assert out[1] == f"{fixture_dir / 'vaswani.yaml'}:1: name: file should be named transformer.yaml"


def test_load_catalog_fails_with_one_line(fixture_dir):
    bert = fixture_dir / "bert.yaml"
    edit(bert, "date: 2018-10", "date: 10/2018")
    with pytest.raises(TcatError) as e:
        load_catalog(fixture_dir, LINEAGE)
    assert str(e.value) == f"{bert}: date: Value error, '10/2018' is not a YYYY-MM date (run 'tcat catalog lint' for all problems)"


def test_lint_cli_exit_codes(fixture_dir):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ok = subprocess.run([sys.executable, "-m", "transformer_catalog.cli", "catalog", "lint"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "no problems" in ok.stdout
    edit(fixture_dir / "bert.yaml", "date: 2018-10", "date: 10/2018")
    bad = subprocess.run([sys.executable, "-m", "transformer_catalog.cli", "catalog", "lint", "--models", str(fixture_dir)],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stdout.strip().endswith("date: '10/2018' is not a YYYY-MM date")
