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
