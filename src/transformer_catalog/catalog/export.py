"""Exports: JSON (with its published JSON Schema), CSV, Markdown, BibTeX and LaTeX."""

from __future__ import annotations

import csv
import io
import json

from .. import __version__
from .query import amount, fact, size_range
from .text import md, md_link

SCHEMA_ID = "catalog-v1.schema.json"  # published in the repository as schema/catalog-v1.schema.json


def json_schema() -> dict:
    from .schema import Entry

    entry = Entry.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "transformer-catalog export",
        "type": "object",
        "required": ["version", "entries"],
        "properties": {"version": {"type": "string"}, "entries": {"type": "array", "items": {"$ref": "#/$defs/Entry"}}},
        "$defs": {**entry.pop("$defs", {}), "Entry": entry},
    }


def to_json(entries) -> str:
    return json.dumps(
        {"$schema": SCHEMA_ID, "version": __version__, "entries": [e.to_dict() for e in entries]},
        indent=2,
        ensure_ascii=False,
    )


CSV_COLUMNS = [
    "name",
    "aliases",
    "family",
    "derived_from",
    "architecture",
    "pretraining_tasks",
    "finetuning_task",
    "date",
    "params_min",
    "params_max",
    "sizes",
    "corpus",
    "license_category",
    "license_spdx",
    "lab",
    "paper",
    "arxiv",
    "in_paper",
    "corrections",
    # issue 19's facts: empty where the entry does not record one, "undisclosed" where it is null
    "date_kind",
    "context_length",
    "training_tokens",
    "training_tokens_variant",
    "training_compute_flop",
    "training_compute_method",
    "training_compute_confidence",
    "training_compute_variant",
    "active_params",
    "hardware",
    "hardware_count",
    "open_weights",
    "weights_format",
    "license_changes",
    "input_modalities",
    "output_modalities",
    "base_model",
    "hybrid_layers",
]


def _number(entry, name: str, key: str):
    node = fact(entry, name)
    if node is None:
        return ""
    value = fact(node, key)
    return "undisclosed" if value is None else value


def _flag(value) -> str:
    return "" if value is None else str(value).lower()


def fact_cells(e) -> list:
    """The CSV cells of issue 19's facts, in CSV_COLUMNS order."""
    compute = fact(e, "training_compute")
    weights = fact(e, "open_weights")
    modalities = fact(e, "modalities")
    return [
        fact(e, "date_kind") or "",
        _number(e, "context_length", "tokens"),
        _number(e, "training_tokens", "tokens"),
        fact(e, "training_tokens", "variant") or "",
        _number(e, "training_compute", "flop"),
        fact(compute, "method") or "",
        fact(compute, "confidence") or "",
        fact(compute, "variant") or "",
        "; ".join(f"{s.variant}={fact(s, 'active_params')}" for s in e.sizes if fact(s, "active_params")),
        fact(e, "hardware", "kind") or "",
        fact(e, "hardware", "count") or "",
        _flag(fact(weights, "open")),
        fact(weights, "format") or "",
        "; ".join(f"{c.date} {c.license}" for c in fact(weights, "license_changes") or []),
        "; ".join(fact(modalities, "input") or []),
        "; ".join(fact(modalities, "output") or []),
        "; ".join(fact(e, "base_model") or []),
        fact(e, "hybrid", "layers") or "",
    ]


def to_csv(entries) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for e in entries:
        w.writerow(
            [
                e.name,
                "; ".join(e.aliases),
                e.family,
                "; ".join(e.derived_from),
                e.architecture,
                "; ".join(e.pretraining_tasks),
                e.finetuning_task or "",
                e.date,
                e.min_params or "",
                e.max_params or "",
                "; ".join(f"{s.variant}={s.params if s.params else 'undisclosed'}" for s in e.sizes),
                e.corpus,
                e.license.category,
                e.license.spdx or "",
                "; ".join(e.lab),
                e.references.paper or "",
                e.references.arxiv or "",
                e.in_paper,
                len(e.corrections),
                *fact_cells(e),
            ]
        )
    return out.getvalue()


def to_markdown(entries) -> str:
    """A GitHub-style table. Every cell is escaped (HTML and Markdown syntax), and the paper link is
    live only for an http(s) URL: the export may be rendered by a site that trusts it."""
    lines = [
        "| model | date | family | architecture | pretraining | parameters | context | training tokens "
        "| compute (FLOP) | open weights | license | lab | paper |",
        "|---|---|---|---|---|---:|---:|---:|---:|---|---|---|---|",
    ]
    for e in entries:
        r = e.references
        link = r.paper or (f"https://arxiv.org/abs/{r.arxiv}" if r.arxiv else None)
        cells = [
            md(e.name),
            md(e.date),
            md(e.family),
            md(e.architecture),
            md(", ".join(e.pretraining_tasks)),
            md(size_range(e)),
            md(amount(e, "context_length")),
            md(amount(e, "training_tokens")),
            md(amount(e, "training_compute")),
            md({True: "yes", False: "no"}.get(fact(e, "open_weights", "open"), "")),
            md(e.license.spdx or e.license.category),
            md(", ".join(e.lab)),
            md_link(str(r.year), link),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _bib(text: str) -> str:
    return (
        text.replace("\\", "\\textbackslash{}")
        .replace("{", "\\{")
        .replace("}", "\\}")
        .replace("&", "\\&")
        .replace("%", "\\%")
        .replace("#", "\\#")
        .replace("_", "\\_")
    )


def to_bibtex(entries) -> str:
    seen, out = set(), []
    for e in entries:
        r = e.references
        if r.bibtex_key in seen:
            continue
        seen.add(r.bibtex_key)
        author = _bib(r.authors).replace(" et al.", " and others")
        fields = [f"  title = {{{{{_bib(r.title)}}}}}", f"  author = {{{author}}}", f"  year = {{{r.year}}}"]
        if r.arxiv:
            fields += [
                f"  eprint = {{{r.arxiv}}}",
                "  archivePrefix = {arXiv}",
                f"  journal = {{arXiv preprint arXiv:{r.arxiv}}}",
            ]
        if r.paper:
            fields.append(f"  url = {{{r.paper}}}")
        fields.append(f"  note = {{Catalog entry: {_bib(e.name)}}}")
        kind = "article" if r.arxiv else "misc"
        out.append(f"@{kind}{{{r.bibtex_key},\n" + ",\n".join(fields) + "\n}\n")
    return "\n".join(out)


_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _tex(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def to_latex(entries) -> str:
    rows = [
        f"{_tex(e.name)} & {e.date} & {_tex(e.family)} & {e.architecture} & {_tex(', '.join(e.pretraining_tasks))} & "
        f"{_tex(size_range(e))} & {_tex(', '.join(e.lab))} & \\cite{{{e.references.bibtex_key}}} \\\\"
        for e in entries
    ]
    return (
        "\n".join(
            [
                "% Generated by tcat export --format latex; needs \\usepackage{longtable}",
                "\\begin{longtable}{llllllll}",
                "\\hline",
                "Model & Date & Family & Architecture & Pretraining & Parameters & Lab & Ref. \\\\",
                "\\hline\\endhead",
                *rows,
                "\\hline",
                "\\end{longtable}",
            ]
        )
        + "\n"
    )


FORMATS = {"json": to_json, "csv": to_csv, "markdown": to_markdown, "bibtex": to_bibtex, "latex": to_latex}
__all__ = ["FORMATS", "json_schema"]
