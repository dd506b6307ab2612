"""The package's layers (README, Architecture): a module imports only from its own package or from
packages in lower layers, so the CLI is on top and nn/ and data/ are at the bottom. Read from the
source with ast (no imports), so a new upward import fails here with its file and line."""

import ast
from pathlib import Path

import transformer_catalog

ROOT = Path(transformer_catalog.__file__).parent

# lower number = lower layer; a package may import from any lower layer
LAYERS = {
    "errors": 0,
    "files": 1, "runtime": 1, "progress": 1,
    "nn": 2, "data": 2, "metrics": 2,
    "families": 3, "objectives": 3, "generate": 3,
    "interop": 4, "catalog": 4,
    "train": 5,
    "lineage": 6, "interp": 6,  # libraries of the lineage rows and of interpretability, used by experiments
    "rlhf": 6, "diffusion": 6,  # preference tuning and the diffusion Transformer: libraries the experiments run
    "apps": 7, "experiments": 7,
    "cli": 8,
}  # fmt: skip
ENTRY_POINTS = {"__main__.py"}  # `python -m ...` modules sit above everything by definition


def _unit(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def _imports(source: str, package: list[str]):
    """(line, top-level unit) for every transformer_catalog import in `source`, a module of `package`
    (its folder's parts below the package root)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[: len(package) - (node.level - 1)]
            parts = base + [p for p in (node.module or "").split(".") if p]
            names = [parts[0]] if parts else [a.name for a in node.names]
            for name in names:
                yield node.lineno, name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("transformer_catalog."):
            yield node.lineno, node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("transformer_catalog."):
                    yield node.lineno, alias.name.split(".")[1]


def _upward(unit: str, imports) -> list[tuple[int, str]]:
    return [(line, t) for line, t in imports if t in LAYERS and t != unit and LAYERS[t] >= LAYERS[unit]]


def test_every_package_has_a_layer():
    units = {_unit(p) for p in ROOT.rglob("*.py")} - {"__init__", "__main__"}
    assert units <= set(LAYERS), f"add to LAYERS (and the README's architecture): {sorted(units - set(LAYERS))}"


def test_no_package_imports_one_above_it():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        unit = _unit(path)
        if path.name in ENTRY_POINTS or unit not in LAYERS:
            continue
        package = list(path.relative_to(ROOT).parent.parts)
        for line, target in _upward(unit, _imports(path.read_text(encoding="utf-8"), package)):
            upward.append(
                f"{path.relative_to(ROOT)}:{line}: {unit} (layer {LAYERS[unit]}) imports "
                f"{target} (layer {LAYERS[target]})"
            )
    assert not upward, "\n".join(upward)


def test_the_checker_sees_upward_imports_in_every_spelling():
    planted = (
        "from ..cli import main\nfrom transformer_catalog.apps import search\nimport transformer_catalog.train.x\n"
    )
    found = list(_imports(planted, ["nn"]))
    assert found == [(1, "cli"), (2, "apps"), (3, "train")]
    assert _upward("nn", found) == found
    assert _upward("cli", list(_imports("from ..nn import x\nfrom . import options\n", ["cli"]))) == []
    assert list(_imports("from .. import files\n", ["catalog"])) == [(1, "files")]


def test_no_file_is_over_400_lines():
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    ]
    assert not long, long
