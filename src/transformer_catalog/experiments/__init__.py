"""Demonstrated claims: one module per experiment, each a claim, a control that should fail, numbers
and a figure (base.py describes the shape; render.py turns results into BENCHMARKS.md sections and
the site's entries). `tcat experiments list | run NAME [--tiny]` calls registry() and Experiment.run.

To add one: write a module here with NAME, CLAIM, CONTROL, a Config dataclass (full defaults,
Config.tiny() for the test) and run(cfg, out) ending in base.finish(...); add its module name to
MODULES; tests/test_experiments.py then runs it at its tiny setting. A module that also defines
LINEAGE (a root's name in catalog/data/lineage.yaml) is a lineage row: `tcat lineage list|run`,
`tcat show ROOT` and the site's lineage pages find it through Experiment.lineage.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..errors import TcatError

MODULES = (
    "copy_task",
    "lm_context",
    "logit_lens",
    "induction_heads",
    "induction_text",
    "grokking",
    "scaling_laws",
    "lineage_perceptron",
    "lineage_mlp",
    "lineage_hopfield",
    "lineage_elman",
    "lineage_lstm",
    "lineage_cnn",
    "lineage_rbm",
    "lineage_autoencoder",
    "lineage_vae",
    "lineage_gan",
    "lineage_gcn",
    "lineage_seq2seq",
    "rlhf_grpo",
    "recall_associative",
    "recall_mqar",
    "diffusion_dit",
    "rlhf_ppo",
    "rlhf_frontier",
    "long_context",
)  # in the order `tcat experiments list` shows them


@dataclass(frozen=True)
class Experiment:
    name: str
    claim: str
    control: str
    module: ModuleType
    lineage: str | None = None  # the lineage root (catalog/data/lineage.yaml) whose claim it demonstrates

    def config(self, tiny: bool = False):
        """The full setting, or the tiny one that runs in seconds."""
        return self.module.Config.tiny() if tiny else self.module.Config()

    def run(self, out, cfg=None, tiny: bool = False) -> dict:
        """Run it into the folder `out` (results.json + figures); returns the results."""
        return self.module.run(cfg if cfg is not None else self.config(tiny), out)


def registry() -> dict[str, Experiment]:
    """Every experiment by name. Importing one imports no torch: that waits for run()."""
    out = {}
    for module_name in MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        out[module.NAME] = Experiment(
            module.NAME, module.CLAIM, module.CONTROL, module, getattr(module, "LINEAGE", None)
        )
    return out


def get(name: str) -> Experiment:
    experiments = registry()
    if name not in experiments:
        raise TcatError(f"unknown experiment {name!r}; known: {', '.join(experiments)}")
    return experiments[name]


# Results of the full settings, measured here and shipped with the package (BENCHMARKS.md and the site
# render these); `tcat experiments run NAME` measures them again on the user's machine.
SHIPPED = Path(__file__).parent / "results"


def shipped_results() -> list[tuple[dict, dict[str, bytes]]]:
    """[(results, {figure file name: bytes})] of every shipped run, in MODULES order."""
    from .render import figures, load_results

    out = []
    for folder in sorted(p.parent for p in SHIPPED.glob("*/results.json")):
        results = load_results(folder)
        out.append((results, {f: (folder / f).read_bytes() for f in figures(results) if (folder / f).is_file()}))
    order = {name: i for i, name in enumerate(registry())}
    return sorted(out, key=lambda r: order.get(r[0]["name"], len(order)))


__all__ = ["MODULES", "SHIPPED", "Experiment", "get", "registry", "shipped_results"]
