"""Architecture changes derived from built configs (catalog/changes.py): known answers on shipped
specs, derivation that follows the config's fields, the adoption timeline on a hand-built set, the
config cache, `tcat changes` / `tcat diff` and their bad input, and the site page's escaping."""

import subprocess
import sys

import pytest

from transformer_catalog.catalog.changes import (
    EntryChanges,
    Use,
    adoption,
    built_configs,
    derive,
    entry_changes,
    render_html,
)
from transformer_catalog.catalog.load import load_catalog
from transformer_catalog.cli import main
from transformer_catalog.nn.config import ModelConfig


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private cache folder, filled once for the module (building every spec's config)."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TCAT_CACHE", str(folder))
        built_configs(load_catalog())
    return folder


@pytest.fixture(scope="module")
def rows(cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TCAT_CACHE", str(cache))
        return {r.name: r for r in entry_changes(load_catalog())}


def changes_of(row, variant=None) -> dict[str, str]:
    """{change: detail} of the group holding `variant` (the only group by default)."""
    groups = [g for g in row.groups if variant is None or variant in g[0]]
    assert len(groups) == 1, row.groups
    return {u.change: u.detail for u in groups[0][1]}


@pytest.mark.parametrize(
    "name, variant, present, absent",
    [
        ("GPT-2", None, ["decoder-only", "pre-norm", "LayerNorm", "learned absolute", "GELU", "multi-head",
                         "all biases", "tied output embedding"], ["RMSNorm", "post-norm", "RoPE"]),
        ("LLaMA", None, ["pre-norm", "RMSNorm", "RoPE", "SwiGLU", "multi-head", "no biases"],
         ["LayerNorm", "tied output embedding", "grouped-query"]),
        ("Llama 2", "70B", ["grouped-query"], ["multi-head"]),
        ("Llama 2", "7B", ["multi-head"], ["grouped-query"]),
        ("Mistral 7B", None, ["sliding window", "grouped-query"], ["local/global layers"]),
        ("Mixtral 8x7B", None, ["mixture of experts", "SwiGLU"], []),
        ("GPT-J", None, ["parallel attention + FFN", "RoPE", "partial rotary"], []),
        ("T5", "small", ["relative bias (bucketed)", "RMSNorm", "pre-norm", "ReLU"], ["decoupled head size"]),
        ("BLOOM", None, ["ALiBi", "embedding norm"], ["RoPE", "learned absolute"]),
        ("ALBERT", None, ["shared layers", "factorised embedding", "post-norm", "encoder-only"], []),
        ("ViT", None, ["encoder-only", "image patches", "learned absolute"], ["no positions"]),
        ("Transformer", None, ["post-norm", "sinusoidal", "ReLU", "encoder-decoder", "embedding × √d_model"], []),
    ],
)  # fmt: skip
def test_known_answers_on_shipped_specs(rows, name, variant, present, absent):
    got = changes_of(rows[name], variant)
    assert set(present) <= set(got), (name, got)
    assert not set(absent) & set(got), (name, got)


def test_particulars_are_read_from_the_config(rows):
    assert changes_of(rows["Llama 2"], "70B")["grouped-query"] == "8 key/value heads, 8 queries each"
    assert changes_of(rows["Mixtral 8x7B"])["mixture of experts"] == "8 experts, top-2"
    assert changes_of(rows["Mistral 7B"])["sliding window"] == "4096 tokens"
    assert changes_of(rows["GPT-J"])["partial rotary"] == "0.25 of each head"


def test_sizes_group_by_the_changes_they_use(rows):
    assert [g[0] for g in rows["Llama 2"].groups] == [["7B", "13B"], ["70B"]]
    # T5 3B and 11B both decouple the head size (different head counts): one group, both particulars
    (three,) = [g for g in rows["T5"].groups if "3B" in g[0]]
    assert three[0] == ["3B", "11B"]
    detail = {u.change: u.detail for u in three[1]}["decoupled head size"]
    assert "32 × 128" in detail and "128 × 128" in detail
    assert ("attention", "grouped-query") in rows["Llama 2"].keys  # an entry uses what any size uses


BASE = ModelConfig()  # the paper's Transformer: post-norm, sinusoidal, ReLU, multi-head, all biases


@pytest.mark.parametrize(
    "fields, gained, lost",
    [
        ({"norm.placement": "pre", "norm.final": True}, "pre-norm", "post-norm"),
        ({"norm.kind": "rmsnorm", "norm.bias": False}, "RMSNorm", "LayerNorm"),
        ({"position.kind": "rope"}, "RoPE", "sinusoidal"),
        ({"position.kind": "alibi"}, "ALiBi", "sinusoidal"),
        ({"position.kind": "rope", "position.rope_scaling": "linear"}, "RoPE scaling", None),
        ({"ffn.gated": True, "ffn.activation": "silu"}, "SwiGLU", "ReLU"),
        ({"ffn.gated": True, "ffn.activation": "gelu"}, "GEGLU", "ReLU"),
        ({"ffn.activation": "relu2"}, "squared ReLU", "ReLU"),
        ({"attention.n_kv_heads": 1}, "multi-query", "multi-head"),
        ({"attention.n_kv_heads": 2}, "grouped-query", "multi-head"),
        ({"attention.head_dim": 128}, "decoupled head size", None),
        ({"attention.window": 256}, "sliding window", None),
        ({"attention.window": 256, "attention.window_pattern": "LG"}, "local/global layers", None),
        ({"attention.qkv_bias": False, "attention.out_bias": False, "ffn.bias": False}, "no biases", "all biases"),
        ({"attention.out_bias": False, "ffn.bias": False}, "QKV bias only", "all biases"),
        ({"share_layers": True}, "shared layers", None),
        ({"embedding.tie_output": False}, None, "tied output embedding"),
        ({"embedding.scale": False}, None, "embedding × √d_model"),
        ({"arch": "decoder"}, "decoder-only", "encoder-decoder"),
    ],
)  # fmt: skip
def test_a_changed_field_changes_the_derived_change(fields, gained, lost):
    before = {u.change for u in derive(BASE)}
    after = {u.change for u in derive(BASE.replace(**fields))}
    if gained:
        assert gained in after and gained not in before
    if lost:
        assert lost in before and lost not in after


def test_parallel_block_and_experts_from_the_config():
    cfg = BASE.replace(**{"arch": "decoder", "norm.placement": "pre", "norm.final": True, "parallel_residual": True})
    assert Use("block", "parallel attention + FFN") in derive(cfg)
    moe = ModelConfig.from_dict({**BASE.to_dict(), "moe": {"n_experts": 16, "top_k": 1, "pattern": "DE"}})
    (use,) = [u for u in derive(moe) if u.category == "experts"]
    assert use.detail == "16 experts, top-1, layers DE (E experts, D dense)"


def _row(name, date, *changes):
    return EntryChanges(name, date, [(["v"], [Use("c", ch) for ch in changes])])


def test_adoption_first_year_and_majority_on_a_hand_built_set():
    rows = [
        _row("A", "2018-01", "x"),
        _row("B", "2019-03", "x", "y"),
        _row("C", "2019-05", "z"),
        _row("D", "2020-01", "y"),
        _row("E", "2020-02", "y"),
        _row("F", "2020-03", "x"),
    ]
    ads = {a.change: a for a in adoption(rows)}
    assert ads["y"].first == ("2019-03", "B")
    assert ads["y"].shares == {2018: (0, 1), 2019: (1, 2), 2020: (2, 3)}
    assert ads["y"].majority_year == 2020  # half of 2019 is not more than half
    assert ads["x"].first == ("2018-01", "A") and ads["x"].majority_year == 2018
    assert ads["z"].majority_year is None and ads["x"].entries == ["A", "B", "F"]


def test_damaged_cache_is_rebuilt(cache, monkeypatch, tmp_path):
    monkeypatch.setenv("TCAT_CACHE", str(tmp_path))
    cat = load_catalog()
    first = built_configs(cat)
    (path,) = tmp_path.glob("configs-*.json")
    path.write_text(path.read_text().replace("pre", "post", 1))  # no longer matches its digest
    assert built_configs(cat) == first


@pytest.mark.parametrize("name", ["changes.py", "config.py", "specs.py"])
def test_config_cache_key_follows_the_code_that_builds_and_flattens_configs(monkeypatch, name):
    """flat_config (changes.py) shapes every cached config: editing it must invalidate the cache."""
    from transformer_catalog.catalog import changes

    before = changes._code_digest()
    real = changes._read_code
    monkeypatch.setattr(changes, "_read_code", lambda p: real(p) + (b"# edited" if p.name == name else b""))
    assert changes._code_digest() != before
    assert name in {p.name for p in changes._code_files()}


# -- the commands ------------------------------------------------------------------------------------


@pytest.fixture
def tcat(cache, monkeypatch, capsys):
    monkeypatch.setenv("TCAT_CACHE", str(cache))
    monkeypatch.setenv("COLUMNS", "200")

    def run(*argv):
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_changes_command_shows_taxonomy_and_timeline(tcat):
    code, out, _ = tcat("changes")
    assert code == 0
    ads = {a.change: a for a in adoption(list(entry_changes(load_catalog())))}
    for change in ("grouped-query", "mixture of experts", "RoPE", "pre-norm"):
        first = ads[change].first
        assert f"{first[0]} {first[1]}" in out, change  # its first appearance, as derived
    assert "most from" in out and str(ads["pre-norm"].majority_year) in out
    code, out, _ = tcat("changes", "--entries")
    assert code == 0 and "Mixtral 8x7B" in out and "8 experts, top-2" in out


def test_diff_shows_changes_and_fields(tcat):
    code, out, _ = tcat("diff", "GPT-2", "LLaMA:65B")
    assert code == 0
    assert "LLaMA 65B" in out and "GPT-2 small" in out
    for text in ("RMSNorm", "SwiGLU", "RoPE", "position.kind", "norm.kind", "ffn.gated"):
        assert text in out, text
    code, out, _ = tcat("diff", "Llama 2:7B", "Llama 2:70B")
    assert code == 0 and "grouped-query" in out and "attention.n_kv_heads" in out
    assert "norm.kind" not in out  # only what differs


def test_diff_against_the_parent_by_default(tcat):
    parent = next(p for p in load_catalog().get("Llama 2").derived_from)
    code, out, _ = tcat("diff", "Llama 2")
    assert code == 0 and parent in out


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["diff", "Lama", "GPT-2"], ["unknown model 'Lama'", "did you mean", "'Llama 2'"]),
        (["diff", "GPT-2", "AlexaTM 20B"], ["AlexaTM 20B has no architecture spec", "not stated"]),
        (["diff", "LLaMA:7B", "LLaMA:1T"], ["LLaMA has no variant '1T'", "choose from 7B"]),
        (["diff", "GPT-2", ":small"], ["expected NAME or NAME:VARIANT"]),
        (["diff", "GPT-2", "gpt2"], ["same model (GPT-2 small)"]),
        (["diff", "Transformer"], ["no parent with an architecture spec"]),
    ],
)
def test_diff_bad_input_is_one_line(tcat, argv, needles):
    code, out, err = tcat(*argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]


def test_warm_cache_commands_do_not_import_torch(cache):
    code = (
        "import sys; from transformer_catalog.cli import main\n"
        "for argv in (['changes'], ['diff', 'GPT-2', 'LLaMA'], ['changes', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    assert 'torch' not in sys.modules, f'{argv} imported torch'\n"
    )
    import os

    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "TCAT_CACHE": str(cache)}
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "imports torch" in res.stdout  # --help says when it does


# -- the site page -----------------------------------------------------------------------------------


def test_site_page_escapes_names_and_changes():
    from transformer_catalog.catalog.site import _env

    hostile = '<script>alert(1)</script>\x1b[31m"&'
    rows = [_row(hostile, "2020-01", "<b>x</b>"), _row("B", "2021-01", "<b>x</b>", "y")]
    html = render_html(_env(), rows)
    assert "<script>alert" not in html and "<b>x</b>" not in html and "\x1b" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert 'href="models/script-alert-1-script-31m.html"' in html  # the slug: letters, digits, dots, hyphens
    assert "<strong>100</strong>" in html  # x: 2 of 2 entries in... its years, shown as a majority


def test_site_page_from_the_catalog(rows, cache, monkeypatch):
    from transformer_catalog.catalog.changes import changes_page
    from transformer_catalog.catalog.site import _env

    monkeypatch.setenv("TCAT_CACHE", str(cache))
    html = changes_page(_env(), load_catalog())
    assert "grouped-query" in html and f"the {len(rows)} entries" in html
    assert '<a href="models/mixtral-8x7b.html">Mixtral 8x7B</a>' in html
