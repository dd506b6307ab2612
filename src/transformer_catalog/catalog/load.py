"""Load the catalog: every data/models/*.yaml file, validated, with name and alias lookup.

The fast path parses and validates only; `lint` re-reads files with line numbers when something
is wrong. Errors name the file (and line, via lint), never a traceback.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import TcatError

DATA = Path(__file__).parent / "data"
MODELS = DATA / "models"
LINEAGE = DATA / "lineage.yaml"

def slug(name: str) -> str:
    """The file name of an entry: lower case, runs of other characters as one hyphen."""
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")


def read_yaml(path: Path):
    import yaml  # only needed when the cache is cold

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise TcatError(f"{path}{line}: malformed YAML: {problem}") from None


class Record:
    """Read-only attribute access over validated entry data (nested dicts and lists). Catalog
    views use these, so a cached catalog needs neither YAML parsing nor pydantic."""

    __slots__ = ("_d",)

    def __init__(self, data: dict):
        object.__setattr__(self, "_d", data)

    def __getattr__(self, name):
        try:
            value = self._d[name]
        except KeyError:
            raise AttributeError(name) from None
        if isinstance(value, dict):
            return Record(value)
        if isinstance(value, list):
            return [Record(v) if isinstance(v, dict) else v for v in value]
        return value

    def to_dict(self) -> dict:
        return self._d

    @property
    def max_params(self):
        known = [s["params"] for s in self._d.get("sizes", []) if s.get("params")]
        return max(known) if known else None

    @property
    def min_params(self):
        known = [s["params"] for s in self._d.get("sizes", []) if s.get("params")]
        return min(known) if known else None


@dataclass
class Catalog:
    entries: list = field(default_factory=list)
    lineage: list = field(default_factory=list)
    files: dict = field(default_factory=dict)  # entry name -> Path
    _index: dict = field(default_factory=dict)

    def __post_init__(self):
        for e in self.entries:
            for key in (e.name, *e.aliases):
                self._index.setdefault(key.lower(), e)

    def find(self, name: str):
        return self._index.get(name.lower())

    def get(self, name: str):
        entry = self.find(name)
        if entry is None:
            names = [e.name for e in self.entries] + [a for e in self.entries for a in e.aliases]
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.6) or \
                difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "; see 'tcat list'"
            raise TcatError(f"unknown model {name!r}{hint}")
        return entry

    def children(self, name: str) -> list:
        return sorted((e for e in self.entries if name in e.derived_from), key=lambda e: (e.date, e.name))


def _fingerprint(models: Path, lineage: Path) -> str:
    h = hashlib.sha1(__version__.encode())
    for p in sorted(models.glob("*.yaml")) + ([lineage] if lineage.exists() else []):
        st = p.stat()
        h.update(f"{p}:{st.st_mtime_ns}:{st.st_size}".encode())
    return h.hexdigest()[:16]


def _validate(models: Path, lineage: Path) -> tuple[list[dict], list[dict], dict]:
    from pydantic import ValidationError

    from .schema import Entry, Lineage

    entries, files = [], {}
    for path in sorted(models.glob("*.yaml")):
        data = read_yaml(path)
        try:
            entry = Entry.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "(entry)"
            raise TcatError(f"{path}: {loc}: {err['msg']} (run 'tcat catalog lint' for all problems)") from None
        entries.append(entry.model_dump(mode="json"))
        files[entry.name] = str(path)
    roots = []
    if lineage.exists():
        for item in read_yaml(lineage) or []:
            try:
                roots.append(Lineage.model_validate(item).model_dump(mode="json"))
            except ValidationError as e:
                raise TcatError(f"{lineage}: {e.errors()[0]['msg']} (run 'tcat catalog lint')") from None
    return entries, roots, files


def load_catalog(models: Path = MODELS, lineage: Path = LINEAGE) -> Catalog:
    """The validated catalog. On the first invalid file, raise one line naming it (run
    `tcat catalog lint` for every problem with line numbers). Validated data is cached by the
    files' sizes and modification times, so repeated commands skip parsing and validation."""
    from ..data.cache import cache_dir, write_json_atomic

    cache = cache_dir() / f"catalog-{_fingerprint(models, lineage)}.json"
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        entries, roots, files = _validate(models, lineage)
        data = {"entries": entries, "lineage": roots, "files": files}
        try:
            write_json_atomic(cache, data)
        except OSError:
            pass  # a read-only home still works, just without the cache
    return Catalog(entries=[Record(e) for e in data["entries"]], lineage=[Record(r) for r in data["lineage"]],
                   files={k: Path(v) for k, v in data["files"].items()})
