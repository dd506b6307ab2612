"""Model commands: build, verify, params, configs (architectures from the catalog's specs)."""

from __future__ import annotations

from ..errors import TcatError
from .common import add_json, catalog, check_output_file, console, write_json
from .options import help_text, number

SEED = number(int, 0, 2**31 - 1)


def cmd_configs(args) -> None:
    from ..catalog.specs import PUBLISHED_NAMES, named_configs
    from ..catalog.text import clean

    for name in named_configs():  # names of catalog specs among them: never terminal control
        print(clean(name) + (f"  (catalog: {clean(PUBLISHED_NAMES[name])})" if name in PUBLISHED_NAMES else ""))


def cmd_params(args) -> None:
    from ..catalog.verify import params_table

    c = console()
    c.width = max(c.width, 120)
    c.print(params_table(args.names, args.vocab))


def cmd_verify(args) -> None:
    import time

    from ..catalog import verify as v

    check_output_file(args.json)
    t = time.perf_counter()
    checks = v.verify(catalog(), args.names or None)
    if args.markdown:
        print(v.markdown(checks), end="")
        return
    c = console()
    c.print(v.table(checks))
    c.print(v.summary(checks, time.perf_counter() - t))
    write_json(args.json, [ch.__dict__ | {"delta": ch.delta} for ch in checks])
    n = v.counts(checks)
    if n["FAIL"] or n["error"]:
        raise TcatError(f"{n['FAIL'] + n['error']} size(s) differ from the published count without explanation")


# weights in fp32, plus what building and saving them holds at once (the state dict's copy for
# safetensors): twice the weights
BUILD_BYTES_PER_PARAM = 8


def cmd_build(args) -> None:
    """Build a catalog entry (or named config) with random weights; optionally save it."""
    from pathlib import Path

    from ..catalog.query import human
    from ..catalog.specs import resolve
    from .common import set_threads

    set_threads(0)
    import torch

    from ..nn.count import parameter_breakdown
    from ..nn.model import build_model
    from ..runtime import check_memory

    out = Path(args.out) if args.out else None
    if out is not None:
        _check_build_out(out, args.force)
    r = resolve(args.name, args.variant, args.scale)
    parts = parameter_breakdown(r.config)  # on the meta device: no memory
    total = sum(parts.values())
    # Without --out nothing needs values: large models are built on the meta device (shapes only).
    real = out is not None or total <= 2e8
    if real:
        check_memory(
            total,
            BUILD_BYTES_PER_PARAM,
            f"{r.label} with weights",
            "use --scale tiny, or drop --out to see its shapes only",
        )
    torch.manual_seed(args.seed)
    model = build_model(r.config, device=None if real else "meta")
    print(
        f"{r.label} ({args.scale}): {r.config.arch}, {human(total)} parameters "
        + ", ".join(f"{k} {human(v)}" for k, v in parts.items())
    )
    if out is not None:
        from ..files import output_dir
        from ..train.checkpoint import save_checkpoint

        output_dir(out, force=args.force)
        folder = save_checkpoint(
            out / "checkpoint", model, {"built_from": {"name": args.name, "variant": r.variant, "scale": args.scale}}
        )
        print(f"saved randomly initialised weights to {folder}")


def _check_build_out(out, force: bool) -> None:
    """Refuse an --out that cannot take a checkpoint before building anything (a model of billions
    of parameters takes minutes to build). files.output_dir checks again when it writes."""
    if out.exists() and not out.is_dir():
        raise TcatError(f"{out}: exists and is not a folder; --out takes a folder")
    ck = out / "checkpoint"
    if ck.exists() and not (ck / "config.json").is_file():
        raise TcatError(f"{ck} exists and is not a tcat checkpoint; choose another --out")
    from ..files import MARKER

    if out.is_dir() and not force and not (out / MARKER).is_file() and any(out.iterdir()):
        raise TcatError(
            f"{out} is a non-empty folder tcat did not create; choose an empty or new folder, "
            "or pass --force to write into it (tcat never deletes files there)"
        )


def register(sub, add) -> None:
    sp = add("build", cmd_build, "build a catalog entry (or named config) with random weights; --out saves it")
    sp.add_argument("name", help="a catalog entry NAME or NAME:VARIANT, or a named config (tcat configs)")
    sp.add_argument("--variant", default=None, help="size variant (default: the first in the entry's spec)")
    sp.add_argument(
        "--scale",
        default="full",
        choices=["full", "tiny"],
        help="full (the published shape) or tiny (2 layers, width 64) (default full)",
    )
    sp.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="save the model as a checkpoint in DIR/checkpoint (default: do not save)",
    )
    sp.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty folder tcat did not create (nothing there is deleted; default off)",
    )
    sp.add_argument("--seed", type=SEED, default=0, metavar="N", help=help_text("initialisation seed", 0, SEED))

    sp = add("verify", cmd_verify, "build each catalog entry's architecture and check its published parameter counts")
    sp.add_argument("names", nargs="*", help="entries to verify (default: every entry with a spec)")
    add_json(sp, "the checks")
    sp.add_argument(
        "--markdown", action="store_true", help="print the checks as a Markdown table, for the README (default off)"
    )

    add("configs", cmd_configs, "list the named model configurations")

    sp = add("params", cmd_params, "count parameters of named configs against the paper's Table 3")
    sp.add_argument(
        "names",
        nargs="*",
        default=["transformer-base", "transformer-big"],
        help="named configs (default: transformer-base transformer-big)",
    )
    vocab = number(int, 0, 10**7)
    sp.add_argument(
        "--vocab", type=vocab, default=0, metavar="N", help=help_text("vocabulary size; 0 = the config's", 0, vocab)
    )
