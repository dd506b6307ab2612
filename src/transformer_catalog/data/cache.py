"""Where parsed corpora and computed catalog facts are cached: $TCAT_CACHE, else
~/.cache/transformer-catalog.

A cache is an optimisation, never a requirement: an unwritable or missing home, a TCAT_CACHE that
is a file, or a damaged cache file must not stop a command. Readers treat anything unexpected as a
miss (`read_cached`), writers skip silently when the folder cannot be written (`write_cached`).
Only commands that must keep something (installed data sets) use `writable_cache_dir`, which fails
in one line naming the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import TcatError
from ..files import write_bytes


def cache_dir() -> Path:
    """The cache folder's path; created when possible. It may not exist (then reads miss and
    writes are skipped). Raises TcatError only when no location can be named at all."""
    env = os.environ.get("TCAT_CACHE")
    if env:
        root = Path(env)
    else:
        try:
            root = Path.home() / ".cache" / "transformer-catalog"
        except (RuntimeError, KeyError):  # no HOME and no passwd entry
            raise TcatError(
                "cannot find a cache folder: HOME is not set; set TCAT_CACHE to a writable folder"
            ) from None
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    return root


def writable_cache_dir(sub: str = "") -> Path:
    """The cache folder (or its `sub` folder), created; TcatError naming it when that is impossible."""
    root = cache_dir()
    folder = root / sub if sub else root
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TcatError(
            f"cache folder {folder} cannot be created ({e.strerror}); set TCAT_CACHE to a writable folder"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise TcatError(f"cache folder {folder} is not writable; set TCAT_CACHE to a writable folder")
    return folder


_HEADER = b"tcat-cache-v1 sha256="


def read_cached(path: Path):
    """What `write_cached` stored at `path`, or None: missing, unreadable, not in the envelope
    (a header line with the sha256 of the JSON that follows), or JSON that does not match its
    digest (a damaged or hand-edited file). Hashing the raw bytes costs well under a millisecond."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    head, _, body = raw.partition(b"\n")
    if (
        not head.startswith(_HEADER)
        or head[len(_HEADER) :].decode("ascii", "replace") != hashlib.sha256(body).hexdigest()
    ):
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        return None


def write_cached(path: Path, data) -> bool:
    """Store `data` (JSON) at `path` atomically, behind a header with its digest. Returns False,
    silently, when the cache cannot be written: caching is best effort."""
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, _HEADER + hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body)
    except (OSError, TcatError):
        return False
    return True
