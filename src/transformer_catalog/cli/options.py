"""Option values checked where they are parsed, and options generated from the dataclasses they fill.

Every numeric option has a valid range (`number`), checked by argparse, so a bad value is a usage
error (one line, exit 2) before any work starts. `add_fields` turns a dataclass's fields (with the
metadata written by train/config.py's `opt`) into options: one place per option for its name,
type, default, range and help, which always shows the default and the range."""

from __future__ import annotations

import argparse
import math
import os

__all__ = ["number", "threads", "port", "add_fields", "given", "Help"]


class number:
    """An argparse type: an int or float within [lo, hi] (`ends` "()" etc. for open ends)."""

    def __init__(self, kind=int, lo=None, hi=None, ends: str = "[]"):
        self.kind, self.lo, self.hi, self.ends = kind, lo, hi, ends
        self.__name__ = "integer" if kind is int else "number"  # argparse names the type in its messages

    def describe(self) -> str:
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            return f"{self.ends[0]}{_fmt(lo)}, {_fmt(hi)}{self.ends[1]}"
        if lo is not None:
            return f"{'>' if self.ends[0] == '(' else '>='} {_fmt(lo)}"
        if hi is not None:
            return f"{'<' if self.ends[1] == ')' else '<='} {_fmt(hi)}"
        return "any"

    def __call__(self, text: str):
        what = "an integer" if self.kind is int else "a number"
        try:
            value = self.kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if self.kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        lo_bad = self.lo is not None and (value < self.lo or (self.ends[0] == "(" and value == self.lo))
        hi_bad = self.hi is not None and (value > self.hi or (self.ends[1] == ")" and value == self.hi))
        if lo_bad or hi_bad:
            raise argparse.ArgumentTypeError(
                f"{text} is out of range: must be {what} in {self.describe()}"
                if self.lo is not None and self.hi is not None
                else f"{text} is out of range: must be {what} {self.describe()}"
            )
        return value


def _fmt(x) -> str:
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    if isinstance(x, int) and abs(x) >= 10**6:
        exp = len(str(abs(x))) - 1
        return f"{x:.0e}".replace("e+0", "e").replace("e+", "e") if x == 10**exp else f"{x:,}"
    return str(x)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads() -> number:
    """--threads: 0 (the free cores) up to the cores this process may use; more only slows down,
    and hundreds of OpenMP threads exhaust memory before they start."""
    return number(int, 0, usable_cores())


def port() -> number:
    return number(int, 0, 65535)


class Skipped:
    """Stands for the parser of a command that is not being run: its options are not built (that
    keeps `tcat --help` and the catalog commands' start-up short). Every call is accepted and ignored."""

    skipped = True

    def __getattr__(self, name):
        return lambda *args, **kwargs: self


class Help(argparse.HelpFormatter):
    """Keeps the default and range that every option's help ends with on one line each."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=32, width=min(120, max(80, _columns())))


def _columns() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100


def describe_default(value) -> str:
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return _fmt(value)


def help_text(
    text: str, default, rng: number | None = None, choices=None, extra: str = "", default_text: str = ""
) -> str:
    """An option's help: what it does, then its default and valid range (% escaped for argparse)."""
    tail = [f"default {default_text or describe_default(default)}"]
    if rng is not None:
        tail.append(f"range {rng.describe()}")
    if choices:
        tail.append("one of " + ", ".join(choices))
    if extra:
        tail.append(extra)
    return f"{text} ({'; '.join(tail)})".replace("%", "%%")


def field_type(f) -> number | None:
    rng = f.metadata.get("range")
    if rng is None:
        return None
    kind = float if isinstance(f.default, float) or "float" in str(f.type) else int
    ends = rng[2] if len(rng) > 2 else "[]"
    return number(kind, rng[0], rng[1], ends)


def add_fields(parser, cls, *, include=None, exclude=(), resume_note: bool = False, defaults=None) -> None:
    """Add one option per field of dataclass `cls` that has help metadata. Options are parsed with
    default SUPPRESS, so `given(args, cls)` tells what the user wrote from what is a default."""
    if getattr(parser, "skipped", False):  # a command that is not being run: its options are not needed
        return
    import dataclasses

    defaults = defaults or {}
    for f in dataclasses.fields(cls):
        m = f.metadata
        if "help" not in m or f.name in exclude or (include is not None and f.name not in include):
            continue
        flag = m.get("flag", "--" + f.name.replace("_", "-"))
        default = defaults.get(
            f.name,
            m.get(
                "cli_default",
                f.default
                if f.default is not dataclasses.MISSING
                else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None),
            ),
        )
        rng = field_type(f)
        extra = ""
        if resume_note and f.name not in ("resume", "out"):
            extra = "kept from the run on --resume" if m["resume"] == "refused" else "may change on --resume"
        kw: dict = {
            "dest": f.name,
            "default": argparse.SUPPRESS,
            "help": help_text(m["help"], default, rng, m.get("choices"), extra, m.get("default_text", "")),
        }
        if m.get("required"):
            kw["required"] = True
            kw["help"] = m["help"].replace("%", "%%") + " (required)"
        if m.get("action") == "append":
            kw.update(action="append", metavar=m.get("metavar"))
        elif "choices" in m:
            kw.update(choices=m["choices"], nargs=m.get("nargs"), const=m.get("const"))
            if kw["nargs"] is None:
                del kw["nargs"], kw["const"]
        elif isinstance(f.default, bool):
            kw["action"] = "store_true"
        elif rng is not None:
            kw.update(type=rng, metavar=m.get("metavar", "N" if rng.kind is int else "X"))
        parser.add_argument(flag, **kw)


def given(args: argparse.Namespace, cls) -> dict:
    """The fields of `cls` the user gave on the command line (with add_fields' SUPPRESS defaults)."""
    import dataclasses

    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}


def field_defaults(cls) -> dict:
    """Each option field's command-line default (cli_default where the flag's value differs in kind)."""
    import dataclasses

    out = {}
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata:
            continue
        if "cli_default" in f.metadata:
            out[f.name] = f.metadata["cli_default"]
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = f.default
    return out
