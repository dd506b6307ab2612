"""Catalog views and exports, through the CLI as a user runs them."""

import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest

from transformer_catalog.catalog.export import _tex, json_schema
from transformer_catalog.catalog.load import load_catalog

CAT = load_catalog()


def tcat(*args):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "transformer_catalog.cli", *args], capture_output=True, text=True, env=env
    )


def names(*args):
    res = tcat("list", "--names", *args)
    assert res.returncode == 0, res.stderr
    return res.stdout.split("\n")[:-1]


@pytest.mark.parametrize(
    "flag,value,predicate",
    [
        ("--family", "bert", lambda e: e.family == "BERT"),
        ("--arch", "encoder-decoder", lambda e: e.architecture == "encoder-decoder"),
        ("--task", "MLM", lambda e: "MLM" in e.pretraining_tasks),
        ("--lab", "facebook", lambda e: "Meta" in e.lab),  # normalised lab names
        ("--license", "open", lambda e: e.license.category == "open"),
        ("--after", "2022-06", lambda e: e.date >= "2022-06"),
        ("--before", "2019", lambda e: e.date <= "2019-12"),
        ("--min-params", "100B", lambda e: (e.max_params or 0) >= 100e9),
        ("--max-params", "150M", lambda e: e.min_params is not None and e.min_params <= 150e6),
    ],
)
def test_list_filters_match_the_data(flag, value, predicate):
    expected = sorted(e.name for e in CAT.entries if predicate(e))
    assert expected and sorted(names(flag, value)) == expected


def test_list_search_and_sort():
    found = names("retrieval")
    assert "Atlas" in found and "E5" in found and "GPT-2" not in found
    both = names("contrastive", "image")  # all words must match
    assert "CLIP" in both and set(both) == set(names("contrastive")) & set(names("image")) != set(names("image"))
    by_params = names("--sort", "params", "--reverse", "--min-params", "1B")
    sizes = [CAT.find(n).max_params for n in by_params]
    assert sizes == sorted(sizes, reverse=True)
    by_date = names("--family", "GPT")
    assert [CAT.find(n).date for n in by_date] == sorted(CAT.find(n).date for n in by_date)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--arch", "transducer"], "--arch 'transducer': use one of encoder, decoder, encoder-decoder"),
        (["--after", "last year"], "--after 'last year': expected a year (2020) or a month (2020-05)"),
        (
            ["--min-params", "big"],
            "--min-params: 'big': expected a number such as 350M, 1.5B or 2e9",
        ),  # argparse's form
        (["--task", "MLMs"], "--task 'MLMs': use one of"),
        (["--lab", "Hogwarts"], "--lab 'Hogwarts': unknown lab"),
        (["--sort", "size"], "--sort: invalid choice: 'size' (choose from 'date', 'name', 'params', 'family')"),
    ],
)
def test_bad_filter_values_get_one_line(args, needle):
    res = tcat("list", *args)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and needle in res.stderr


def test_show_has_facts_lineage_sources_and_corrections():
    res = tcat("show", "albert")
    assert res.returncode == 0
    out = res.stdout
    for needle in (
        "ALBERT",
        "MLM, SOP",
        "235M",
        "derived from",
        "BERT",
        "https://arxiv.org/abs/1909.11942",
        "corrections",
        "Apache-2.0",
    ):
        assert needle in out, needle
    bert = tcat("show", "BERT").stdout
    assert "ALBERT" in bert and "descendants" in bert  # lineage downwards


def test_show_typo_suggests():
    res = tcat("show", "Chinchila")
    assert res.returncode == 2 and "did you mean 'Chinchilla'" in res.stderr


def test_tree_timeline_taxonomy():
    tree = tcat("tree").stdout
    assert tree.index("Perceptron") < tree.index("LSTM") < tree.index("Transformer") < tree.index("BERT")
    sub = tcat("tree", "T5").stdout
    assert "Flan-T5" in sub and "GPT-3" not in sub
    timeline = tcat("timeline", "--after", "2019", "--before", "2019").stdout
    assert not re.search(r"(?<![A-Za-z])BERT \(", timeline) and "XLNet" in timeline and "RoBERTa" in timeline
    tax = tcat("taxonomy").stdout
    assert "RTD" in tax and "ELECTRA" in tax and "PLM" in tax and "XLNet" in tax


def test_json_export_validates_against_its_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    out = tmp_path / "catalog.json"
    assert tcat("export", "--format", "json", "--out", str(out)).returncode == 0
    data = json.loads(out.read_text())
    schema = json.loads(tcat("export", "--schema").stdout)
    jsonschema.validate(data, schema)
    assert len(data["entries"]) == len(CAT.entries)
    broken = {**data, "entries": [{**data["entries"][0], "date": "2018/10"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json_schema())


def test_csv_markdown_bibtex_latex_exports():
    rows = list(csv.DictReader(io.StringIO(tcat("export", "--format", "csv").stdout)))
    assert len(rows) == len(CAT.entries)
    gpt3 = next(r for r in rows if r["name"] == "GPT-3")
    assert gpt3["params_max"] == "175000000000" and gpt3["arxiv"] == "2005.14165"
    md = tcat("export", "--format", "markdown").stdout.splitlines()
    assert len(md) == 2 + len(CAT.entries) and md[0].startswith("| model |")
    bib = tcat("export", "--format", "bibtex").stdout
    assert bib.count("\n@") + bib.startswith("@") == len({e.references.bibtex_key for e in CAT.entries})
    assert "@article{devlin2018bert," in bib and "eprint = {1810.04805}" in bib
    tex = tcat("export", "--format", "latex").stdout
    assert "\\begin{longtable}" in tex and "\\cite{vaswani2017attention}" in tex


def test_latex_escapes_special_characters():
    assert (
        _tex("A&B 50% $x_1$ #1 {a} ~^\\")
        == r"A\&B 50\% \$x\_1\$ \#1 \{a\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    )


def test_published_schema_file_matches_the_code():
    from pathlib import Path

    published = Path(__file__).parent.parent / "schema" / "catalog-v1.schema.json"
    assert json.loads(published.read_text()) == json_schema(), (
        "regenerate: tcat export --schema --out schema/catalog-v1.schema.json"
    )


def test_site_serve_answers_on_localhost(tmp_path):
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "transformer_catalog.cli", "site", "serve", str(tmp_path / "site"), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                html = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert '<table id="models">' in html and "ALBERT" in html
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- catalog strings cannot drive the terminal or inject markup (issue 11.8) ---------------------------

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31mRED\x1b[0m\x9b1m\u202eevil\x08\x00[bold]x[/bold]"


def _hostile_catalog():
    import copy

    from transformer_catalog.catalog.load import Catalog, Record

    entries = [copy.deepcopy(e.to_dict()) for e in CAT.entries]
    bert = next(e for e in entries if e["name"] == "BERT")
    for key in ("corpus", "extension", "family"):
        bert[key] = HOSTILE
    bert["aliases"] = [HOSTILE]
    bert["sizes"][0]["note"] = HOSTILE
    bert["references"]["title"] = HOSTILE
    bert["lab"] = ["<img src=x onerror=alert(1)>"]
    bert["references"]["paper"] = "javascript:alert(1)"
    bert["references"]["arxiv"] = None
    return Catalog(entries=[Record(e) for e in entries], lineage=list(CAT.lineage), files={}), Record(bert)


def _render(renderable) -> str:
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=200, color_system=None, force_terminal=False).print(renderable)
    return out.getvalue()


def test_terminal_views_strip_control_sequences():
    from transformer_catalog.catalog.views import list_table, show, taxonomy, timeline, tree

    cat, bert = _hostile_catalog()
    for view in (
        list_table(cat.entries),
        show(cat, bert),
        tree(cat),
        timeline(cat.entries),
        taxonomy(cat.entries),
        tree(cat, "BERT"),
    ):
        text = _render(view)
        for bad in ("\x1b", "\x07", "\x9b", "\u202e", "\x08", "\x00"):
            assert bad not in text
    shown = _render(show(cat, bert))
    assert "RED" in shown and "evil" in shown and "[bold]x[/bold]" in shown  # the text stays, as text


def test_clean_keeps_text_newlines_and_tabs():
    from transformer_catalog.catalog.text import clean

    assert clean("a\tb\nc\x1b[1;31md\x1b]8;;http://x\x1b\\e\x85f") == "a\tb\ncdef"


def test_markdown_export_escapes_html_and_unsafe_links():
    from transformer_catalog.catalog.export import to_markdown

    cat, _ = _hostile_catalog()
    md = to_markdown(cat.entries)
    row = next(line for line in md.splitlines() if line.startswith("| BERT |"))
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in row
    assert "javascript:" not in md and row.endswith("| 2018 |")
    assert "\x1b" not in md and row.count(" | ") == 12  # nothing breaks out of its cell
    assert "[2019](https://arxiv.org/abs/1909.11942)" in md  # safe links stay live


def test_tree_accepts_the_lineage_roots_it_prints():
    from transformer_catalog.catalog.views import tree

    for root in ("RNN", "lstm", "Perceptron"):
        text = _render(tree(CAT, root))
        assert text.splitlines()[0].split()[0].lower() == root.lower()
        assert "Transformer" in text and "BERT" in text
    cnn = _render(tree(CAT, "CNN"))
    assert "BERT" not in cnn
    with pytest.raises(Exception, match="lineage root") as e:
        tree(CAT, "NoSuchRoot")
    assert "\n" not in str(e.value)


def test_huge_parameter_filter_is_one_line():
    from transformer_catalog.catalog.query import parse_params
    from transformer_catalog.errors import TcatError

    with pytest.raises(TcatError, match="too large"):
        parse_params("1e400", "--min-params")
    assert parse_params("1.5B", "--min-params") == 1_500_000_000


@pytest.mark.parametrize("rows", [{"a": 1}, ["x"], [{"variant": 1}], [{"variant": "base", "params": "many"}], "text"])
def test_show_survives_a_damaged_breakdown(rows):
    from transformer_catalog.catalog.views import show

    bert = CAT.get("BERT")
    text = _render(show(CAT, bert, rows))  # a damaged cache file reaches show() like this
    assert "BERT" in text and "computed (tcat verify)" not in text
    good = [
        {
            "variant": "base",
            "params": 110_000_000,
            "embeddings": 1,
            "attention": 2,
            "feed-forward": 3,
            "norms": 4,
            "head": None,
            "flops_per_token": 2.2e8,
            "context": 512,
        }
    ]
    assert "computed (tcat verify)" in _render(show(CAT, bert, good))
