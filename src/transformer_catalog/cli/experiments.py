"""`tcat experiments list|run NAME`: the project's demonstrated claims (experiments/), each a claim
with a control that should fail, run into a folder that receives results.json and its figures.
`tcat lineage list|run NAME|--all`: the experiments that are rows of the Transformer's lineage
(those whose module names a root of catalog/data/lineage.yaml)."""

from __future__ import annotations

import json

from ..errors import TcatError
from .common import add_threads, set_threads


def _registry() -> dict:
    from ..experiments import registry

    return registry()


def _experiment(name: str):
    reg = _registry()
    if name not in reg:
        raise TcatError(f"unknown experiment {name!r}; known: {', '.join(reg)} (tcat experiments list)")
    return reg[name]


def cmd_list(args) -> None:
    reg = _registry()
    width = max(map(len, reg), default=0)  # names line up however long the longest is
    for name, experiment in reg.items():
        print(f"{name:<{width}} {experiment.claim}")


def _run_one(experiment, out, tiny: bool, cfg=None) -> dict:
    result = experiment.run(out, cfg=cfg, tiny=tiny)
    verdict = "holds" if result.get("claim_holds") else "does NOT hold"
    control = "fails as it should" if result.get("control_fails") else "does NOT fail"
    print(json.dumps(result.get("metrics", {})))
    print(f"{experiment.name}: the claim {verdict}, the control {control}; results in {out / 'results.json'}")
    return result


def cmd_run(args) -> None:
    from pathlib import Path

    from ..experiments.base import override
    from ..files import output_dir

    experiment = _experiment(args.name)
    out = Path(args.out or f"runs/experiments/{args.name}{'-tiny' if args.tiny else ''}")
    cfg = override(experiment.config(args.tiny), args.set or [])
    set_threads(args.threads)
    check = getattr(experiment.module, "check", None)
    if check is not None:  # an impossible setting is refused before anything is written
        check(cfg)
    output_dir(out, force=args.force)  # refused before minutes of work if it is a user's folder or a file
    _run_one(experiment, out, args.tiny, cfg)


def _rows() -> dict:
    return {name: ex for name, ex in _registry().items() if ex.lineage}


def _row(name: str):
    """A lineage row by its experiment name, or that name without its "lineage-" prefix."""
    rows = _rows()
    found = rows.get(name) or rows.get(f"lineage-{name}")
    if found is None:
        short = ", ".join(n.removeprefix("lineage-") for n in rows)
        raise TcatError(f"unknown lineage row {name!r}; known: {short} (tcat lineage list)")
    return found


def cmd_lineage_list(args) -> None:
    for name, ex in _rows().items():
        print(f"{name.removeprefix('lineage-'):<12} {ex.lineage:<11} {ex.claim}")


def cmd_lineage_run(args) -> None:
    from pathlib import Path

    from ..files import output_dir

    if args.name and args.all:
        raise TcatError("give one row NAME or --all, not both (tcat lineage list)")
    if not args.name and not args.all:
        raise TcatError("name the row to run, or --all for every row (tcat lineage list)")
    rows = list(_rows().values()) if args.all else [_row(args.name)]
    suffix = "-tiny" if args.tiny else ""
    root = Path(args.out or "runs/lineage")
    if args.all:  # every row into its own folder under --out
        outs = [root / f"{ex.name.removeprefix('lineage-')}{suffix}" for ex in rows]
        output_dir(root, force=args.force)
    else:
        outs = [Path(args.out) if args.out else root / f"{rows[0].name.removeprefix('lineage-')}{suffix}"]
    for out in outs:  # every folder refused before the first row's minutes of work
        output_dir(out, force=args.force)
    set_threads(args.threads)
    for ex, out in zip(rows, outs):
        _run_one(ex, out, args.tiny)


def register(add) -> None:
    exp = add("experiments", None, "the demonstrated claims: list them, or run one (claim, control, numbers, figures)")
    sub = exp.add_subparsers(dest="experiments_command", metavar="COMMAND", required=True)
    sp = sub.add_parser("list", help="every experiment and its claim", description="every experiment and its claim")
    sp.set_defaults(fn=cmd_list)
    sp = sub.add_parser(
        "run",
        help="run one experiment into a folder (results.json and figures)",
        description="run one experiment into a folder (results.json and figures)",
    )
    sp.add_argument("name", help="an experiment (tcat experiments list)")
    sp.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="output folder (default runs/experiments/NAME, or NAME-tiny with --tiny)",
    )
    sp.add_argument("--tiny", action="store_true", help="the tiny setting: runs in seconds (default off)")
    sp.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="change one field of the experiment's Config (repeatable), e.g. --set steps=500; "
        "lists as JSON: --set 'grid=[[1e11,[0,1]]]' (default: none, the setting as shipped)",
    )
    sp.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty folder tcat did not create (nothing there is deleted; default off)",
    )
    add_threads(sp)
    sp.set_defaults(fn=cmd_run)
    _register_lineage(add)


def _register_lineage(add) -> None:
    lin = add("lineage", None, "the Transformer's ancestors, each row's classic claim run as an experiment")
    sub = lin.add_subparsers(dest="lineage_command", metavar="COMMAND", required=True)
    sp = sub.add_parser("list", help="every lineage row, its root and claim", description="every lineage row")
    sp.set_defaults(fn=cmd_lineage_list)
    sp = sub.add_parser(
        "run",
        help="run one lineage row, or every row (--all), into folders (results.json and figures)",
        description="run one lineage row, or every row (--all), into folders (results.json and figures)",
    )
    sp.add_argument("name", nargs="?", default=None, help="a row (tcat lineage list)")
    sp.add_argument("--all", action="store_true", help="every row, each into its own folder under --out (default off)")
    sp.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="output folder (default runs/lineage/NAME; with --all the parent of one folder per row, "
        "default runs/lineage)",
    )
    sp.add_argument("--tiny", action="store_true", help="the tiny settings: seconds per row (default off)")
    sp.add_argument(
        "--force",
        action="store_true",
        help="write into non-empty folders tcat did not create (nothing there is deleted; default off)",
    )
    add_threads(sp)
    sp.set_defaults(fn=cmd_lineage_run)
