"""Data objects of an installed R package, read without R.

An R package's `data/` folder holds its lazy-load database: `Rdata.rdx` (a gzip-compressed serialized
R list: each object's offset and length in the `.rdb`, and the compression used) and `Rdata.rdb` (the
objects one after another, each a 4-byte big-endian uncompressed length, then the compressed
serialization). Compression 1 is zlib; 2 and 3 add a type byte after the length ('Z': raw LZMA2 with
xz preset 6, as R's `R_compress3` writes it; '2': bzip2; '1': zlib; '0': stored). The serialized
objects are then parsed and converted with PyPI `rdata` (a reader of R's format, not pickle: nothing
is executed). Debian ships CRAN packages as `r-cran-<name>` under /usr/lib/R/site-library.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import lzma
import os
import struct
import warnings
import zlib
from pathlib import Path

from ..errors import TcatError

# The packages the course reads, by their Debian package name (what the error tells the user to install).
DEBIAN = {"janeaustenr": "r-cran-janeaustenr", "dslabs": "r-cran-dslabs", "modeldata": "r-cran-modeldata"}
_LZMA = [{"id": lzma.FILTER_LZMA2, "preset": 6}]


def library() -> Path:
    """Where R packages are looked for (TCAT_R_LIBRARY overrides Debian's site library)."""
    return Path(os.environ.get("TCAT_R_LIBRARY", "/usr/lib/R/site-library"))


def install_hint(package: str) -> str:
    return f"sudo apt-get install {DEBIAN.get(package, 'r-cran-' + package.lower())} (or 'make data')"


def _parse(blob: bytes, what: str):
    try:
        import rdata
    except ImportError:
        raise TcatError("reading R data needs rdata: pip install rdata") from None
    with warnings.catch_warnings():  # a bare serialization has no RDS/RDA magic: rdata warns, then reads it
        warnings.simplefilter("ignore")
        try:
            return rdata.conversion.convert(rdata.parser.parse_data(blob))
        except Exception as e:  # rdata raises many types on a damaged stream; all mean the same here
            raise TcatError(f"{what}: not a readable R serialization ({type(e).__name__})") from None


@functools.cache
def _index(package: str, folder: str) -> tuple[dict[str, tuple[int, int]], int]:
    data = Path(folder) / "data"
    rdx, rdb = data / "Rdata.rdx", data / "Rdata.rdb"
    if not rdx.is_file() or not rdb.is_file():
        raise TcatError(f"R package {package}: {rdx} not found; install it with {install_hint(package)}")
    try:
        raw = gzip.decompress(rdx.read_bytes())
    except (OSError, EOFError, zlib.error):
        raise TcatError(f"{rdx}: not a gzip-compressed R index") from None
    index = _parse(raw, str(rdx))
    try:
        variables = {str(k): (int(v[0]), int(v[1])) for k, v in index["variables"].items()}
        compressed = int(index["compressed"][0])
    except (KeyError, TypeError, IndexError, ValueError):
        raise TcatError(f"{rdx}: not a lazy-load index (no variables / compressed)") from None
    return variables, compressed


def r_objects(package: str) -> list[str]:
    """The names of the data objects the package ships."""
    return sorted(_index(package, str(library() / package))[0])


def _decompress(blob: bytes, compressed: int, what: str) -> bytes:
    if len(blob) < 5:
        raise TcatError(f"{what}: truncated entry")
    size, body = struct.unpack(">I", blob[:4])[0], blob[4:]
    try:
        if compressed == 1:
            out = zlib.decompress(body)
        elif compressed in (2, 3):
            kind, body = body[:1], body[1:]
            if kind == b"Z":
                out = lzma.decompress(body, format=lzma.FORMAT_RAW, filters=_LZMA)
            elif kind == b"2":
                out = bz2.decompress(body)
            elif kind == b"1":
                out = zlib.decompress(body)
            elif kind == b"0":
                out = body
            else:
                raise TcatError(f"{what}: unknown compression type {kind!r}")
        else:
            raise TcatError(f"{what}: unknown compression {compressed}")
    except (zlib.error, lzma.LZMAError, OSError, ValueError):
        raise TcatError(f"{what}: damaged compressed data") from None
    if len(out) != size:
        raise TcatError(f"{what}: {len(out)} bytes after decompression, the index says {size}")
    return out


def r_object(package: str, name: str):
    """One data object, converted by rdata (a data.frame becomes a pandas DataFrame, a character vector a
    NumPy array of str). Cached per library folder: the callers treat it as read-only."""
    return _object(package, name, str(library() / package))


@functools.cache
def _object(package: str, name: str, where: str):
    folder = Path(where)
    variables, compressed = _index(package, where)
    if name not in variables:
        raise TcatError(f"R package {package} has no data object {name!r} (it has {len(variables)}: see r_objects)")
    offset, length = variables[name]
    rdb = folder / "data" / "Rdata.rdb"
    with open(rdb, "rb") as f:
        f.seek(offset)
        blob = f.read(length)
    if len(blob) != length:
        raise TcatError(f"{rdb}: {name} is cut short ({len(blob)} of {length} bytes)")
    what = f"{rdb}: {name}"
    return _parse(_decompress(blob, compressed, what), what)
