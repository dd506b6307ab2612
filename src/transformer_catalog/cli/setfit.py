"""`tcat setfit`: few-shot classification by SetFit (contrastive tuning of MiniLM's body, then a logistic
head) against plain fine-tuning on the same examples, the frozen body's head, the `setfit` package on
the same local body, and full-data fine-tuning (apps/setfit.py, apps/setfit_bench.py)."""

from __future__ import annotations

import json
import shlex

from ..errors import TcatError
from ..progress import Bar
from .common import add_json, add_threads, check_output_file, set_threads, write_json
from .options import help_text, number

METHODS = ("setfit", "plain", "frozen", "package")
SHOTS = number(int, 2, 10**5)


def _methods(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METHODS]
    if bad or not names:
        raise TcatError(f"--methods {text!r}: use a comma-separated list of {', '.join(METHODS)}")
    return names


def _command(args) -> str:
    parts = ["tcat", "setfit", "--data", args.data, *(["--sample"] if args.sample else [])]
    parts += ["--per-class", *map(str, args.per_class)]
    parts += ["--seeds", str(args.seeds), "--methods", args.methods, "--test-per-class", str(args.test_per_class)]
    parts += ["--package-per-class", *map(str, args.package_per_class), "--package-seeds", str(args.package_seeds)]
    parts += ["--iterations", str(args.iterations), "--max-pairs", str(args.max_pairs)]
    parts += ["--pair-batch", str(args.pair_batch), "--plain-steps", str(args.plain_steps)]
    parts += ["--precision", args.precision]
    parts += ["--no-full"] if args.no_full else ["--full-limit", str(args.full_limit)]
    parts += ["--minutes", f"{args.minutes:g}"] if args.minutes else []
    return shlex.join(parts)


def cmd_setfit(args) -> None:
    """Run the benchmark and print (and --json write) every run and the summary; --plot draws the curve."""
    methods = _methods(args.methods)
    check_output_file(args.json)
    check_output_file(args.plot)
    set_threads(args.threads)
    import time

    from ..apps.setfit import SetFitConfig, config_dict
    from ..apps.setfit_bench import benchmark, check_request, gain, load_data, plot
    from ..experiments.base import machine

    data = load_data(args.data, args.sample)
    shots = sorted(set(args.per_class))
    check_request(data, shots)  # before the body is loaded
    cfg = SetFitConfig(
        iterations=args.iterations,
        max_pairs=args.max_pairs,
        pair_batch=args.pair_batch,
        plain_max_steps=args.plain_steps,
        precision=args.precision,
    )
    package_shots = sorted(set(args.package_per_class))
    n_package = sum(k in package_shots for k in shots) * min(args.package_seeds, args.seeds) * ("package" in methods)
    total = len(shots) * args.seeds * len([m for m in methods if m != "package"]) + n_package + (not args.no_full)
    cpu, wall = time.process_time(), time.perf_counter()
    done: list[dict] = []

    def on_run(run: dict) -> None:  # a long benchmark leaves its finished runs behind if stopped
        done.append(run)
        bar.advance(run)
        write_json(args.json, {"command": _command(args), "partial": True, "runs": done})

    with _Progress(total, not args.quiet) as bar:
        result = benchmark(
            data,
            shots,
            args.seeds,
            methods,
            cfg,
            package_shots=package_shots,
            package_seeds=args.package_seeds,
            full=not args.no_full,
            full_limit=args.full_limit,
            test_per_class=args.test_per_class,
            minutes=args.minutes,
            on_run=on_run,
        )
    out = {
        "command": _command(args),
        "data": args.data + (" (in-repo sample)" if args.sample else ""),
        "config": config_dict(cfg),
        **result,
        "gain_over_plain_points": {str(k): gain(result["summary"], k) for k in shots},
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "machine": machine(),
    }
    if args.plot:
        out["figure"] = str(plot(out, args.plot))
    print(json.dumps({k: out[k] for k in ("summary", "full", "gain_over_plain_points", "cpu_seconds")}))
    write_json(args.json, out)


class _Progress(Bar):
    """A rich progress bar over the runs (rate, ETA), the last run's score beside it."""

    def __init__(self, total: int, enabled: bool):
        super().__init__(
            enabled, "setfit", ("{task.completed:.0f}/{task.total:.0f}", "{task.fields[last]}"), total, last=""
        )

    def advance(self, run: dict) -> None:
        last = f"{run['method']} {run['per_class'] or 'all'}/class seed {run['seed']}: F1 {run['macro_f1']:.3f}"
        self.show(advance=1, last=last)


def register(sub, add) -> None:
    sp = add("setfit", cmd_setfit, "few-shot classification: SetFit vs plain fine-tuning, over examples per class")

    def num(flag, rng, default, text, **kw):
        sp.add_argument(
            flag,
            type=rng,
            default=default,
            metavar="N" if rng.kind is int else "X",
            help=help_text(text, default, rng),
            **kw,
        )

    sp.add_argument(
        "--data",
        default="vader-domains",
        help="vader-domains (4 classes: python -m transformer_catalog.rlhf.pairs), another set of the course "
        "(austen, kjv-genre, fine-food) or vader-movies (2 classes: python -m transformer_catalog.data.sentiment) "
        "(default vader-domains)",
    )
    sp.add_argument("--sample", action="store_true", help="the data's small in-repo excerpt (default off)")
    sp.add_argument(
        "--per-class",
        type=SHOTS,
        nargs="+",
        default=[8, 16, 64],
        metavar="N",
        help=help_text("labelled training examples per class, one run per count", "8 16 64", SHOTS),
    )
    num("--seeds", number(int, 1, 100), 5, "seeds (few-shot draws) per count")
    sp.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated: {', '.join(METHODS)} (default {','.join(METHODS)})",
    )
    sp.add_argument(
        "--package-per-class",
        type=SHOTS,
        nargs="+",
        default=[8],
        metavar="N",
        help=help_text("the counts the setfit package runs at (it is slower)", "8", SHOTS),
    )
    num("--package-seeds", number(int, 1, 100), 5, "seeds the setfit package runs (the first N)")
    num("--iterations", number(int, 1, 1000), 20, "SetFit's R: pair rounds per example")
    num("--max-pairs", number(int, 2, 10**7), 640, "cap on SetFit's 2 R N pairs")
    num("--pair-batch", number(int, 1, 4096), 16, "pairs per contrastive step (also the setfit package's)")
    num("--plain-steps", number(int, 1, 10**6), 40, "plain fine-tuning: at most this many steps (20 epochs at most)")
    sp.add_argument(
        "--precision",
        default="auto",
        choices=["fp32", "bf16", "auto"],
        help="our runs' compute: bf16 autocast, fp32, or auto (bf16 where it measures faster) (default auto)",
    )
    num(
        "--test-per-class",
        number(int, 0, 10**6),
        100,
        "test examples per class (a fixed draw; at most the rarest label's count); 0 = the whole test split",
    )
    num("--full-limit", number(int, 0, 10**7), 0, "full-data fine-tuning: at most this many examples; 0 = all")
    sp.add_argument("--no-full", action="store_true", help="skip full-data fine-tuning (default off)")
    num("--minutes", number(float, 0, 10**6), 0.0, "start no run after this many minutes (0 = no limit)")
    sp.add_argument("--plot", default=None, metavar="FILE", help="write the curve as a PNG (default: none)")
    add_json(sp)
    sp.add_argument("--quiet", action="store_true", help="no progress bar (default off)")
    add_threads(sp)
