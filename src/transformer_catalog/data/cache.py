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
from ..files import write_json


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


def _digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def read_cached(path: Path):
    """What `write_cached` stored at `path`, or None: missing, unreadable, not JSON, not the
    envelope, or content that does not match its digest (a damaged or hand-edited file)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        envelope = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(envelope, dict) or set(envelope) != {"sha256", "data"}:
        return None
    if envelope["sha256"] != _digest(envelope["data"]):
        return None
    return envelope["data"]


def write_cached(path: Path, data) -> bool:
    """Store `data` (JSON) at `path` atomically, with its digest. Returns False, silently, when
    the cache cannot be written: caching is best effort."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"sha256": _digest(data), "data": data}, indent=None)
    except (OSError, TcatError):
        return False
    return True


def write_json_atomic(path: Path, obj) -> None:
    """Plain JSON, atomically, through files.write_json (kept for callers that read plain JSON).
    Raises OSError when the cache cannot be written, as before, so callers' fallbacks still apply."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, obj, indent=None)
    except TcatError as e:
        raise OSError(str(e)) from None
