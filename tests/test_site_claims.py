"""The site's claims page: every shipped experiment result, escaped, with its figures beside it."""

import json

from transformer_catalog.catalog.load import load_catalog
from transformer_catalog.catalog.site import build_site
from transformer_catalog.experiments import registry, shipped_results


def test_every_registered_experiment_ships_a_measured_result_that_holds():
    shipped = {r["name"]: r for r, _ in shipped_results()}
    assert set(shipped) == set(registry())
    for name, r in shipped.items():
        assert r["setting"] == "full" and r["claim_holds"] and r["control_fails"], name


def test_claims_page_shows_each_result_and_its_figures(tmp_path):
    claims = shipped_results()
    out = build_site(load_catalog(), tmp_path / "site", claims=claims)
    page = (out / "claims.html").read_text()
    for results, figures in claims:
        assert f"<h2>{results['name']}: demonstrated</h2>" in page
        for name, data in figures.items():
            assert f'src="claims/{results["name"]}/{name}"' in page
            assert (out / "claims" / results["name"] / name).read_bytes() == data
    assert 'href="claims.html"' in (out / "index.html").read_text()  # in the navigation


def test_claim_text_is_escaped(tmp_path):
    results, figures = shipped_results()[0]
    hostile = json.loads(json.dumps(results)) | {"claim": "<script>alert(1)</script>", "name": "x"}
    out = build_site(load_catalog(), tmp_path / "site", claims=[(hostile, {})])
    page = (out / "claims.html").read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
