"""The site's attention page: the shipped MiniLM maps (catalog/data/attention/, written by
scripts/attention_pages.py) equal a fresh forward pass of the real weights; the page shows every
shipped map, escapes sentences and tokens, refuses a hand-edited folder, and imports no torch."""

import json
import shutil
import subprocess
import sys

import pytest
import torch
from repo_scripts import script_module

from transformer_catalog.catalog.attention_page import DATA, attention_pages, load_index
from transformer_catalog.catalog.site import _env
from transformer_catalog.errors import TcatError


@pytest.fixture(scope="module")
def script():
    return script_module("attention_pages", "scripts")


def _minilm_or_skip():
    from transformer_catalog.train.pretrained import minilm_folder

    try:
        minilm_folder()
    except TcatError as e:
        pytest.skip(str(e))


def test_shipped_maps_equal_a_fresh_computation_from_the_real_minilm(script):
    _minilm_or_skip()
    index = load_index()
    assert [s["text"] for s in index["sentences"]] == [text for _, _, text in script.SENTENCES]
    for s in index["sentences"]:
        tokens, fresh = script.compute(s["text"])
        stored = json.loads((DATA / s["patterns"]).read_text())
        assert tokens == s["tokens"] == stored["tokens"] and tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
        assert len(s["maps"]) == 6 and all(len(row) == 12 for row in s["maps"])  # MiniLM: 6 layers x 12 heads
        fresh_t, stored_t = torch.tensor(fresh), torch.tensor(stored["patterns"])
        assert fresh_t.shape == stored_t.shape == (6, 12, len(tokens), len(tokens))
        # stored to 4 decimals: a fresh pass agrees within the rounding (plus float noise across CPUs)
        assert torch.allclose(fresh_t, stored_t, atol=1e-4, rtol=0), (fresh_t - stored_t).abs().max()
        assert torch.allclose(stored_t.sum(-1), torch.ones(6, 12, len(tokens)), atol=5e-3)  # rows are softmaxes
        for i, row in enumerate(s["maps"]):
            for h, name in enumerate(row):
                assert (DATA / name).read_text() == script.svg(stored["patterns"][i][h], tokens, i, h), name
    shipped = {p.name for p in DATA.iterdir()}
    listed = {"index.json"} | {s["patterns"] for s in index["sentences"]}
    listed |= {n for s in index["sentences"] for row in s["maps"] for n in row}
    assert shipped == listed  # nothing stale left in the folder


def test_the_page_shows_every_shipped_map():
    pages = attention_pages(_env())
    html = pages["attention.html"]
    index = load_index()
    names = [n for s in index["sentences"] for row in s["maps"] for n in row]
    assert len(names) == len(set(names)) == 2 * 6 * 12
    for name in names:
        assert f'<img src="attention/{name}"' in html
        assert pages[f"attention/{name}"] == (DATA / name).read_text()
    assert set(pages) == {"attention.html"} | {f"attention/{n}" for n in names}
    for s in index["sentences"]:
        assert s["text"] in html and f'id="{s["id"]}"' in html


def _folder(tmp_path, text, tokens, maps=None):
    """A folder in the shipped layout with one sentence; its SVGs drawn by interp's svg_heatmap."""
    from transformer_catalog.interp import svg_heatmap

    maps = maps or [["t-L0H0.svg", "t-L0H1.svg"], ["t-L1H0.svg", "t-L1H1.svg"]]
    n = len(tokens)
    for row in maps:
        for name in row:
            (tmp_path / name).write_text(svg_heatmap(torch.full((n, n), 1 / n), tokens, tokens, name))
    sentence = {"id": "t", "label": "test <b>label</b>", "text": text, "tokens": tokens, "maps": maps}
    (tmp_path / "index.json").write_text(json.dumps({"model": "m", "command": "c", "sentences": [sentence]}))
    return tmp_path


def test_the_page_escapes_sentences_and_tokens(tmp_path):
    evil = "<script>alert(1)</script>"
    folder = _folder(tmp_path, f"before {evil} after", ["[CLS]", evil, "<img src=x onerror=alert(2)>", "[SEP]"])
    pages = attention_pages(_env(), folder)
    html = pages["attention.html"]
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>label" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "test &lt;b&gt;label&lt;/b&gt;" in html
    for name in ("t-L0H0.svg", "t-L1H1.svg"):
        assert "<script>" not in pages[f"attention/{name}"] and "&lt;script&gt;" in pages[f"attention/{name}"]
        assert f'<img src="attention/{name}"' in html


def test_a_hand_edited_folder_is_refused_in_one_line(tmp_path):
    folder = _folder(tmp_path, "text", ["[CLS]", "a", "[SEP]"])
    (folder / "t-L1H1.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    with pytest.raises(TcatError, match=r"t-L1H1\.svg: not a plain SVG heatmap"):
        attention_pages(_env(), folder)
    bad = tmp_path / "bad"
    bad.mkdir()
    _folder(bad, "text", ["a"], maps=[["../escape-L0H0.svg"]])
    with pytest.raises(TcatError, match="is not of the form"):
        load_index(bad)
    (bad / "index.json").write_text('{"sentences": [')
    with pytest.raises(TcatError, match="not valid JSON"):
        load_index(bad)
    shutil.rmtree(bad)
    with pytest.raises(TcatError, match="index.json: unreadable"):
        load_index(bad)


def test_rendering_the_page_imports_no_torch():
    code = (
        "import sys\n"
        "from transformer_catalog.catalog.attention_page import attention_pages\n"
        "from transformer_catalog.catalog.site import _env\n"
        "pages = attention_pages(_env())\n"
        "assert len(pages) > 100, len(pages)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
