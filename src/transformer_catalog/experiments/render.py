"""Results of experiments (results.json) as a Markdown section for BENCHMARKS.md and as an HTML-safe
dict for the site: every string escaped, figures only as plain file names inside the results folder."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from ..errors import TcatError

REQUIRED = (
    "name",
    "claim",
    "control",
    "criterion",
    "metrics",
    "claim_holds",
    "control_fails",
    "setting",
    "command",
    "cpu_seconds",
    "machine",
    "figures",
    "date",
)
_FIGURE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.(png|svg)")  # a file name in the results folder, nothing else


def load_results(folder) -> dict:
    """results.json of a run folder, checked to have the fields renderers use."""
    path = Path(folder) / "results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TcatError(f"{path}: no results (run the experiment first)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TcatError(f"{path}: not readable results ({str(e).splitlines()[0][:120]})") from None
    missing = [k for k in REQUIRED if not isinstance(results, dict) or k not in results]
    if missing:
        raise TcatError(f"{path}: not an experiment's results (missing {', '.join(missing)})")
    return results


def fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def verdict(results: dict) -> str:
    if results["claim_holds"] and results["control_fails"]:
        return "demonstrated"
    if not results["claim_holds"]:
        return "not demonstrated: the claim did not hold"
    return "not demonstrated: the control succeeded too"


def machine_line(m: dict) -> str:
    isa = ", ".join(m.get("isa", [])) or "no listed ISA extensions"
    return f"{m.get('cpu', '?')} ({isa}), {m.get('threads', '?')} thread(s), torch {m.get('torch', '?')}"


def figures(results: dict) -> list[str]:
    return [f for f in results.get("figures", []) if isinstance(f, str) and _FIGURE.fullmatch(f)]


def _md(text) -> str:
    """Text safe inside a Markdown table or paragraph: no HTML, no table breaks."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def render_markdown(results: dict, figure_dir: str = "") -> str:
    """A BENCHMARKS.md section; `figure_dir`: where the figures are, relative to the Markdown file."""
    r = results
    lines = [
        f"### {_md(r['name'])}: {_md(verdict(r))}",
        "",
        f"**Claim.** {_md(r['claim'])}",
        "",
        f"**Control.** {_md(r['control'])}",
        "",
        f"**Criterion.** {_md(r['criterion'])}",
        "",
        *([f"**Missed.** {_md(r['miss'])}", ""] if r.get("miss") else []),
        "| measure | value |",
        "|---|---:|",
    ]
    lines += [f"| {_md(k)} | {_md(fmt(v))} |" for k, v in r["metrics"].items()]
    lines.append("")
    prefix = figure_dir.rstrip("/") + "/" if figure_dir else ""
    lines += [f"![{_md(r['name'])}]({prefix}{f})" for f in figures(r)]
    lines += [
        "",
        f"`{_md(r['command'])}` ({_md(r['setting'])} setting): {fmt(r['cpu_seconds'])} CPU seconds on "
        f"{_md(machine_line(r['machine']))}, {_md(r['date'])}.",
        "",
    ]
    return "\n".join(lines)


def render_summary(all_results: list[dict]) -> str:
    """One Markdown table row per experiment."""
    lines = ["| experiment | claim | verdict | setting | CPU s |", "|---|---|---|---|---:|"]
    for r in all_results:
        lines.append(
            f"| {_md(r['name'])} | {_md(r['claim'])} | {_md(verdict(r))} | {_md(r['setting'])} | "
            f"{fmt(r['cpu_seconds'])} |"
        )
    return "\n".join(lines) + "\n"


def render_html(results: dict) -> dict:
    """The fields a site template shows, each already HTML-escaped (safe with autoescape off; with
    jinja2's autoescape on, mark them |safe or pass the raw results instead)."""
    e = lambda text: html.escape(str(text), quote=True)  # noqa: E731
    r = results
    return {
        "name": e(r["name"]),
        "claim": e(r["claim"]),
        "control": e(r["control"]),
        "criterion": e(r["criterion"]),
        "miss": e(r.get("miss") or ""),  # by how much a target was missed, and why (a result that does not hold)
        "verdict": e(verdict(r)),
        "demonstrated": bool(r["claim_holds"] and r["control_fails"]),
        "metrics": [(e(k), e(fmt(v))) for k, v in r["metrics"].items()],
        "figures": [e(f) for f in figures(r)],
        "command": e(r["command"]),
        "setting": e(r["setting"]),
        "cpu_seconds": e(fmt(r["cpu_seconds"])),
        "machine": e(machine_line(r["machine"])),
        "date": e(r["date"]),
    }
