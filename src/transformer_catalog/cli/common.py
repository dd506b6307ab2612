"""Helpers every command group shares: threads, output files, input text, the catalog, the console.
Torch-free at import; heavy modules are imported inside the functions that need them."""

from __future__ import annotations

import sys

from ..errors import TcatError
from .options import threads as threads_type


def add_threads(sp) -> None:
    rng = threads_type()
    sp.add_argument(
        "--threads",
        type=rng,
        default=0,
        metavar="N",
        help=f"CPU threads; 0 = the cores that are free (default 0; range {rng.describe()})",
    )


def set_threads(n: int) -> None:
    from ..runtime import set_threads as _set

    _set(n)


def add_json(sp, what: str = "the result") -> None:
    sp.add_argument(
        "--json", default=None, metavar="FILE", help=f"also write {what} to this file, atomically (default: none)"
    )


def write_json(path, obj) -> None:
    """--json: also write a command's result to a file (atomically; never over a link or device)."""
    if path:
        from ..files import write_json as _write

        _write(path, obj)


def check_output_file(path) -> None:
    """Refuse an unusable --json/--out file before the work that produces it (minutes of training
    must not end in 'cannot write'): the folder must exist, the path must not be a folder, link or
    device. files.write_* checks again when it writes."""
    if not path:
        return
    import os
    import stat
    from pathlib import Path

    p = Path(path)
    if not p.parent.is_dir():
        raise TcatError(f"{p}: cannot write, {p.parent} is not an existing folder")
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        _probe(p)
        return
    except OSError as e:
        raise TcatError(f"{p}: cannot examine ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise TcatError(f"{p}: exists and is not a regular file; tcat only replaces regular files")


def _probe(path) -> None:
    """Whether a file can be created beside `path` (a permission check is not enough: root passes
    it for /proc and read-only mounts): a uniquely named empty file is created and removed."""
    import tempfile

    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
    except OSError as e:
        raise TcatError(f"{path}: cannot write ({e.strerror})") from None
    import os

    os.close(fd)
    os.unlink(name)


def read_inputs(texts: list[str]) -> list[str]:
    """The command's texts: its arguments, or else the lines of standard input (UTF-8)."""
    if texts:
        lines = texts
    else:
        try:
            lines = [line.rstrip("\n") for line in sys.stdin]
        except UnicodeDecodeError as e:
            raise TcatError(f"standard input is not UTF-8 text (byte {e.start}: {e.reason})") from None
    if not lines or not any(t.strip() for t in lines):
        raise TcatError("empty input: give the text as an argument or on standard input")
    return lines


def catalog():
    from ..catalog.load import load_catalog

    return load_catalog()


def console():
    from rich.console import Console

    c = Console()
    if not c.is_terminal:
        c.width = max(c.width, 160)  # piped output: do not squeeze tables to 80 columns
    return c
