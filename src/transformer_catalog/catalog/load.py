"""Load the catalog: every data/models/*.yaml file, validated, with name and alias lookup.

The fast path parses and validates only; `lint` re-reads files with line numbers when something
is wrong. Errors name the file (and line, via lint), never a traceback.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import TcatError
from .factcheck import check as check_facts

DATA = Path(__file__).parent / "data"
MODELS = DATA / "models"
LINEAGE = DATA / "lineage.yaml"


def slug(name: str) -> str:
    """The file name of an entry: lower case, runs of other characters as one hyphen."""
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")


# Catalog entries are a few hundred YAML nodes. Anchors and aliases are allowed (a spec may reuse a
# block), but what they expand to is bounded: a 30-line "billion laughs" file would otherwise make
# every consumer walk (lint's line map, validation, the JSON cache) take minutes and gigabytes.
MAX_YAML_BYTES = 1 << 20
MAX_YAML_NODES = 100_000


def _loader():
    import yaml  # only needed when the cache is cold

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it


def yaml_text(path: Path) -> str:
    """The text of a catalog YAML file, checked: a regular file, at most MAX_YAML_BYTES, UTF-8."""
    try:
        # non-blocking open: a fifo named *.yaml must be refused, not waited on forever
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise TcatError(f"{path}: cannot read ({e.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise TcatError(f"{path}: not a regular file, expected a YAML file")
    with os.fdopen(fd, "rb") as f:
        try:
            raw = f.read(MAX_YAML_BYTES + 1)
        except OSError as e:
            raise TcatError(f"{path}: cannot read ({e.strerror})") from None
    if len(raw) > MAX_YAML_BYTES:
        raise TcatError(f"{path}: larger than {MAX_YAML_BYTES >> 20} MiB; a catalog file is a few kB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TcatError(f"{path}: not UTF-8 (byte {e.start})") from None


def check_expansion(text: str, path: Path) -> None:
    """Refuse YAML whose aliases expand to more than MAX_YAML_NODES nodes. Counts the parser's
    events (linear in the text) with each alias worth the size of what it names, and stops at
    the bound, so a bomb costs no more than reading it."""
    import yaml

    count = 0
    sizes: dict[str, int] = {}
    open_: list[tuple] = []
    for ev in yaml.parse(text, Loader=_loader()):
        if isinstance(ev, yaml.AliasEvent):
            count += sizes.get(ev.anchor, 1)
        elif isinstance(ev, yaml.ScalarEvent):
            count += 1
            if ev.anchor:
                sizes[ev.anchor] = 1
        elif isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            count += 1
            open_.append((ev.anchor, count))
        elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, start = open_.pop()
            if anchor:
                sizes[anchor] = count - start + 1
        if count > MAX_YAML_NODES:
            line = ev.start_mark.line + 1 if ev.start_mark else 1
            raise TcatError(
                f"{path}:{line}: YAML aliases expand to more than {MAX_YAML_NODES} nodes; "
                "a catalog entry is a few hundred"
            )


def _yaml_error(path: Path, e) -> TcatError:
    mark = getattr(e, "problem_mark", None)
    line = f":{mark.line + 1}" if mark else ""
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    return TcatError(f"{path}{line}: malformed YAML: {problem}")


def read_yaml(path: Path):
    """Parsed YAML of a catalog file, bounded in size and alias expansion; errors in one line."""
    import yaml

    text = yaml_text(path)
    try:
        check_expansion(text, path)
        return yaml.load(text, Loader=_loader())
    except yaml.YAMLError as e:
        raise _yaml_error(path, e) from None


def model_files(models: Path) -> list[Path]:
    """The entry files of a models folder; a missing folder, a file or a folder without entries
    is an error (never an empty catalog that reports "no problems")."""
    models = Path(models)
    if not models.exists():
        raise TcatError(f"{models}: no such folder (expected the folder of catalog entry YAML files)")
    if not models.is_dir():
        raise TcatError(f"{models}: not a folder (expected the folder of catalog entry YAML files)")
    found = sorted(models.glob("*.yaml"))
    if not found:
        raise TcatError(f"{models}: no catalog entry files (*.yaml) in this folder")
    return found


def check_lineage_file(lineage: Path) -> None:
    if not Path(lineage).is_file():
        what = "no such file" if not Path(lineage).exists() else "not a file"
        raise TcatError(f"{lineage}: {what}; the lineage roots (lineage.yaml) are part of the catalog")


@dataclass(frozen=True)
class Inconsistency:
    """A problem between entries (not within one): found by `consistency`, shown by lint with a
    line number and raised by the loader as one line."""

    index: int | None  # the entry at fault (its position in the list given), None: lineage.yaml
    where: tuple  # key path inside that entry, e.g. ("derived_from", 0)
    message: str


def consistency(entries: list[dict], roots: list[dict], stems: list[str] | None = None) -> list[Inconsistency]:
    """Every consistency problem of validated entries (dicts) and lineage roots: unique names and
    aliases, the file named after the entry (`stems`: each entry's file stem), parents that exist
    and are not the entry itself, no cycles, dates no later than the arXiv id, unique roots whose
    leads_to exist, and the issue-19 facts (factcheck.py: base_model names, compute against 6·N·D).
    Duplicates come first: the loader raises the first problem, and a copied file is the likeliest
    cause of a misnamed one."""
    out: list[Inconsistency] = []
    # unique names and aliases (names first: an alias that shadows a name is the one at fault)
    seen: dict[str, str] = {}
    keyed = [(e["name"], ("name",), i) for i, e in enumerate(entries)]
    keyed += [(a, ("aliases", j), i) for i, e in enumerate(entries) for j, a in enumerate(e.get("aliases") or [])]
    for key, where, i in keyed:
        k, name = key.lower(), entries[i]["name"]
        if k in seen and (seen[k] != name or where == ("name",)):
            out.append(Inconsistency(i, where, f"{key!r} is already used by {seen[k]!r}"))
        seen.setdefault(k, name)
    for i, (e, stem) in enumerate(zip(entries, stems or [])):
        if stem != slug(e["name"]):
            out.append(Inconsistency(i, ("name",), f"file should be named {slug(e['name'])}.yaml"))
    root_names: dict[str, str] = {}
    for r in roots:
        if r["name"].lower() in root_names or r["name"].lower() in seen:
            out.append(
                Inconsistency(
                    None, ("lineage",), f"lineage root {r['name']!r} is defined twice or is also a catalog entry"
                )
            )
        root_names[r["name"].lower()] = r["name"]
    for r in roots:
        for nxt in r.get("leads_to") or []:
            if nxt.lower() not in root_names and nxt.lower() not in seen:
                out.append(
                    Inconsistency(
                        None, ("lineage",), f"lineage root {r['name']!r} leads to {nxt!r}, which is not in the catalog"
                    )
                )
    known = set(seen) | set(root_names)
    for i, e in enumerate(entries):
        for j, parent in enumerate(e.get("derived_from") or []):
            if parent.lower() == e["name"].lower():
                out.append(Inconsistency(i, ("derived_from", j), f"{parent!r} is derived from itself"))
            elif parent.lower() not in known:
                out.append(Inconsistency(i, ("derived_from", j), f"{parent!r} is not a catalog entry or lineage root"))
        out += [Inconsistency(i, where, msg) for where, msg in check_facts(e, seen)]
        arxiv = (e.get("references") or {}).get("arxiv")
        if arxiv:
            arxiv_month = f"20{arxiv[:2]}-{arxiv[2:4]}"
            if e["date"] > arxiv_month:
                out.append(
                    Inconsistency(
                        i,
                        ("date",),
                        f"{e['date']} is later than its arXiv id {arxiv} ({arxiv_month}): the model was public by then",
                    )
                )
    # cycles in derived_from, through names and aliases (a self parent is reported above)
    index = {e["name"].lower(): i for i, e in reversed(list(enumerate(entries)))}  # the first of a name
    canon = {k: v.lower() for k, v in seen.items()}
    graph = {
        n: [canon.get(p.lower(), p.lower()) for p in entries[i].get("derived_from") or [] if p.lower() != n]
        for n, i in index.items()
    }
    state: dict[str, int] = {}

    def visit(n, stack):
        state[n] = 1
        for p in graph.get(n, []):
            if state.get(p) == 1:
                cycle = stack[stack.index(p) :] + [n, p] if p in stack else stack + [n, p]
                out.append(
                    Inconsistency(
                        index[n], ("derived_from",), "cycle: " + " -> ".join(entries[index[c]]["name"] for c in cycle)
                    )
                )
            elif state.get(p) is None and p in graph:
                visit(p, stack + [n])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [])
    return out


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
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.6) or difflib.get_close_matches(
                name.lower(), [n.lower() for n in names], n=3, cutoff=0.6
            )
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "; see 'tcat list'"
            raise TcatError(f"unknown model {name!r}{hint}")
        return entry

    def children(self, name: str) -> list:
        return sorted((e for e in self.entries if name in e.derived_from), key=lambda e: (e.date, e.name))


def _fingerprint(models: Path, lineage: Path) -> str:
    h = hashlib.sha1(__version__.encode())
    # schema.py too: the cache holds what the schema dumped, so a changed schema (a field dropped or
    # renamed within one version, as in a development checkout) must not be served from old data
    for p in model_files(models) + [lineage, Path(__file__).with_name("schema.py")]:
        try:
            st = p.stat()
        except OSError:
            continue  # reported by _validate, which a missing file makes run
        h.update(f"{p}:{st.st_mtime_ns}:{st.st_size}".encode())
    return h.hexdigest()[:16]


def _validate(models: Path, lineage: Path) -> tuple[list[dict], list[dict], dict]:
    from pydantic import ValidationError

    from .schema import Entry, Lineage

    hint = "(run 'tcat catalog lint' for all problems)"
    entries, files, paths = [], {}, model_files(models)
    for path in paths:
        data = read_yaml(path)
        try:
            entry = Entry.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "(entry)"
            raise TcatError(f"{path}: {loc}: {err['msg']} {hint}") from None
        entries.append(entry.model_dump(mode="json"))
        files.setdefault(entry.name, str(path))
    check_lineage_file(lineage)
    items = read_yaml(lineage)
    if items is not None and not isinstance(items, list):
        raise TcatError(f"{lineage}: expected a list of lineage roots {hint}")
    roots = []
    for i, item in enumerate(items or []):
        try:
            roots.append(Lineage.model_validate(item).model_dump(mode="json"))
        except ValidationError as e:
            raise TcatError(f"{lineage}: [{i}]: {e.errors()[0]['msg']} {hint}") from None
    problems = consistency(entries, roots, [p.stem for p in paths])
    if problems:
        p = problems[0]
        file = lineage if p.index is None else paths[p.index]
        raise TcatError(f"{file}: {'.'.join(map(str, p.where))}: {p.message} {hint}")
    return entries, roots, files


def _cached_shape_ok(data) -> bool:
    """A cache file is trusted only in the shape _validate writes (its digest is checked too)."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("entries"), list)
        and isinstance(data.get("lineage"), list)
        and isinstance(data.get("files"), dict)
        and all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in data["entries"] + data["lineage"])
        and all(isinstance(v, str) for v in data["files"].values())
    )


def load_catalog(models: Path = MODELS, lineage: Path = LINEAGE) -> Catalog:
    """The validated catalog. On the first invalid file or inconsistency (the same checks as
    lint), raise one line naming it (`tcat catalog lint` lists every problem with line numbers).
    Validated data is cached by the files' sizes and modification times, so repeated commands skip
    parsing and validation; a damaged cache file is a miss, an unwritable cache is skipped."""
    from ..data.cache import cache_dir, read_cached, write_cached

    models, lineage = Path(models), Path(lineage)
    cache = cache_dir() / f"catalog-{_fingerprint(models, lineage)}.json"
    data = read_cached(cache)
    if not _cached_shape_ok(data):
        entries, roots, files = _validate(models, lineage)
        data = {"entries": entries, "lineage": roots, "files": files}
        write_cached(cache, data)  # a read-only home still works, just without the cache
    return Catalog(
        entries=[Record(e) for e in data["entries"]],
        lineage=[Record(r) for r in data["lineage"]],
        files={k: Path(v) for k, v in data["files"].items()},
    )
