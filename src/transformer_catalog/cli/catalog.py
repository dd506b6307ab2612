"""Catalog commands: list, show, compare, tree, timeline, taxonomy, export, pictures, site, catalog
lint and coverage (changes and diff: cli/changes.py). None of them imports torch (show computes a
breakdown once, then reads it from the cache; a lineage root's experiments are read from the
registry, whose modules import no torch)."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import TcatError
from .common import catalog
from .common import console as _console
from .options import port


def params_text(flag: str):
    """An argparse type for --min-params/--max-params: checked here, passed on as written."""

    def check(text: str) -> str:
        from ..catalog.query import parse_params

        try:
            parse_params(text, flag)
        except TcatError as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix(f"{flag} ")) from None
        except (OverflowError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is too large a parameter count") from None
        return text

    check.__name__ = "size"
    return check


def console():
    """The shared console, except that an explicit COLUMNS wins over its piped default of 160
    columns: `COLUMNS=80 tcat list | less` lays out for 80."""
    import os

    c = _console()
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        c.width = int(columns)
    return c


def cmd_list(args) -> None:
    from ..catalog.query import select
    from ..catalog.views import list_table

    entries = select(
        catalog(),
        family=args.family,
        arch=args.arch,
        task=args.task,
        lab=args.lab,
        license=args.license,
        after=args.after,
        before=args.before,
        min_params=args.min_params,
        max_params=args.max_params,
        search=" ".join(args.search) or None,
        sort=args.sort,
        reverse=args.reverse,
    )
    if args.names:
        from ..catalog.text import clean

        print("\n".join(clean(e.name) for e in entries))  # a name cannot drive the terminal
    else:
        out = console()
        out.print(list_table(entries, width=out.width))


def lineage_runs(root: str) -> list[dict]:
    """The lineage experiments of a root (Experiment.lineage names it) with their shipped numbers."""
    from ..experiments import registry, shipped_results

    shipped = {r["name"]: r for r, _ in shipped_results()}
    runs = []
    for e in registry().values():
        if (getattr(e, "lineage", None) or "").lower() != root.lower():
            continue
        r = shipped.get(e.name, {})
        keep = ("metrics", "claim_holds", "control_fails", "cpu_seconds")
        runs.append({"name": e.name, "claim": e.claim, "control": e.control, **{k: r[k] for k in keep if k in r}})
    return runs


def cmd_show(args) -> None:
    from ..catalog.breakdown import breakdown
    from ..catalog.views import _get, show

    cat = catalog()
    root = next((r for r in cat.lineage if r.name.lower() == args.name.lower()), None)
    if root is not None and cat.find(args.name) is None:
        from ..catalog.factviews import lineage_root

        console().print(lineage_root(cat, root, lineage_runs(root.name)))
        return
    entry = _get(cat, args.name)  # an unknown name also lists the lineage roots
    # The breakdown needs torch the first time for an entry (meta-device builds); then it is cached.
    computed = breakdown(entry, compute=not args.no_computed)
    console().print(show(cat, entry, computed))


def cmd_compare(args) -> None:
    from ..catalog.factviews import compare

    cat = catalog()
    entries, seen = [], {}
    for name in args.names:
        e = cat.get(name)
        if e.name in seen:
            raise TcatError(f"{name!r} and {seen[e.name]!r} are the same model ({e.name}); name each model once")
        seen[e.name] = name
        entries.append(e)
    if len(entries) < 2:
        raise TcatError(f"compare needs at least two models; for one, run: tcat show {args.names[0]!r}")
    console().print(compare(entries))


def cmd_tree(args) -> None:
    from ..catalog.views import tree

    console().print(tree(catalog(), args.root))


def cmd_timeline(args) -> None:
    from ..catalog.query import select
    from ..catalog.views import timeline

    console().print(timeline(select(catalog(), after=args.after, before=args.before)))


def cmd_taxonomy(args) -> None:
    from ..catalog.views import taxonomy

    console().print(taxonomy(catalog().entries))


def cmd_export(args) -> None:
    from ..catalog.export import FORMATS, json_schema
    from ..catalog.query import select

    if args.schema:
        text = json.dumps(json_schema(), indent=2) + "\n"
    else:
        text = FORMATS[args.format](select(catalog(), sort="date"))
    if args.out:
        from ..files import write_text

        print(f"wrote {write_text(args.out, text)}")
    else:
        sys.stdout.write(text)


def _lineage_of() -> dict:
    """{experiment name: the lineage root it demonstrates, or None}: the site's lineage pages show them."""
    from ..experiments import registry

    return {name: getattr(e, "lineage", None) for name, e in registry().items()}


def cmd_site_build(args) -> None:
    import time

    from ..catalog.site import build_site
    from ..experiments import shipped_results

    t = time.perf_counter()
    # refuses a user's folder unless --force; claims.html shows the experiments' shipped results
    out = build_site(catalog(), args.out, force=args.force, claims=shipped_results(), lineage_of=_lineage_of())
    print(f"built {out} ({len(list(out.rglob('*.html')))} pages) in {time.perf_counter() - t:.2f} s")


def cmd_site_serve(args) -> None:
    from pathlib import Path

    from ..catalog.site import build_site, serve
    from ..experiments import shipped_results

    folder = Path(args.folder)
    if not (folder / "index.html").is_file():
        build_site(catalog(), folder, force=args.force, claims=shipped_results(), lineage_of=_lineage_of())
    try:
        serve(folder, args.port)
    except OSError as e:
        raise TcatError(f"cannot serve on port {args.port}: {e.strerror}; pick another with --port") from None


def cmd_pictures(args) -> None:
    from pathlib import Path

    from ..catalog.charts import catalog_pictures
    from ..files import output_dir, write_text

    cat = catalog()
    out = output_dir(Path(args.out), force=args.force)
    for name, (_title, svg) in catalog_pictures(cat).items():  # the tree, timeline, sizes and trend charts
        print(write_text(out / f"{name}.svg", svg))


def cmd_catalog_lint(args) -> None:
    from pathlib import Path

    from ..catalog.lint import lint
    from ..catalog.load import LINEAGE, MODELS

    models = Path(args.models) if args.models else MODELS
    if not models.exists():
        raise TcatError(f"--models {models}: no such folder")
    if not models.is_dir():
        raise TcatError(f"--models {models}: not a folder (pass the folder that holds the entry YAML files)")
    n = len(list(models.glob("*.yaml")))
    if n == 0:
        raise TcatError(f"--models {models}: no entry files (*.yaml) in this folder")
    problems = lint(models, LINEAGE)
    from ..catalog.text import clean

    for p in problems:
        print(clean(p))  # problems quote the files' text
    if problems:
        raise TcatError(f"{len(problems)} problem(s) in {n} entries")
    print(f"{n} entries, no problems")


def cmd_catalog_coverage(args) -> None:
    from ..catalog.coverage import coverage
    from ..catalog.factviews import coverage_view
    from .common import check_output_file

    if args.json is not None and not args.json.strip():  # --json '' names no file: say so, never skip it
        raise TcatError("--json '': give the file to write, e.g. --json coverage.json")
    check_output_file(args.json)  # before the work: a bad path is one line, not a lost report
    report = coverage(catalog().entries)
    console().print(coverage_view(report, names=args.names))
    if args.json is not None:
        from .common import write_json

        write_json(args.json, report)


def register(sub, add) -> None:
    sp = add("list", cmd_list, "the catalog as a table, filtered and sorted")
    sp.add_argument("search", nargs="*", help="free-text search over names, descriptions, corpus, labs")
    for flag, text in (
        ("--family", "e.g. BERT, GPT, T5"),
        ("--arch", "encoder, decoder or encoder-decoder"),
        ("--task", "pretraining task: LM, causal LM, prefix LM, MLM, PLM, DAE, RTD, NSP, SOP, contrastive, other"),
        ("--lab", "e.g. Google, Meta, OpenAI"),
        ("--license", "open, open-restricted, non-commercial, api, closed, code-only, unknown"),
        ("--after", "from this year or month (2020, 2020-05)"),
        ("--before", "up to this year or month"),
    ):
        sp.add_argument(flag, default=None, help=f"{text} (default: any)")
    sp.add_argument(
        "--min-params",
        type=params_text("--min-params"),
        default=None,
        metavar="SIZE",
        help="largest size at least this, e.g. 350M, 1.5B (default: any)",
    )
    sp.add_argument(
        "--max-params",
        type=params_text("--max-params"),
        default=None,
        metavar="SIZE",
        help="smallest size at most this (default: any)",
    )
    sp.add_argument(
        "--sort",
        default="date",
        choices=["date", "name", "params", "family"],
        help="sort order (default date; one of date, name, params, family)",
    )
    sp.add_argument("--reverse", action="store_true", help="reverse the order (default off)")
    sp.add_argument("--names", action="store_true", help="print names only, one per line (default off)")

    sp = add("show", cmd_show, "every fact of one model, its lineage and its sources; or a lineage root")
    sp.add_argument("name", help="a catalog entry (tcat list --names) or a lineage root (RNN, LSTM, ...)")
    sp.add_argument(
        "--no-computed",
        action="store_true",
        help="skip the computed parameter breakdown and FLOPs (computing them needs torch once; default off)",
    )

    sp = add("compare", cmd_compare, "two or more models side by side: sizes, context, tokens, compute, weights")
    sp.add_argument("names", nargs="+", metavar="NAME", help="catalog entries or their aliases (tcat list --names)")

    sp = add("tree", cmd_tree, "the family tree, from the pre-Transformer roots or from ROOT")
    sp.add_argument("root", nargs="?", help="an entry to start from (default: the roots)")

    sp = add("timeline", cmd_timeline, "models by month of first publication")
    sp.add_argument("--after", default=None, help="from this year or month, e.g. 2020 or 2020-05 (default: any)")
    sp.add_argument("--before", default=None, help="up to this year or month (default: any)")

    add("taxonomy", cmd_taxonomy, "pretraining architecture × pretraining task")
    from . import changes  # tcat changes and tcat diff (their own module: this one is near 400 lines)

    changes.register(sub, add)

    sp = add("export", cmd_export, "the catalog as JSON, CSV, Markdown, BibTeX or LaTeX")
    sp.add_argument(
        "--format",
        default="json",
        choices=["json", "csv", "markdown", "bibtex", "latex"],
        help="output format (default json; one of json, csv, markdown, bibtex, latex)",
    )
    sp.add_argument(
        "--schema", action="store_true", help="print the JSON Schema of the JSON export instead (default off)"
    )
    sp.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="write to this file (atomically; never over a link, folder or device) instead of "
        "standard output (default: standard output)",
    )

    site = add("site", None, "build or serve the static website")
    sitesub = site.add_subparsers(dest="site_command", metavar="COMMAND", required=True)
    sp = sitesub.add_parser(
        "build", help="write the offline site into OUT", description="write the offline site into OUT"
    )
    sp.add_argument("out", help="a new or empty folder, or one tcat wrote before")
    sp.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty folder tcat did not create (nothing there is deleted; default off)",
    )
    sp.set_defaults(fn=cmd_site_build)
    sp = sitesub.add_parser(
        "serve",
        help="serve the site on 127.0.0.1 (building it first if needed)",
        description="serve the site on 127.0.0.1 (building it first if needed)",
    )
    sp.add_argument("folder", nargs="?", default="site", help="the site folder (default site)")
    rng = port()
    sp.add_argument(
        "--port",
        type=rng,
        default=8000,
        metavar="N",
        help=f"TCP port; 0 = any free port (default 8000; range {rng.describe()})",
    )
    sp.add_argument(
        "--force", action="store_true", help="build into a non-empty folder tcat did not create (default off)"
    )
    sp.set_defaults(fn=cmd_site_serve)

    sp = add("pictures", cmd_pictures, "write the family tree, timeline, size chart and trend charts as SVG files")
    sp.add_argument("--out", default="pictures", metavar="DIR", help="output folder (default pictures)")
    sp.add_argument(
        "--force", action="store_true", help="write into a non-empty folder tcat did not create (default off)"
    )

    cat = add("catalog", None, "check the catalog data")
    catsub = cat.add_subparsers(dest="catalog_command", metavar="COMMAND", required=True)
    sp = catsub.add_parser(
        "lint",
        help="validate every entry: schema and consistency, as file:line: field: message",
        description="validate every entry: schema and consistency, as file:line: field: message",
    )
    sp.add_argument(
        "--models", default=None, metavar="DIR", help="folder of entry YAML files (default: the shipped catalog)"
    )
    sp.set_defaults(fn=cmd_catalog_lint)
    sp = catsub.add_parser(
        "coverage",
        help="how many entries record context length, training tokens, compute and the other facts",
        description="entries, and the share of decoder LLMs (architecture decoder, causal LM pretraining) "
        "whose context length, training tokens and training compute are known, against issue 19's targets; "
        "then every optional fact over all entries",
    )
    sp.add_argument(
        "--json", default=None, metavar="FILE", help="also write the report to this file, atomically (default: none)"
    )
    sp.add_argument(
        "--names",
        action="store_true",
        help="also list the decoder LLMs whose context length, tokens or compute is missing or undisclosed "
        "(default off)",
    )
    sp.set_defaults(fn=cmd_catalog_coverage)
