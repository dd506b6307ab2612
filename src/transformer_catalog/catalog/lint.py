"""`tcat catalog lint`: every schema error and consistency problem, as `file:line: field: message`.

Consistency checks beyond the schema: the file is named after the entry; names and aliases are
unique; derived_from names exist and form no cycle; the date is no later than the arXiv id's
month (a model is public once its paper is); a lab is spelled one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .load import LINEAGE, MODELS, slug


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
            out.update({p: l for p, l in _lines(v, prefix + (k.value,)).items() if p != prefix + (k.value,)})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(_lines(item, prefix + (i,)))
    return out


def _line(lines: dict, loc: tuple) -> int:
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def lint(models: Path = MODELS, lineage: Path = LINEAGE) -> list[Problem]:
    from pydantic import ValidationError

    from .schema import Entry, Lineage

    problems: list[Problem] = []
    entries: dict[str, tuple] = {}  # name -> (entry, path, lines)
    for path in sorted(models.glob("*.yaml")):
        rel = str(path)
        text = path.read_text(encoding="utf-8")
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            problems.append(Problem(rel, mark.line + 1 if mark else 1, "(yaml)",
                                    f"malformed YAML: {getattr(e, 'problem', None) or e}"))
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
                elif err["type"] == "literal_error":
                    msg = f"{err['input']!r} is not allowed; use one of {err['ctx']['expected']}"
                problems.append(Problem(rel, _line(lines, loc), field, msg))
            continue
        if path.stem != slug(entry.name):
            problems.append(Problem(rel, _line(lines, ("name",)), "name", f"file should be named {slug(entry.name)}.yaml"))
        entries[entry.name] = (entry, rel, lines)

    roots = {}
    if lineage.exists():
        for i, item in enumerate(yaml.safe_load(lineage.read_text(encoding="utf-8")) or []):
            try:
                roots[item["name"]] = Lineage.model_validate(item)
            except (ValidationError, TypeError, KeyError) as e:
                problems.append(Problem(str(lineage), 1, f"[{i}]", str(e).splitlines()[0]))

    # unique names and aliases (names first: an alias that shadows a name is the one at fault)
    seen: dict[str, str] = {}
    keyed = [(e.name, ("name",), name, rel, lines) for name, (e, rel, lines) in entries.items()]
    keyed += [(a, ("aliases", i), name, rel, lines) for name, (e, rel, lines) in entries.items()
              for i, a in enumerate(e.aliases)]
    for key, where, name, rel, lines in keyed:
        k = key.lower()
        if k in seen and seen[k] != name:
            problems.append(Problem(rel, _line(lines, where), ".".join(map(str, where)),
                                    f"{key!r} is already used by {seen[k]!r}"))
        seen.setdefault(k, name)

    known = {n.lower() for n in seen} | {n.lower() for n in roots}
    for name, (entry, rel, lines) in entries.items():
        for i, parent in enumerate(entry.derived_from):
            if parent.lower() not in known:
                problems.append(Problem(rel, _line(lines, ("derived_from", i)), f"derived_from.{i}",
                                        f"{parent!r} is not a catalog entry or lineage root"))
        arxiv = entry.references.arxiv
        if arxiv:
            arxiv_month = f"20{arxiv[:2]}-{arxiv[2:4]}"
            if entry.date > arxiv_month:
                problems.append(Problem(rel, _line(lines, ("date",)), "date",
                                        f"{entry.date} is later than its arXiv id {arxiv} ({arxiv_month}): "
                                        "the model was public by then"))

    # cycles in derived_from
    graph = {name.lower(): [p.lower() for p in e.derived_from] for name, (e, _, _) in entries.items()}
    state: dict[str, int] = {}

    def visit(n, stack):
        state[n] = 1
        for p in graph.get(n, []):
            if state.get(p) == 1:
                entry, rel, lines = entries[next(k for k in entries if k.lower() == n)]
                problems.append(Problem(rel, _line(lines, ("derived_from",)), "derived_from",
                                        f"cycle: {' -> '.join(stack + [n, p])}"))
            elif state.get(p) is None and p in graph:
                visit(p, stack + [n])
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n, [])
    return sorted(problems)
