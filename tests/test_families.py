"""The family registry: one Family record per family file, one registry by name and by Hugging Face
model_type, and interop/ looking down at families/ (never the reverse)."""

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import transformer_catalog.families as families
from transformer_catalog.errors import TcatError
from transformer_catalog.families import FAMILIES, Family, family, family_for_hf, get_config, hf_model_types

PKG = Path(families.__file__).parent


def test_every_family_file_has_one_record_and_the_registry_holds_them_all():
    modules = [m.name for m in pkgutil.iter_modules([str(PKG)]) if not m.name.startswith("_")]
    records = [importlib.import_module(f"transformer_catalog.families.{m}").FAMILY for m in modules]
    assert all(isinstance(r, Family) for r in records)
    assert {r.name for r in records} == {f.name for f in FAMILIES} and len(FAMILIES) == len(modules)
    # the two registries of before disagreed on these three
    assert {"clip", "switch", "transformer"} <= {f.name for f in FAMILIES}


def test_lookup_by_name_and_by_hf_model_type():
    assert family("llama") is family_for_hf("mistral") is family_for_hf("mixtral")
    assert family_for_hf("switch_transformers") is family("switch") and family_for_hf("clip") is family("clip")
    assert "roberta" in hf_model_types() and family("transformer").hf_model_types == ()
    with pytest.raises(TcatError, match="unsupported Hugging Face architecture 'mamba'"):
        family_for_hf("mamba")
    with pytest.raises(TcatError, match="unknown family 'lama'"):
        family("lama")


def test_optional_hooks_are_fields_not_attributes():
    assert family("transformer").make_config is not None and family("gpt2").make_config is None
    assert family("llama").pack is not None and family("gpt2").pack is None
    assert family("clip").build is not None and family("clip").head_count(None) == 0
    assert get_config("transformer-tiny").arch == "encoder-decoder" and get_config("gpt2-6x256").arch == "decoder"


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            out.add((node.module or "").split(".")[0])
    return out


def test_families_never_import_interop():
    for path in PKG.glob("*.py"):
        assert "interop" not in _imports(path), path.name


def test_catalog_specs_name_a_layout_from_the_registry_and_the_old_name_is_refused():
    from pydantic import ValidationError

    from transformer_catalog.catalog.load import load_catalog
    from transformer_catalog.catalog.schema import Spec

    specs = [e.spec.to_dict() for e in load_catalog().entries if e.spec]
    names = {f.name for f in FAMILIES} | {"config"}
    assert specs and all(s["layout"] in names for s in specs)
    data = Path(families.__file__).parent.parent / "catalog" / "data" / "models"
    assert not any(line.startswith("  family:") for f in data.glob("*.yaml") for line in f.read_text().splitlines())
    assert all("family" not in s for s in specs)  # the old name is neither read nor dumped
    with pytest.raises(ValidationError, match="family"):  # `family:` is no longer an alias of `layout:`
        Spec(family="llama", counting="x")
    with pytest.raises(ValidationError, match="family"):
        Spec(layout="llama", family="llama", counting="x")


def test_published_sizes_are_stated_once_in_the_catalog():
    """Families hold no published size: the short names (gpt2-medium, llama-7b, bert-base) resolve to
    the catalog's variants, so a size corrected in the catalog is corrected everywhere."""
    from transformer_catalog.catalog.specs import PUBLISHED_NAMES, resolve
    from transformer_catalog.families import FAMILIES

    assert not {n for fam in FAMILIES for n in fam.configs} & set(PUBLISHED_NAMES)
    for short, target in PUBLISHED_NAMES.items():
        got, want = resolve(short), resolve(target)
        assert got.config == want.config and got.entry.name == want.entry.name and got.label == short
    assert resolve("gpt2-medium").config.n_decoder_layers == 24
