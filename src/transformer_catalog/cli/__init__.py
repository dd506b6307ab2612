"""`tcat`: the command line, a thin layer: parse, call the library once, print.

One module per command group (catalog, models, train, decode, apps); this one builds the parser and
holds the error policy, in one place: a user error (TcatError, a bad option value, an unreadable or
unwritable path, text that is not UTF-8) is one line `tcat CMD: error: ...` on stderr and exit
code 2, never a traceback. Heavy imports (torch) happen inside the commands that need them, so
`tcat --help` and the catalog commands answer at once."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import TcatError, missing_package
from . import (
    apps,
    attention,
    catalog,
    decode,
    diffusion,
    inspect,
    models,
    multiclass,
    ner,
    pipeline,
    rlhf,
    setfit,
    topics,
    train,
)
from .options import Help, Skipped

GROUPS = (
    catalog, models, train, decode, apps, inspect, attention, diffusion, rlhf, ner, setfit, multiclass, pipeline,
    topics,
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """Usage mistakes get one line (and --help for the rest), like every other error of tcat."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see '{self.prog} --help')\n")


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, only that command's options are built (the others are listed
    with their one-line help), which is all one invocation needs; "" builds none (tcat --help)."""
    p = _Parser(
        prog="tcat", description="transformer-catalog: the Transformer catalog, made executable.", formatter_class=Help
    )
    p.add_argument("--version", action="version", version=f"tcat {__import__('transformer_catalog').__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, fn, help, **kw):
        sp = sub.add_parser(name, help=help, description=help, formatter_class=Help, **kw)
        if command is not None and name != command:
            return Skipped()
        if fn is not None:
            sp.set_defaults(fn=fn)
        return sp

    for group in GROUPS:
        group.register(sub, add)
    _add_experiments(add)
    return p


def _add_experiments(add) -> None:
    """`tcat experiments` exists where the experiments package does (found without importing it,
    which would cost every other command its start-up time)."""
    import importlib.util

    spec = importlib.util.find_spec(f"{__package__.rpartition('.')[0]}.experiments")
    if spec is not None and spec.origin and spec.origin.endswith("__init__.py"):  # not a bare folder
        from . import experiments

        experiments.register(add)


def _not_utf8(argv: list[str]) -> str | None:
    """The first argument that is not valid UTF-8 (Python keeps such bytes as lone surrogates)."""
    for i, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return f"argument {i} ({arg.encode('utf-8', 'backslashreplace').decode('ascii', 'replace')[:40]})"
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    bad = _not_utf8(argv)
    if bad:
        print(f"tcat: error: {bad} is not valid UTF-8 text", file=sys.stderr)
        return 2
    p = parser(next((a for a in argv if not a.startswith("-")), ""))
    try:
        args = p.parse_args(argv)
    except SystemExit as e:  # --help, --version and usage errors (argparse already printed them)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if not getattr(args, "fn", None):
        p.print_help()
        return 0
    import warnings

    command = args.command + "".join(
        f" {getattr(args, k)}"
        for k in ("site_command", "catalog_command", "experiments_command", "inspect_command", "lineage_command")
        if getattr(args, k, None)
    )
    # a warning is one line, as an error is (not the file, line and source that Python adds)
    warnings.formatwarning = lambda message, category, *_, **__: f"tcat {command}: warning: {message}\n"
    try:
        args.fn(args)
    except TcatError as e:
        return _error(command, str(e))
    except KeyboardInterrupt:
        print(f"tcat {command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except UnicodeDecodeError as e:  # a data file or input that is not UTF-8
        return _error(command, f"input is not UTF-8 text (byte {e.start}: {e.reason})")
    except MemoryError:
        return _error(command, "out of memory: try a smaller model, batch or --max-tokens")
    except ModuleNotFoundError as e:
        if (line := missing_package(e)) is None:
            raise  # not an optional package: a bug, keep the traceback
        return _error(command, line)
    except OSError as e:
        if e.filename is None:
            raise  # not about a path the user named: a bug, keep the traceback
        return _error(command, f"{e.filename}: {e.strerror or e}")
    return 0


def _error(command: str, message: str) -> int:
    print(f"tcat {command}: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


# the commands, importable as before the package split (tests, scripts)
from .apps import cmd_classify, cmd_index, cmd_search, cmd_vision  # noqa: E402
from .catalog import (  # noqa: E402
    cmd_catalog_lint,
    cmd_export,
    cmd_list,
    cmd_pictures,
    cmd_show,
    cmd_site_build,
    cmd_site_serve,
    cmd_taxonomy,
    cmd_timeline,
    cmd_tree,
)
from .decode import cmd_evaluate, cmd_generate, cmd_translate  # noqa: E402
from .models import cmd_build, cmd_configs, cmd_params, cmd_verify  # noqa: E402
from .train import cmd_train  # noqa: E402

__all__ = [
    "main",
    "parser",
    "cmd_build",
    "cmd_catalog_lint",
    "cmd_classify",
    "cmd_configs",
    "cmd_evaluate",
    "cmd_export",
    "cmd_generate",
    "cmd_index",
    "cmd_list",
    "cmd_params",
    "cmd_pictures",
    "cmd_search",
    "cmd_show",
    "cmd_site_build",
    "cmd_site_serve",
    "cmd_taxonomy",
    "cmd_timeline",
    "cmd_train",
    "cmd_translate",
    "cmd_tree",
    "cmd_verify",
    "cmd_vision",
]
