"""Where parsed corpora are cached: $TCAT_CACHE, else ~/.cache/transformer-catalog."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    root = Path(os.environ.get("TCAT_CACHE") or Path.home() / ".cache" / "transformer-catalog")
    root.mkdir(parents=True, exist_ok=True)
    return root


def write_json_atomic(path: Path, obj) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    os.replace(tmp, path)
