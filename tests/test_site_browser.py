"""The static site in a real browser: headless Debian Chromium driven by Selenium."""

import shutil
import threading
from pathlib import Path

import pytest

from transformer_catalog.catalog.load import LINEAGE, MODELS, load_catalog, slug
from transformer_catalog.catalog.query import select
from transformer_catalog.catalog.site import build_site, make_server

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
if not (CHROMIUM.exists() and DRIVER.exists()):
    pytest.skip(
        "Debian chromium and chromium-driver are not installed (make test installs them)", allow_module_level=True
    )
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(DRIVER)), options=opts)
    yield driver
    driver.quit()


def _serve(folder: Path):
    server = make_server(folder, 0)  # the server `tcat site serve` runs: the browser sees what users see
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def shown():
    """The catalog the site is built from, loaded once: expectations come from the same data."""
    return load_catalog()


@pytest.fixture(scope="module")
def site(tmp_path_factory, shown):
    out = build_site(shown, tmp_path_factory.mktemp("site") / "site")
    server, url = _serve(out)
    yield url
    server.shutdown()


def visible_rows(browser):
    return [r for r in browser.find_elements(By.CSS_SELECTOR, "#models tbody tr") if r.is_displayed()]


def test_filtering_by_family_changes_the_row_count(browser, site, shown):
    cat = shown
    browser.get(site + "/index.html")
    assert len(visible_rows(browser)) == len(cat.entries)
    Select(browser.find_element(By.ID, "family")).select_by_value("BERT")
    expected = sum(1 for e in cat.entries if e.family == "BERT")
    assert len(visible_rows(browser)) == expected
    assert browser.find_element(By.ID, "count").text == f"{expected} of {len(cat.entries)} models"
    Select(browser.find_element(By.ID, "arch")).select_by_value("decoder")
    assert len(visible_rows(browser)) == 0  # no BERT-family decoder


def test_search_matches_the_cli_search(browser, site, shown):
    browser.get(site + "/index.html?q=retrieval")
    rows = sorted(r.find_element(By.TAG_NAME, "a").text for r in visible_rows(browser))
    assert rows == sorted(e.name for e in select(shown, search="retrieval"))


def test_sorting_by_parameters(browser, site, shown):
    browser.get(site + "/index.html")
    header = browser.find_elements(By.CSS_SELECTOR, "#models thead th")[5]
    header.click()
    header.click()  # descending
    first = visible_rows(browser)[0].find_element(By.TAG_NAME, "a").text
    biggest = max(shown.entries, key=lambda e: e.max_params or 0)
    assert first == biggest.name


def test_a_model_page_opens_from_the_table(browser, site):
    browser.get(site + "/index.html")
    browser.find_element(By.LINK_TEXT, "ALBERT").click()
    assert browser.current_url.endswith("/models/albert.html")
    assert browser.find_element(By.TAG_NAME, "h1").text == "ALBERT"
    assert "SOP" in browser.find_element(By.TAG_NAME, "dl").text
    browser.find_element(By.LINK_TEXT, "BERT").click()  # lineage links between pages
    assert browser.find_element(By.TAG_NAME, "h1").text == "BERT"


def test_pictures_pages_render_with_hover_titles(browser, site):
    for page in ("tree", "timeline", "sizes"):
        browser.get(f"{site}/{page}.html")
        titles = browser.find_elements(By.CSS_SELECTOR, "svg g > title")
        assert len(titles) >= 100, page


def test_catalog_strings_are_escaped(browser, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for name in ("transformer", "bert"):
        shutil.copy(MODELS / f"{name}.yaml", models)
    payload = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
    bert = models / "bert.yaml"
    bert.write_text(bert.read_text().replace("corpus: ", f"corpus: '{payload} ", 1).replace("words)\n", "words)'\n", 1))
    out = build_site(load_catalog(models, LINEAGE), tmp_path / "site")
    server, url = _serve(out)
    try:
        for page in ("/index.html", f"/models/{slug('BERT')}.html"):
            browser.get(url + page)
            assert browser.execute_script("return window.__xss") is None
        assert payload in browser.find_element(By.TAG_NAME, "dl").text  # shown as text
        assert not browser.find_elements(By.CSS_SELECTOR, "dl img")
    finally:
        server.shutdown()


# -- issue 19: charts fit 1280 px with their legends, tooltips, the tree's traced path ---------------------

PICTURE_PAGES = ("tree.html", "timeline.html", "sizes.html", "charts.html")


@pytest.fixture
def at_1280(browser):
    browser.set_window_size(1280, 900)
    yield browser
    browser.set_window_size(1400, 1000)


def _rect(browser, el):
    return browser.execute_script(
        "var r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]", el
    )


@pytest.mark.parametrize("window", [1280, 900])
@pytest.mark.parametrize("page", PICTURE_PAGES)
def test_each_chart_and_its_legend_fit_the_window(at_1280, site, shown, page, window):
    browser = at_1280
    browser.set_window_size(window, 900)
    browser.get(f"{site}/{page}")
    width = browser.execute_script("return document.documentElement.clientWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width  # no sideways scroll
    charts = browser.find_elements(By.CSS_SELECTOR, ".chart svg")
    assert len(charts) == (4 if page == "charts.html" else 1)
    for svg in charts:
        left, _, right, _ = _rect(browser, svg)
        assert 0 <= left and right <= width, page
        legend = svg.find_element(By.CSS_SELECTOR, "g.legend")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", legend)
        left, top, right, bottom = _rect(browser, legend)
        assert 0 <= left and right <= width and 0 <= top and bottom <= browser.execute_script("return innerHeight")
        assert legend.is_displayed() and legend.find_elements(By.CSS_SELECTOR, "g.legend-item")
    families = {e.family for e in shown.entries}
    if page in ("tree.html", "timeline.html"):
        shown = [t.text for t in charts[0].find_elements(By.CSS_SELECTOR, "g.legend text") if t.text]
        assert len(shown) == len(families) and set(shown) == families  # every family, each visible


def test_hovering_a_chart_mark_shows_its_tooltip(at_1280, site):
    browser = at_1280
    browser.get(f"{site}/timeline.html")
    mark = browser.find_elements(By.CSS_SELECTOR, ".chart svg g.mark")[0]
    ActionChains(browser).move_to_element(mark.find_element(By.TAG_NAME, "circle")).perform()
    tip = browser.find_element(By.ID, "tip")
    title = browser.execute_script("return arguments[0].querySelector('title').textContent", mark)
    assert tip.is_displayed() and tip.text == title


def _ancestor_edges(cat, name: str) -> set[str]:
    """'parent → child' for every edge on the way from `name` up to the roots, from the catalog."""
    parents = {e.name: [cat.find(p).name if cat.find(p) else p for p in e.derived_from] for e in cat.entries}
    for r in cat.lineage:
        for nxt in r.leads_to:
            parents.setdefault(nxt, []).append(r.name)
    out, todo, seen = set(), [name], set()
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        for p in parents.get(n, []):
            out.add(f"{p} → {n}")
            todo.append(p)
    return out


def test_hovering_a_tree_node_highlights_its_path_to_the_roots(at_1280, site, shown):
    browser = at_1280
    browser.get(f"{site}/tree.html")
    node = next(
        g
        for g in browser.find_elements(By.CSS_SELECTOR, "svg.tree g.node")
        if browser.execute_script("return arguments[0].querySelector('title').textContent", g).startswith("GPT-2 (")
    )
    ActionChains(browser).move_to_element(node.find_element(By.TAG_NAME, "rect")).perform()
    lit = browser.find_elements(By.CSS_SELECTOR, "svg.tree path.edge.hl")
    names = {browser.execute_script("return arguments[0].querySelector('title').textContent", e) for e in lit}
    expected = _ancestor_edges(shown, "GPT-2")
    assert names == expected and {"GPT → GPT-2", "Perceptron → MLP"} <= names
    stroke = browser.execute_script("return getComputedStyle(arguments[0]).stroke", lit[0])
    assert stroke == "rgb(214, 39, 40)"
    other = browser.find_element(By.CSS_SELECTOR, "svg.tree path.edge:not(.hl)")
    assert float(browser.execute_script("return getComputedStyle(arguments[0]).strokeOpacity", other)) < 0.2
    ActionChains(browser).move_to_element(browser.find_element(By.TAG_NAME, "h1")).perform()
    assert not browser.find_elements(By.CSS_SELECTOR, "svg.tree .hl")  # cleared when the pointer leaves


def test_the_tree_zooms_to_actual_size_and_back(at_1280, site):
    browser = at_1280
    browser.get(f"{site}/tree.html")
    svg = browser.find_element(By.CSS_SELECTOR, "svg.tree")
    natural = float(svg.get_attribute("width"))
    fit = _rect(browser, svg)
    browser.find_element(By.ID, "zoom").click()
    left, _, right, _ = _rect(browser, svg)
    assert right - left == pytest.approx(natural, abs=1) and fit[2] - fit[0] < natural
    browser.find_element(By.ID, "zoom").click()
    assert _rect(browser, svg) == fit


def test_the_date_column_does_not_wrap(at_1280, site):
    browser = at_1280
    browser.get(site + "/index.html")
    lines = browser.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#models td.date'), function (td) {"
        " var r = document.createRange(); r.selectNodeContents(td); return r.getClientRects().length; })"
    )
    assert lines and set(lines) == {1}


def test_a_lineage_page_opens_from_the_tree_and_the_list(browser, site):
    browser.get(site + "/lineage.html")
    browser.find_element(By.LINK_TEXT, "LSTM").click()
    assert browser.current_url.endswith("/lineage/lstm.html")
    assert browser.find_element(By.TAG_NAME, "h1").text == "LSTM (1997)"
    browser.find_element(By.LINK_TEXT, "Transformer").click()  # the root leads to the catalog's entry
    assert browser.current_url.endswith("/models/transformer.html")
    browser.get(site + "/tree.html")
    box = browser.find_element(By.CSS_SELECTOR, "svg.tree a[href='lineage/rnn.html'] rect")
    ActionChains(browser).move_to_element(box).click().perform()
    assert browser.current_url.endswith("/lineage/rnn.html")
    assert browser.find_element(By.TAG_NAME, "h1").text == "RNN (1990)"
