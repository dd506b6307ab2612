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
def site(tmp_path_factory):
    out = build_site(load_catalog(), tmp_path_factory.mktemp("site") / "site")
    server, url = _serve(out)
    yield url
    server.shutdown()


def visible_rows(browser):
    return [r for r in browser.find_elements(By.CSS_SELECTOR, "#models tbody tr") if r.is_displayed()]


def test_filtering_by_family_changes_the_row_count(browser, site):
    cat = load_catalog()
    browser.get(site + "/index.html")
    assert len(visible_rows(browser)) == len(cat.entries)
    Select(browser.find_element(By.ID, "family")).select_by_value("BERT")
    expected = sum(1 for e in cat.entries if e.family == "BERT")
    assert len(visible_rows(browser)) == expected
    assert browser.find_element(By.ID, "count").text == f"{expected} of {len(cat.entries)} models"
    Select(browser.find_element(By.ID, "arch")).select_by_value("decoder")
    assert len(visible_rows(browser)) == 0  # no BERT-family decoder


def test_search_matches_the_cli_search(browser, site):
    browser.get(site + "/index.html?q=retrieval")
    shown = sorted(r.find_element(By.TAG_NAME, "a").text for r in visible_rows(browser))
    assert shown == sorted(e.name for e in select(load_catalog(), search="retrieval"))


def test_sorting_by_parameters(browser, site):
    browser.get(site + "/index.html")
    header = browser.find_elements(By.CSS_SELECTOR, "#models thead th")[5]
    header.click()
    header.click()  # descending
    first = visible_rows(browser)[0].find_element(By.TAG_NAME, "a").text
    biggest = max(load_catalog().entries, key=lambda e: e.max_params or 0)
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
