"""`tcat experiments list|run NAME`: the project's demonstrated claims (experiments/), each a claim
with a control that should fail, run into a folder that receives results.json and its figures."""

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
    for name, experiment in _registry().items():
        print(f"{name:<14} {experiment.claim}")


def cmd_run(args) -> None:
    from pathlib import Path

    experiment = _experiment(args.name)
    out = Path(args.out or f"runs/experiments/{args.name}{'-tiny' if args.tiny else ''}")
    from ..files import output_dir

    output_dir(out, force=args.force)  # refused before minutes of work if it is a user's folder or a file
    set_threads(args.threads)
    result = experiment.run(out, tiny=args.tiny)
    verdict = "holds" if result.get("claim_holds") else "does NOT hold"
    control = "fails as it should" if result.get("control_fails") else "does NOT fail"
    print(json.dumps(result.get("metrics", {})))
    print(f"{args.name}: the claim {verdict}, the control {control}; results in {out / 'results.json'}")


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
        "--force",
        action="store_true",
        help="write into a non-empty folder tcat did not create (nothing there is deleted; default off)",
    )
    add_threads(sp)
    sp.set_defaults(fn=cmd_run)
