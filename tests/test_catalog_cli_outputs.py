"""What the catalog's writing commands put on disk: every picture, and lineage pages that carry their experiments."""

from transformer_catalog.catalog.charts import catalog_pictures
from transformer_catalog.catalog.load import load_catalog
from transformer_catalog.cli import main
from transformer_catalog.experiments import registry, shipped_results


def test_tcat_pictures_writes_every_picture_including_the_trend_charts(tmp_path):
    out = tmp_path / "pics"
    assert main(["pictures", "--out", str(out)]) in (0, None)
    expected = set(catalog_pictures(load_catalog()))
    assert {"compute", "tokens", "context", "open-weights"} <= expected
    assert {p.stem for p in out.glob("*.svg")} == expected


def test_site_build_puts_each_lineage_experiment_on_its_roots_page(tmp_path):
    shipped = {results["name"] for results, _ in shipped_results()}
    rows = {name: e.lineage for name, e in registry().items() if getattr(e, "lineage", None) and name in shipped}
    assert rows, "no shipped experiment names a lineage root"
    assert main(["site", "build", str(tmp_path / "site")]) in (0, None)
    for name, root in rows.items():
        page = (tmp_path / "site" / "lineage" / f"{root.lower()}.html").read_text(encoding="utf-8")
        assert name in page, f"{name} missing from the {root} page"
