"""The catalog's pictures (pictures.py, charts.py): generated from the data, one mark per entry
that records the field, every family in the legend, legends inside the picture, tree edges drawn
over the boxes with ids for path tracing, graceful when no entry carries a field, escaped."""

import copy
import math
import re
import xml.etree.ElementTree as ET

import pytest

from transformer_catalog.catalog import charts
from transformer_catalog.catalog.chartkit import CHAR_W, color, family_colors
from transformer_catalog.catalog.charts import (
    catalog_pictures,
    compute_svg,
    context_svg,
    open_weights_svg,
    tokens_svg,
    weights_status,
)
from transformer_catalog.catalog.load import Catalog, Record, load_catalog
from transformer_catalog.catalog.pictures import family_tree_svg, sizes_svg, timeline_svg

NS = {"s": "http://www.w3.org/2000/svg"}
NEW = ("context_length", "training_tokens", "training_compute", "open_weights", "hardware", "modalities", "hybrid")


@pytest.fixture(scope="module")
def shipped():
    return load_catalog()


def _bare(catalog) -> list[dict]:
    """The shipped entries without the newer fields (whose filling is in progress elsewhere)."""
    out = []
    for e in catalog.entries:
        d = copy.deepcopy(e.to_dict())
        for k in NEW:
            d.pop(k, None)
        out.append(d)
    return out


def _catalog(catalog, entries: list[dict]) -> Catalog:
    return Catalog(entries=[Record(d) for d in entries], lineage=list(catalog.lineage), files={})


@pytest.fixture(scope="module")
def filled(shipped):
    """Every third sized entry gets tokens and compute, decoders a context length, every fifth an
    open_weights flag: known values, so positions and counts can be checked against them."""
    entries = _bare(shipped)
    for i, d in enumerate(entries):
        n = max((s["params"] or 0) for s in d["sizes"])
        if n and i % 3 == 0:
            d["training_tokens"] = {"tokens": n * (i % 50 + 1), "source": "https://example.org/t"}
            d["training_compute"] = {
                "flop": 6.0 * n * n * (i % 50 + 1),
                "method": "estimated-6ND" if i % 2 else "reported",
                "confidence": "medium",
            }
        if d["architecture"] == "decoder":
            d["context_length"] = {"tokens": 2 ** (9 + i % 12), "source": "https://example.org/c"}
        if i % 5 == 0:
            d["open_weights"] = {"open": i % 10 == 0, "source": "https://example.org/w"}
    return _catalog(shipped, entries)


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def _marks(root) -> list[ET.Element]:
    return root.findall(".//s:g[@class='mark']", NS)


def _name(mark) -> str:
    """The model a mark stands for: its hover title reads "NAME (DATE) ..." or "NAME (YEAR) ..."."""
    return re.match(r"(.*?) \((\d{4}(-\d\d)?)\)", mark.find("s:title", NS).text).group(1)


def _mark_names(root) -> list[str]:
    return [_name(m) for m in _marks(root)]


# -- one mark per entry with the field, placed by its value ---------------------------------------------


@pytest.mark.parametrize(
    "draw,has",
    [
        (compute_svg, lambda e: e.get("training_compute")),
        (tokens_svg, lambda e: e.get("training_tokens") and any(s["params"] for s in e["sizes"])),
        (context_svg, lambda e: e.get("context_length")),
    ],
)
def test_a_mark_for_each_entry_that_records_the_field(filled, draw, has):
    root = _parse(draw(filled.entries))
    expected = sorted(e.name for e in filled.entries if has(e.to_dict()))
    assert expected and sorted(_mark_names(root)) == expected
    note = root.findall("s:text", NS)[1].text
    assert note.startswith(f"{len(expected)} of {len(filled.entries)} entries record")


def _centre(mark) -> tuple[float, float]:
    c = mark.find("s:circle", NS)
    return float(c.get("cx")), float(c.get("cy"))


def test_compute_is_placed_on_a_log_scale_by_its_value(filled):
    root = _parse(compute_svg(filled.entries))
    flop = {e.name: e.training_compute.flop for e in filled.entries if getattr(e, "training_compute", None)}
    ys = {name: _centre(m)[1] for name, m in zip(_mark_names(root), _marks(root))}
    a, b = min(flop, key=flop.get), max(flop, key=flop.get)
    decades = math.log10(flop[b]) - math.log10(flop[a])
    y_axis = charts.LogAxis(list(flop.values()))
    assert ys[a] - ys[b] == pytest.approx(decades / (y_axis.hi - y_axis.lo) * charts.PLOT_H, abs=0.2)
    methods = {m.get("data-series") for m in _marks(root)}
    assert methods == {"reported", "estimated-6ND"}
    unrecorded = [Record(copy.deepcopy(filled.entries[0].to_dict()) | {"training_compute": {"flop": 1e22}})]
    assert _parse(compute_svg(unrecorded)).find(".//s:g[@class='mark']", NS).get("data-series") == "other"


def test_tokens_chart_has_the_chinchilla_line_at_twenty_tokens_per_parameter(shipped):
    entries = _bare(shipped)[:3]
    n0 = 7e9
    for d, (n, tokens) in zip(entries, [(n0, 20 * n0), (1e8, 1e12), (7e10, 1.4e12)]):
        d["sizes"] = [{"variant": "x", "params": int(n), "source": "https://example.org"}]
        d["training_tokens"] = {"tokens": int(tokens), "source": "https://example.org"}
    root = _parse(tokens_svg(_catalog(shipped, entries).entries))
    line = root.find(".//s:g[@class='reference']/s:polyline", NS)
    (x1, y1), (x2, y2) = [tuple(map(float, p.split(","))) for p in line.get("points").split()]

    def distance(point):  # from the line through both ends, in pixels
        cross = (point[1] - y1) * (x2 - x1) - (y2 - y1) * (point[0] - x1)
        return abs(cross) / math.hypot(x2 - x1, y2 - y1)

    names = _mark_names(root)
    assert distance(_centre(_marks(root)[names.index(entries[0]["name"])])) < 0.5  # D = 20 N exactly
    assert distance(_centre(_marks(root)[names.index(entries[1]["name"])])) > 50  # 10,000 tokens per parameter
    assert "Chinchilla-optimal: D = 20 N" in "".join(root.itertext())


def test_tokens_are_plotted_against_the_size_they_were_counted_for(shipped):
    """A multi-size entry whose tokens belong to its smaller size (Llama 3.2's 9T are the 1B/3B
    models', not 90B-Vision's) is placed at that size's N; without a variant, at the largest."""
    entries = _bare(shipped)[:3]
    two_sizes = [
        {"variant": "small", "params": 7_000_000_000, "source": "https://example.org"},
        {"variant": "large", "params": 70_000_000_000, "source": "https://example.org"},
    ]
    for d, variant in zip(entries, ["small", None, "large"]):
        d["sizes"] = copy.deepcopy(two_sizes)
        d["training_tokens"] = {"tokens": 20 * (7_000_000_000 if variant == "small" else 70_000_000_000)}
        d["training_tokens"] |= {"source": "https://example.org"} | ({"variant": variant} if variant else {})
    entries[1]["training_tokens"]["tokens"] = 20 * 70_000_000_000  # no variant: the largest size's
    root = _parse(tokens_svg(_catalog(shipped, entries).entries))
    line = root.find(".//s:g[@class='reference']/s:polyline", NS)
    (x1, y1), (x2, y2) = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
    names, marks = _mark_names(root), _marks(root)
    centres = {name: _centre(m) for name, m in zip(names, marks)}
    for d in entries:  # each at D = 20 N of its own size: on the line
        px, py = centres[d["name"]]
        assert abs((py - y1) * (x2 - x1) - (y2 - y1) * (px - x1)) / math.hypot(x2 - x1, y2 - y1) < 0.5, d["name"]
    # the small-size point sits a decade below the large one in N
    assert centres[entries[0]["name"]][1] > centres[entries[2]["name"]][1] + 50
    hover = marks[names.index(entries[0]["name"])].find("s:title", NS).text
    assert "7B parameters (small), 140B tokens" in hover


def test_open_weights_counts_per_year_follow_the_flag_then_the_licence(filled):
    root = _parse(open_weights_svg(filled.entries))
    bars = root.findall(".//s:g[@class='bar']", NS)
    got = {(b.get("data-year"), b.get("data-status")): int(b.get("data-count")) for b in bars}
    expected = {}
    for e in filled.entries:
        d = e.to_dict()
        if "open_weights" in d:
            status = "open" if d["open_weights"]["open"] else "closed"
        else:
            cat = d["license"]["category"]
            status = (
                "open"
                if cat in ("open", "open-restricted", "non-commercial")
                else "closed"
                if cat in ("api", "closed", "code-only")
                else "unknown"
            )
        key = (e.date[:4], status)
        expected[key] = expected.get(key, 0) + 1
    assert got == expected and sum(got.values()) == len(filled.entries)


@pytest.mark.parametrize(
    "fields,status",
    [
        ({"license": {"category": "api"}, "open_weights": {"open": True}}, "open"),  # the flag wins
        ({"license": {"category": "open"}, "open_weights": {"open": False}}, "closed"),
        ({"license": {"category": "non-commercial"}}, "open"),
        ({"license": {"category": "code-only"}}, "closed"),
        ({"license": {"category": "unknown"}}, "unknown"),
    ],
)
def test_weights_status(fields, status):
    assert weights_status(Record(fields)) == status


def test_charts_say_so_when_no_entry_records_the_field(shipped):
    bare = _catalog(shipped, _bare(shipped))
    for draw in (compute_svg, tokens_svg, context_svg):
        root = _parse(draw(bare.entries))
        assert not _marks(root) and root.find(".//s:text[@class='empty']", NS).text.startswith("No entry records")
    one = _bare(shipped)[:1]
    one[0]["context_length"] = {"tokens": 4096, "source": "https://example.org"}
    root = _parse(context_svg(_catalog(shipped, one).entries))  # one point: axes still span a range
    assert _mark_names(root) == [one[0]["name"]]
    assert root.find(".//s:text[@class='empty']", NS) is None


# -- legends, sizes, escaping ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tree", "timeline", "sizes"])
def test_the_legend_lists_every_family_in_distinct_colours(shipped, name):
    svg = catalog_pictures(shipped)[name][1]
    root = _parse(svg)
    items = root.findall(".//s:g[@class='legend']/s:g", NS)
    labels = [i.find("s:text", NS).text for i in items]
    entries = shipped.entries if name != "sizes" else [e for e in shipped.entries if e.max_params]
    assert sorted(labels) == sorted({e.family for e in entries})
    colours = [i.find("s:rect", NS).get("fill") for i in items]
    assert len(set(colours)) == len(colours)


def test_colours_never_repeat_past_the_palette():
    assert len({color(i) for i in range(200)}) == 200
    fams = [Record({"family": f"F{i}"}) for i in range(60)]
    assert len(set(family_colors(fams).values())) == 60


def test_every_picture_scales_and_keeps_its_legend_inside(filled):
    for name, (_title, svg) in catalog_pictures(filled).items():
        root = _parse(svg)
        _, _, w, h = map(float, root.get("viewBox").split())
        assert (root.get("width"), root.get("height")) == (f"{w:.0f}", f"{h:.0f}"), name
        for text in root.findall(".//s:g[@class='legend']//s:text", NS):
            x, y = float(text.get("x")), float(text.get("y"))
            assert 0 <= x and x + CHAR_W * len(text.text) <= w and 0 < y <= h, (name, text.text)


def test_tree_edges_are_drawn_over_the_boxes_and_carry_ids(shipped):
    svg = family_tree_svg(shipped, link_prefix="models/", root_prefix="lineage/")
    assert svg.rindex('class="node"') < svg.index('class="edges"') < svg.index('pointer-events="none">GPT')
    root = _parse(svg)
    names = {n.get("data-node"): _name(n) for n in root.findall(".//s:g[@class='node']", NS)}
    edges = {(names[p.get("data-from")], names[p.get("data-to")]) for p in root.findall(".//s:path[@class='edge']", NS)}
    expected = {
        (shipped.find(p).name if shipped.find(p) else p, e.name) for e in shipped.entries for p in e.derived_from
    }
    expected |= {(r.name, n) for r in shipped.lineage for n in r.leads_to}
    assert edges == expected
    assert 'href="lineage/rnn.html"' in svg and 'href="models/gpt-2.html"' in svg


def test_hostile_strings_are_escaped_in_every_picture(filled, shipped):
    entries = [copy.deepcopy(e.to_dict()) for e in filled.entries]
    for d in entries[:5]:
        d["name"] = d["name"] + '<script>alert(1)</script>"&'
        d["family"] = "<b>fam</b>"
    hostile = _catalog(shipped, entries)
    for name, (_, svg) in catalog_pictures(hostile, link_prefix="models/").items():
        assert "<script>" not in svg and "<b>" not in svg, name
        _parse(svg)
        for url in re.findall(r'href="([^"]*)"', svg):
            assert url.startswith(("models/", "lineage/")), url


def test_pictures_are_deterministic_and_cover_all_views(shipped):
    first, second = catalog_pictures(shipped), catalog_pictures(shipped)
    assert list(first) == ["tree", "timeline", "sizes", "compute", "tokens", "context", "open-weights"]
    assert first == second
    assert first["timeline"][1] == timeline_svg(shipped.entries) and first["sizes"][1] == sizes_svg(shipped.entries)


def test_a_parent_named_by_its_alias_gets_its_edge(shipped):
    entries = _bare(shipped)
    parent = next(d for d in entries if d["aliases"])
    child = copy.deepcopy(entries[-1]) | {"name": "Child Model", "aliases": [], "derived_from": [parent["aliases"][0]]}
    svg = family_tree_svg(_catalog(shipped, entries + [child]))
    root = _parse(svg)
    names = {n.get("data-node"): _name(n) for n in root.findall(".//s:g[@class='node']", NS)}
    edges = {(names[p.get("data-from")], names[p.get("data-to")]) for p in root.findall(".//s:path[@class='edge']", NS)}
    assert (parent["name"], "Child Model") in edges and parent["aliases"][0] not in names.values()
