"""The static site: built from templates with autoescape, only http(s)/relative links live,
never deletes or writes through what is not tcat's, served without listings or escapes."""

import copy
import os
import re
import threading
import urllib.error
import urllib.request

import pytest

from transformer_catalog.catalog.load import Catalog, Record, load_catalog, slug
from transformer_catalog.catalog.site import build_site, make_server, render_pages, safe_url
from transformer_catalog.errors import TcatError
from transformer_catalog.files import MARKER


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


# -- never delete, never write through (issue 11.1) ---------------------------------------------------


def test_user_folder_is_refused_and_forced_build_keeps_user_files(tmp_path, catalog):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("my thesis")
    with pytest.raises(TcatError, match="did not create"):
        build_site(catalog, out)
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    build_site(catalog, out, force=True)
    assert (out / "thesis.tex").read_text() == "my thesis" and (out / "index.html").is_file()
    # a folder tcat wrote is rebuilt in place: its pages rewritten, a user's file beside them kept
    (out / "index.html").write_text("stale")
    (out / "models" / "notes.txt").write_text("mine too")
    build_site(catalog, out)
    assert '<table id="models">' in (out / "index.html").read_text()
    assert (out / "thesis.tex").read_text() == "my thesis" and (out / "models" / "notes.txt").read_text() == "mine too"


def test_new_and_empty_folders_are_built_and_marked(tmp_path, catalog):
    for out in (tmp_path / "new" / "site", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        build_site(catalog, out)
        assert (out / MARKER).is_file() and len(list((out / "models").glob("*.html"))) == len(catalog.entries)


def test_existing_regular_file_is_not_replaced_by_a_folder(tmp_path, catalog):
    f = tmp_path / "site"
    f.write_text("a file")
    with pytest.raises(TcatError, match="not a folder"):
        build_site(catalog, f)
    assert f.read_text() == "a file"


def test_symlinks_inside_the_site_are_never_written_through(tmp_path, catalog):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.html").write_text("keep")
    out = tmp_path / "site"
    build_site(catalog, out)
    (out / "index.html").unlink()
    (out / "index.html").symlink_to(outside / "secret.html")
    with pytest.raises(TcatError, match="symbolic link"):
        build_site(catalog, out)
    assert (outside / "secret.html").read_text() == "keep"
    (out / "index.html").unlink()
    os.rename(out / "models", tmp_path / "models-aside")
    (out / "models").symlink_to(outside)
    with pytest.raises(TcatError, match="not a folder"):
        build_site(catalog, out)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.html"]


# -- only http(s) and relative links are live (issue 11.8) ---------------------------------------------


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://arxiv.org/abs/1706.03762", True),
        ("http://example.com/a?b=c", True),
        ("models/bert.html", True),
        ("../index.html", True),
        ("#top", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("\x01javascript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("vbscript:msgbox", False),
        ("file:///etc/passwd", False),
        ("//evil.example/x", False),
        ("\\\\evil.example\\x", False),
        ("/\\evil.example", False),
        ("https:evil", False),
        ("", False),
        (None, False),
        ("\u0085javascript:x", False),
    ],
)
def test_safe_url(url, ok):
    assert (safe_url(url) is not None) == ok


def _hostile(catalog) -> Catalog:
    entries = [copy.deepcopy(e.to_dict()) for e in catalog.entries]
    bad = next(e for e in entries if e["name"] == "BERT")
    bad["references"]["paper"] = "javascript:alert('paper')"
    bad["references"]["docs"] = "java\tscript:alert('docs')"
    bad["sizes"][0]["source"] = "data:text/html,<script>alert('size')</script>"
    bad["license"]["source"] = " JAVASCRIPT:alert('license')"
    bad["aliases"] = ["<script>alert('alias')</script>"]
    if bad.get("corrections"):
        bad["corrections"][0]["source"] = "//evil.example/correction"
    bad["corpus"] = '"><img src=x onerror=alert(1)>'
    return Catalog(entries=[Record(e) for e in entries], lineage=list(catalog.lineage), files={})


def test_hostile_urls_and_strings_render_inert(catalog):
    pages = render_pages(_hostile(catalog))
    page = pages[f"models/{slug('BERT')}.html"]
    for html in pages.values():
        for url in re.findall(r'(?:href|src|action)="([^"]*)"', html):
            assert safe_url(url.replace("&amp;", "&")) is not None, url
        assert "<script>alert" not in html and "<img src=x" not in html
    # the hostile values are still shown, as text
    assert "javascript:alert(&#39;paper&#39;)" in page and 'class="inert-url"' in page
    assert "&lt;script&gt;alert(&#39;alias&#39;)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    index = pages["index.html"]
    assert "&lt;script&gt;alert(&#39;alias&#39;)&lt;/script&gt;" in index  # in data-search, escaped


def test_templates_and_assets_are_package_files(catalog):
    from transformer_catalog.catalog import site

    pages = render_pages(catalog)
    assert pages["assets/app.js"] == (site.TEMPLATES / "assets" / "app.js").read_text()
    assert "split(/\\s+/)" in pages["assets/app.js"]  # the regex survives (no Python-string escaping)
    assert (site.TEMPLATES / "model.html").is_file()
    assert site._env().autoescape is True


# -- serving (issue 11.8) ----------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path, catalog):
    out = build_site(catalog, tmp_path / "site")
    (tmp_path / "secret.txt").write_text("outside the site")
    (out / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (out / "passwd").symlink_to("/etc/passwd")
    (out / "inside-link.html").symlink_to(out / "index.html")
    (out / "empty-folder").mkdir()
    os.mkfifo(out / "pipe")
    server = make_server(out, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, ""


def test_serve_answers_files_inside_and_nothing_else(served):
    assert _get(served + "/index.html")[0] == 200
    assert _get(served + "/")[1] == _get(served + "/index.html")[1]
    assert _get(served + "/inside-link.html")[0] == 200  # a link that stays inside is fine
    assert _get(served + "/models/bert.html")[0] == 200
    for path in (
        "/leak.txt",
        "/passwd",
        "/pipe",
        "/empty-folder/",
        "/models/",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/no-such.html",
    ):
        status, body = _get(served + path)
        assert status == 404, path
        assert "outside the site" not in body and "root:" not in body and "Directory listing" not in body


def test_site_serve_port_zero_prints_the_bound_port(tmp_path):
    """`tcat site serve --port 0` binds any free port and its first line names that port."""
    import signal
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "transformer_catalog.cli", "site", "serve", str(tmp_path / "site"), "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not any("serving" in x for x in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", lines[-1]).group(1))
        assert port != 0
        assert _get(f"http://127.0.0.1:{port}/index.html")[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err, err


def test_serving_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(TcatError, match="not a folder"):
        make_server(tmp_path / "nope", 0)


def test_site_build_cli_refuses_a_users_folder_and_a_file(tmp_path):
    import subprocess
    import sys

    def tcat(*args):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        return subprocess.run(
            [sys.executable, "-m", "transformer_catalog.cli", *args], capture_output=True, text=True, env=env
        )

    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("my thesis")
    r = tcat("site", "build", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    f = tmp_path / "file.html"
    f.write_text("mine")
    r = tcat("site", "build", str(f))
    assert r.returncode == 2 and f.read_text() == "mine"
    r = tcat("site", "build", str(out), "--force")
    assert r.returncode == 0, r.stderr
    assert (out / "thesis.tex").read_text() == "my thesis" and (out / "index.html").is_file()


# -- issue 19 views and issue 18 lineage pages ---------------------------------------------------------


def _run(name, **extra):
    """An experiment's results as experiments/render.load_results checks them."""
    return {
        "name": name,
        "claim": "backpropagation solves XOR",
        "control": "a linear model cannot",
        "criterion": "accuracy 1.0",
        "metrics": {"xor_accuracy": 1.0, "control_accuracy": 0.5},
        "claim_holds": True,
        "control_fails": True,
        "setting": "full",
        "command": f"tcat lineage run {name}",
        "cpu_seconds": 3.2,
        "machine": {},
        "figures": ["curve.svg"],
        "date": "2026-11-30",
        **extra,
    }


def test_every_lineage_root_has_a_page_linked_from_the_list_and_the_tree(catalog):
    pages = render_pages(catalog)
    listing, tree = pages["lineage.html"], pages["tree.html"]
    for r in catalog.lineage:
        page = pages[f"lineage/{slug(r.name)}.html"]
        assert f"<h1>{r.name} ({r.year})</h1>" in page and "No experiment yet for this row." in page
        assert f'href="lineage/{slug(r.name)}.html"' in listing and f'href="lineage/{slug(r.name)}.html"' in tree
        for nxt in r.leads_to:  # successors link to their page: another root's or a model's
            target = f"lineage/{slug(nxt)}.html" if nxt in {x.name for x in catalog.lineage} else None
            target = target or f"models/{slug(catalog.find(nxt).name)}.html"
            assert f'href="../{target}"' in page
    assert 'href="lineage.html"' in pages["index.html"] and 'href="charts.html"' in pages["index.html"]


def test_lineage_pages_show_their_experiments_numbers_and_figures(tmp_path, catalog):
    claims = [
        (_run("mlp-xor"), {"curve.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>"}),
        (_run("copy"), {}),  # an experiment of no lineage row
        (_run("rnn-elman", lineage="RNN", figures=[]), {}),  # names its root itself
    ]
    out = build_site(catalog, tmp_path / "site", claims=claims, lineage_of={"mlp-xor": "MLP", "copy": None})
    mlp = (out / "lineage" / "mlp.html").read_text()
    assert "<h3>mlp-xor: demonstrated</h3>" in mlp and "<td>xor_accuracy</td><td>1.0</td>" in mlp
    assert 'src="../claims/mlp-xor/curve.svg"' in mlp and (out / "claims" / "mlp-xor" / "curve.svg").is_file()
    assert "tcat lineage run mlp-xor" in mlp and "No experiment yet" not in mlp
    assert "rnn-elman: demonstrated" in (out / "lineage" / "rnn.html").read_text()
    assert all("copy:" not in p.read_text() for p in (out / "lineage").glob("*.html"))
    assert "No experiment yet" in (out / "lineage" / "perceptron.html").read_text()
    listing = (out / "lineage.html").read_text()
    assert '<a href="lineage/mlp.html#mlp-xor">mlp-xor</a> (demonstrated)' in listing
    assert '<a href="lineage/rnn.html#rnn-elman">rnn-elman</a> (demonstrated)' in listing
    # the registry's word wins over a result's own field
    out2 = build_site(catalog, tmp_path / "site2", claims=claims[2:], lineage_of={"rnn-elman": "LSTM"})
    assert "rnn-elman" in (out2 / "lineage" / "lstm.html").read_text()
    assert "rnn-elman" not in (out2 / "lineage" / "rnn.html").read_text()


def test_lineage_pages_escape_roots_and_results(catalog):
    roots = [copy.deepcopy(r.to_dict()) for r in catalog.lineage]
    roots[0]["note"] = "<script>alert('note')</script>"
    roots[0]["source"] = "javascript:alert('source')"
    hostile = Catalog(entries=list(catalog.entries), lineage=[Record(r) for r in roots], files={})
    run = _run("<img src=x onerror=alert(1)>", claim="<script>alert('claim')</script>")
    pages = render_pages(hostile, claims=[(run, {})], lineage_of={run["name"]: roots[0]["name"]})
    page = pages[f"lineage/{slug(roots[0]['name'])}.html"]
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;note&#39;)&lt;/script&gt;" in page and 'class="inert-url"' in page
    assert "&lt;script&gt;alert(&#39;claim&#39;)&lt;/script&gt;" in page
    for url in re.findall(r'(?:href|src)="([^"]*)"', page):
        assert safe_url(url.replace("&amp;", "&")) is not None, url


def _with_facts(catalog) -> Catalog:
    entries = [copy.deepcopy(e.to_dict()) for e in catalog.entries]
    gpt3 = next(e for e in entries if e["name"] == "GPT-3")
    gpt3["context_length"] = {"tokens": 2048, "source": "https://arxiv.org/abs/2005.14165"}
    gpt3["training_tokens"] = {"tokens": 300_000_000_000, "source": "https://arxiv.org/abs/2005.14165"}
    gpt3["training_compute"] = {"flop": 3.14e23, "method": "reported", "confidence": "high", "variant": "175B"}
    gpt3["open_weights"] = {"open": False, "source": "javascript:alert('weights')"}
    gpt3["hardware"] = {"kind": "NVIDIA V100 <b>", "count": 10000}
    bert = next(e for e in entries if e["name"] == "BERT")
    for key in ("context_length", "training_tokens", "training_compute", "open_weights", "hardware"):
        bert.pop(key, None)
    return Catalog(entries=[Record(e) for e in entries], lineage=list(catalog.lineage), files={})


def test_model_pages_show_the_new_facts_escaped(catalog):
    pages = render_pages(_with_facts(catalog))
    page = pages[f"models/{slug('GPT-3')}.html"]
    assert "<dt>Context length</dt><dd>2,048 tokens" in page and "<dt>Training tokens</dt><dd>300B tokens" in page
    assert "3.14e+23 FLOP (reported, confidence high, 175B)" in page
    assert "10,000 × NVIDIA V100 &lt;b&gt;" in page
    assert "<dt>Open weights</dt><dd>no" in page and "javascript:alert(&#39;weights&#39;)" in page
    assert 'href="javascript' not in page
    assert "<dt>Context length</dt>" not in pages[f"models/{slug('BERT')}.html"]  # absent fields are left out


def test_trend_charts_are_on_the_site_drawn_from_the_data(catalog):
    cat = _with_facts(catalog)
    pages = render_pages(cat)
    charts = pages["charts.html"]
    for name in ("compute", "tokens", "context", "open-weights"):
        assert f'<section id="{name}">' in charts and f'href="{name}.svg"' in charts
        assert pages[f"{name}.svg"].startswith("<svg")
    compute = pages["compute.svg"]
    with_compute = [e for e in cat.entries if (getattr(e, "training_compute", None) or {}) and e.training_compute.flop]
    assert compute.count('class="mark"') == len(with_compute) >= 1
    assert 'href="models/gpt-3.html"' in compute and "GPT-3 (2020-05): 3.14e+23 FLOP" in compute


def test_pictures_scale_to_their_container_and_the_date_column_does_not_wrap(catalog):
    pages = render_pages(catalog)
    css = pages["assets/style.css"]
    assert re.search(r"\.chart svg \{[^}]*max-width: 100%;[^}]*height: auto;", css)
    assert re.search(r"td\.date, th\.date \{ white-space: nowrap; \}", css)
    assert pages["index.html"].count('<td class="date">') == len(catalog.entries)
    for name in ("tree", "timeline", "sizes"):
        assert f'<div class="chart" id="{name}-chart"><svg' in pages[f"{name}.html"]
        assert re.search(r'<svg [^>]*viewBox="0 0 \d+ \d+"', pages[f"{name}.svg"])


def test_model_pages_set_the_family_side_by_side(catalog):
    cat = _with_facts(catalog)
    pages = render_pages(cat)
    page = pages[f"models/{slug('GPT-3')}.html"]
    family = sorted((e for e in cat.entries if e.family == "GPT"), key=lambda e: (e.date, e.name))
    table = page[page.index('<table class="family">') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr(?: class=\"self\")?><td>(.*?)</td>", table)
    assert len(rows) == len(family) and rows.index("<strong>GPT-3</strong>") == family.index(cat.get("GPT-3"))
    assert f'<a href="{slug(family[0].name)}.html">' in table
    gpt3 = re.search(r'<tr class="self">(.*?)</tr>', table, re.S).group(1)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", gpt3)[:7] == [
        "2020-05",
        "125M–175B",
        "—",
        "2,048",
        "300B",
        "3.1e+23",
        "closed",
    ]
    lone = next(e for e in cat.entries if sum(x.family == e.family for x in cat.entries) == 1)
    assert '<table class="family">' not in pages[f"models/{slug(lone.name)}.html"]


def test_a_rebuild_leaves_unchanged_pages_alone_and_rewrites_the_rest(tmp_path, catalog):
    out = build_site(catalog, tmp_path / "site")
    index, tree = out / "index.html", out / "tree.html"
    before = index.stat().st_ino
    tree.write_text("edited")
    (out / "charts.html").unlink()
    aside = tmp_path / "same.html"  # a link to a file holding exactly the page is still refused
    aside.write_bytes((out / "lineage.html").read_bytes())
    (out / "lineage.html").unlink()
    (out / "lineage.html").symlink_to(aside)
    with pytest.raises(TcatError, match="symbolic link"):
        build_site(catalog, out)
    (out / "lineage.html").unlink()
    build_site(catalog, out)
    assert index.stat().st_ino == before  # not replaced: no write, no fsync
    assert tree.read_text() != "edited" and (out / "charts.html").is_file() and (out / "lineage.html").is_file()


def test_model_pages_link_parents_named_by_alias_and_their_lineage_roots(catalog):
    entries = [copy.deepcopy(e.to_dict()) for e in catalog.entries]
    parent = next(d for d in entries if d["aliases"] and d["name"] != "BERT")
    bert = next(d for d in entries if d["name"] == "BERT")
    bert["derived_from"] = [parent["aliases"][0]]
    pages = render_pages(Catalog(entries=[Record(d) for d in entries], lineage=list(catalog.lineage), files={}))
    assert f'<a href="{slug(parent["name"])}.html">{parent["aliases"][0]}</a>' in pages["models/bert.html"]
    assert '<a href="bert.html">BERT</a>' in pages[f"models/{slug(parent['name'])}.html"]  # among its descendants
    led = [(r.name, catalog.find(n).name) for r in catalog.lineage for n in r.leads_to if catalog.find(n)]
    assert led  # LSTM leads to the Transformer
    for root, name in led:
        assert f'<a href="../lineage/{slug(root)}.html">{root}</a>' in pages[f"models/{slug(name)}.html"]


def test_model_facts_read_every_new_field_and_say_undisclosed():
    from transformer_catalog.catalog.pagefacts import model_facts

    e = Record(
        {
            "sizes": [{"variant": "671B", "params": 671_000_000_000, "active_params": 37_000_000_000, "source": "u"}],
            "date_kind": "release",
            "context_length": {"tokens": None, "note": "Undisclosed by the lab", "source": "https://a.example/c"},
            "training_tokens": {"tokens": 14_800_000_000_000, "source": "https://a.example/t"},
            "training_compute": {"flop": None, "note": "not in the paper"},
            "hardware": {"kind": "H800", "count": 2048, "source": "https://a.example/h"},
            "open_weights": {
                "open": True,
                "format": "safetensors",
                "source": "https://a.example/w",
                "license_changes": [{"date": "2025-03", "license": "MIT", "source": "https://a.example/l"}],
            },
            "modalities": {"input": ["text", "image"], "output": ["text"]},
            "base_model": ["DeepSeek-V3-Base"],
            "hybrid": {"layers": "1 attention : 7 Mamba", "source": "https://a.example/y"},
            "sources": {"date": "https://a.example/d", "architecture": "https://a.example/a", "note": "press"},
        }
    )
    facts = {f.label: (f.text, f.links) for f in model_facts(e)}
    assert facts["Active parameters"][0] == "671B: 37B of 671B"
    assert facts["Date is that of"][0] == "the release"
    assert facts["Context length"] == ("Undisclosed by the lab", [("source", "https://a.example/c")])
    assert facts["Training tokens"][0] == "14.8T tokens"
    assert facts["Training compute"] == ("undisclosed — not in the paper", [])
    assert facts["Hardware"][0] == "2,048 × H800"
    assert facts["Open weights"][0] == "yes (safetensors); 2025-03: MIT"
    assert facts["Open weights"][1] == [("source", "https://a.example/w"), ("licence 2025-03", "https://a.example/l")]
    assert facts["Modalities"][0] == "text, image → text" and facts["Base model (weights)"][0] == "DeepSeek-V3-Base"
    assert facts["Hybrid layers"][0] == "1 attention : 7 Mamba"
    assert facts["Sources"] == ("press", [("date", "https://a.example/d"), ("architecture", "https://a.example/a")])
    assert model_facts(Record({"sizes": []})) == []  # an entry without the fields shows none of them


def test_model_page_names_the_size_its_training_tokens_belong_to():
    from transformer_catalog.catalog.pagefacts import model_facts
    from transformer_catalog.catalog.query import fact

    e = load_catalog().find("Llama 3.2")
    assert fact(e, "training_tokens", "variant") == "3B"
    (row,) = [f for f in model_facts(e) if f.label == "Training tokens"]
    assert row.text.startswith("9T tokens for 3B"), row.text
