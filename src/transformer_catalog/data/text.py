"""Reading a user's text file: one line naming the file (and the line) for what would otherwise be a
traceback — a folder or unreadable file, bytes that are not UTF-8."""

from __future__ import annotations

from pathlib import Path

from ..errors import TcatError


def read_text(path: str | Path, universal_newlines: bool = True) -> str:
    """The file decoded as UTF-8 (a leading byte-order mark is kept, as Python's utf-8 codec does).
    universal_newlines: \\r\\n and \\r become \\n, as Path.read_text does; off for csv, which reads
    line ends itself."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TcatError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise TcatError(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n") if universal_newlines else text
