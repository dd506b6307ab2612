"""Load the catalog: every data/models/*.yaml file, validated, with name and alias lookup.

The fast path parses and validates only; `lint` re-reads files with line numbers when something
is wrong. Errors name the file (and line, via lint), never a traceback.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import TcatError

DATA = Path(__file__).parent / "data"
MODELS = DATA / "models"
LINEAGE = DATA / "lineage.yaml"

try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader


def slug(name: str) -> str:
    """The file name of an entry: lower case, runs of other characters as one hyphen."""
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")


def read_yaml(path: Path):
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise TcatError(f"{path}{line}: malformed YAML: {problem}") from None


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


def load_catalog(models: Path = MODELS, lineage: Path = LINEAGE) -> Catalog:
    """The validated catalog. On the first invalid file, raise one line naming it (run
    `tcat catalog lint` for every problem with line numbers)."""
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
        entries.append(entry)
        files[entry.name] = path
    roots = []
    if lineage.exists():
        for item in read_yaml(lineage) or []:
            roots.append(Lineage.model_validate(item))
    return Catalog(entries=entries, lineage=roots, files=files)
