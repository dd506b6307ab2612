"""Filtering and sorting the catalog, with bad filter values reported in one line."""

from __future__ import annotations

import re

from ..errors import TcatError
from .vocab import ARCHITECTURES, LABS, LICENSE_CATEGORIES, TASKS

_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}


def parse_params(text: str, flag: str) -> int:
    """'350M', '1.5B', '2e9', '1T' -> a parameter count."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmbt]?)\s*", text.lower())
    if not m:
        raise TcatError(f"{flag} {text!r}: expected a number such as 350M, 1.5B or 2e9")
    value = float(m.group(1)) * _SUFFIX[m.group(2)]
    if not value < 1e18:  # also inf (1e400): int() of it would be a traceback
        raise TcatError(f"{flag} {text!r}: too large a parameter count (at most 1e18)")
    return int(value)


def parse_month(text: str, flag: str, end: bool = False) -> str:
    """'2020' or '2020-05' -> 'YYYY-MM' (a bare year means its first month, or its last for --before)."""
    if re.fullmatch(r"(19|20)\d\d", text):
        return f"{text}-{'12' if end else '01'}"
    if re.fullmatch(r"(19|20)\d\d-(0[1-9]|1[0-2])", text):
        return text
    raise TcatError(f"{flag} {text!r}: expected a year (2020) or a month (2020-05)")


def _choice(value: str, allowed, flag: str) -> str:
    for a in allowed:
        if a.lower() == value.lower():
            return a
    raise TcatError(f"{flag} {value!r}: use one of {', '.join(allowed)}")


def human(n: int | None) -> str:
    """12345 -> 12.3K, 1.5e9 -> 1.5B; a value that rounds to 1000 of a unit is written in the unit
    above (999_500 -> 1M, not 1e+03K), and one past 1000T in scientific notation (1e+15)."""
    if n is None:
        return "?"
    units = ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K"))
    above = None
    for div, unit in units:
        if float(f"{n / div:.3g}") >= 1000:
            return f"{n / above[0]:.3g}{above[1]}" if above else f"{n:.3g}"
        if n >= div:
            return f"{n / div:.3g}{unit}"
        above = (div, unit)
    if float(f"{n:.3g}") >= 1000:
        return f"{n / 1000:.3g}K"
    return str(n)


def fact(entry, *path):
    """entry.a.b... or None where any step is absent: the issue-19 facts are optional, and a view
    may be handed entries (or a cache) from before a field existed."""
    node = entry
    for key in path:
        node = getattr(node, key, None) if not isinstance(node, dict) else node.get(key)
        if node is None:
            return None
    return node


def context_text(n: int | None) -> str:
    """Context windows are powers of two or round thousands: 131072 -> 128K, 1000000 -> 1M."""
    if n is None:
        return "undisclosed"
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    if n >= 1024 and n % 1024 == 0:
        return f"{n >> 10}K"
    return human(n)


def flop_text(x: float | None) -> str:
    return "undisclosed" if x is None else f"{x:.2g}"


AMOUNTS = {  # fact -> (its number's key, how to show it)
    "context_length": ("tokens", context_text),
    "training_tokens": ("tokens", lambda v: "undisclosed" if v is None else human(v)),
    "training_compute": ("flop", flop_text),
}


def amount(entry, name: str) -> str:
    """A fact's number for a table: '' when the entry does not record it, 'undisclosed' when null."""
    node = fact(entry, name)
    if node is None:
        return ""
    key, show = AMOUNTS[name]
    return show(fact(node, key))


def size_range(entry) -> str:
    lo, hi = entry.min_params, entry.max_params
    if hi is None:
        return "undisclosed"
    return human(hi) if lo == hi else f"{human(lo)}–{human(hi)}"


def select(
    catalog,
    family=None,
    arch=None,
    task=None,
    lab=None,
    license=None,
    after=None,
    before=None,
    min_params=None,
    max_params=None,
    search=None,
    sort="date",
    reverse=False,
) -> list:
    entries = list(catalog.entries)
    if family:
        families = sorted({e.family for e in entries})
        fam = _choice(family, families, "--family")
        entries = [e for e in entries if e.family == fam]
    if arch:
        a = _choice(arch, ARCHITECTURES, "--arch")
        entries = [e for e in entries if e.architecture == a]
    if task:
        t = _choice(task, list(TASKS), "--task")
        entries = [e for e in entries if t in e.pretraining_tasks]
    if lab:
        canon = {k.lower(): v for k, v in LABS.items()}
        if lab.lower() not in canon:
            raise TcatError(f"--lab {lab!r}: unknown lab; known: {', '.join(sorted(set(LABS.values())))}")
        entries = [e for e in entries if canon[lab.lower()] in e.lab]
    if license:
        c = _choice(license, list(LICENSE_CATEGORIES), "--license")
        entries = [e for e in entries if e.license.category == c]
    if after:
        m = parse_month(after, "--after")
        entries = [e for e in entries if e.date >= m]
    if before:
        m = parse_month(before, "--before", end=True)
        entries = [e for e in entries if e.date <= m]
    if min_params:
        n = parse_params(min_params, "--min-params")
        entries = [e for e in entries if e.max_params is not None and e.max_params >= n]
    if max_params:
        n = parse_params(max_params, "--max-params")
        entries = [e for e in entries if e.min_params is not None and e.min_params <= n]
    if search:
        words = search.lower().split()

        def text(e):
            return " ".join(
                [
                    e.name,
                    *e.aliases,
                    e.family,
                    e.extension,
                    e.corpus,
                    *e.applications,
                    *e.lab,
                    e.references.title,
                    e.architecture,
                    *e.pretraining_tasks,
                ]
            ).lower()

        entries = [e for e in entries if all(w in text(e) for w in words)]
    keys = {
        "date": lambda e: (e.date, e.name.lower()),
        "name": lambda e: e.name.lower(),
        "params": lambda e: (e.max_params or 0, e.name.lower()),
        "family": lambda e: (e.family.lower(), e.date),
    }
    if sort not in keys:
        raise TcatError(f"--sort {sort!r}: use one of {', '.join(keys)}")
    return sorted(entries, key=keys[sort], reverse=reverse)
