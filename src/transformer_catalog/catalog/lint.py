"""`tcat catalog lint`: every schema error and consistency problem, as `file:line: field: message`.

Consistency checks beyond the schema (load.consistency, which the loader applies too): the file is
named after the entry; names and aliases are unique; derived_from names exist, are not the entry
itself and form no cycle; the date is no later than the arXiv id's month (a model is public once
its paper is); lineage roots are unique. YAML is read bounded (size, alias expansion) as the
loader reads it. A missing models folder, a file, or a folder without entries is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import TcatError
from .load import LINEAGE, MODELS, check_expansion, consistency, model_files, yaml_text


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


def _lines(node, prefix=()) -> dict[tuple, int]:
    """Map each key path (as a tuple) to its 1-based line in the YAML file."""
    out = {prefix: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out[prefix + (k.value,)] = k.start_mark.line + 1
            out.update({p: n for p, n in _lines(v, prefix + (k.value,)).items() if p != prefix + (k.value,)})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(_lines(item, prefix + (i,)))
    return out


def _line(lines: dict, loc: tuple) -> int:
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def _read(path: Path, problems: list) -> tuple:
    """(data, node) of a YAML file, or (None, None) with the problem recorded."""
    try:
        text = yaml_text(path)
        check_expansion(text, path)
        return yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader)
    except TcatError as e:
        msg = str(e).removeprefix(str(path))
        line = int(msg[1:].split(":", 1)[0]) if msg[:2].startswith(":") and msg[1:2].isdigit() else 1
        problems.append(Problem(str(path), line, "(file)", msg.split(": ", 1)[-1]))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problems.append(
            Problem(
                str(path), mark.line + 1 if mark else 1, "(yaml)", f"malformed YAML: {getattr(e, 'problem', None) or e}"
            )
        )
    return None, None


def lint(models: Path = MODELS, lineage: Path = LINEAGE) -> list[Problem]:
    """Every problem, sorted. TcatError when `models` is not a folder of entry files."""
    from pydantic import ValidationError

    from .schema import Entry, Lineage

    problems: list[Problem] = []
    located: list[tuple] = []  # (path, lines) of each valid entry
    valid: list[dict] = []
    stems: list[str] = []
    for path in model_files(Path(models)):
        rel = str(path)
        data, node = _read(path, problems)
        if node is None:
            continue
        if not isinstance(data, dict):
            problems.append(Problem(rel, 1, "(entry)", "expected a mapping of fields"))
            continue
        lines = _lines(node)
        try:
            entry = Entry.model_validate(data)
        except ValidationError as e:
            for err in e.errors():
                loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
                field = ".".join(str(p) for p in loc) or "(entry)"
                msg = err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    msg = "unknown field"
                elif err["type"] == "missing":
                    msg = f"missing: {loc[-1]} is required here" if loc else "missing"
                elif err["type"] == "literal_error":
                    msg = f"{err['input']!r} is not allowed; use one of {err['ctx']['expected']}"
                problems.append(Problem(rel, _line(lines, loc), field, msg))
            continue
        valid.append(entry.model_dump(mode="json"))
        stems.append(path.stem)
        located.append((rel, lines))

    roots = []
    lineage = Path(lineage)
    if not lineage.is_file():
        problems.append(Problem(str(lineage), 1, "(file)", "missing: the lineage roots are part of the catalog"))
    else:
        items, _ = _read(lineage, problems)
        if items is not None and not isinstance(items, list):
            problems.append(Problem(str(lineage), 1, "(file)", "expected a list of lineage roots"))
            items = []
        for i, item in enumerate(items or []):
            try:
                roots.append(Lineage.model_validate(item).model_dump(mode="json"))
            except ValidationError as e:
                problems.append(Problem(str(lineage), 1, f"[{i}]", str(e).splitlines()[0]))

    for p in consistency(valid, roots, stems):
        if p.index is None:
            problems.append(Problem(str(lineage), 1, "lineage", p.message))
        else:
            rel, lines = located[p.index]
            problems.append(Problem(rel, _line(lines, p.where), ".".join(map(str, p.where)), p.message))
    return sorted(problems)
