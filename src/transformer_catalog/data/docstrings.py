"""Summarisation pairs from CPython's standard library: a function's docstring body -> its one-line summary.

PEP 257 docstrings open with a one-line summary, a blank line, then the details. Each function (or
method) of the installed standard library whose docstring has that shape gives one pair: source = the
details (whitespace collapsed), target = the summary line. The files are parsed with `ast` (never
imported or run). About 2,300 pairs on CPython 3.11 after removing exact duplicates; the count depends
on the Python version, which results record.

Splits are by module (source file), so that no module's house style (its repeated phrasing, its
sibling methods) is seen in training and again in the test split: a stable hash of the module's path
sends ~80% of modules to train, ~10% to valid, ~10% to test (1,864 / 206 / 213 pairs on 3.11). Test
folders and bundled wheels are left out.
"""

from __future__ import annotations

import ast
import hashlib
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from ..errors import TcatError

# Folders of the standard library that hold tests or bundled wheels, not library functions.
SKIP = frozenset({"site-packages", "test", "tests", "turtledemo", "ensurepip", "pydoc_data", "__pycache__"})
MIN_BODY_WORDS = 5  # "Returns None." carries nothing to summarise


@dataclass(frozen=True)
class DocPair:
    ref: str  # module path:function name, e.g. "json/decoder.py:raw_decode"
    src: str  # the docstring's body
    tgt: str  # its one-line summary

    @property
    def module(self) -> str:
        """The module (source file path) the pair comes from: what splits group by."""
        return self.ref.split(":", 1)[0]


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def split_docstring(doc: str) -> tuple[str, str] | None:
    """(summary, body) of a PEP 257 docstring, whitespace collapsed; None unless it opens with one
    summary line followed by a blank line and a body of at least MIN_BODY_WORDS words."""
    head, sep, rest = doc.strip().partition("\n\n")
    if not sep or "\n" in head.strip():
        return None
    summary, body = " ".join(head.split()), " ".join(rest.split())
    if not summary or len(body.split()) < MIN_BODY_WORDS:
        return None
    return summary, body


def file_pairs(path: Path, rel: str) -> list[DocPair]:
    """The pairs of one source file; a file that does not parse (a grammar test fixture) gives none."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            parts = split_docstring(doc) if doc else None
            if parts:
                out.append(DocPair(f"{rel}:{node.name}", parts[1], parts[0]))
    return out


def load_pairs(root: str | Path | None = None) -> list[DocPair]:
    """Every pair under `root` (default: the running interpreter's standard library), in path order,
    exact (source, target) duplicates dropped after their first occurrence."""
    root = Path(root) if root is not None else stdlib_root()
    if not root.is_dir():
        raise TcatError(f"{root}: not a folder of Python sources (the standard library was expected here)")
    pairs, seen = [], set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if SKIP.intersection(rel.parts[:-1]):
            continue
        for p in file_pairs(path, rel.as_posix()):
            if (p.src, p.tgt) not in seen:
                seen.add((p.src, p.tgt))
                pairs.append(p)
    if not pairs:
        raise TcatError(f"{root}: no function has a docstring with a summary line and a body")
    return pairs


def docstring_documents(root: str | Path | None = None) -> dict[str, list[list[str]]]:
    """Every docstring (module, class, function) as a document of paragraphs, by the split of its module:
    the unlabelled text a summariser may pretrain on (train modules only; no held-out module's text)."""
    root = Path(root) if root is not None else stdlib_root()
    out: dict[str, list[list[str]]] = {"train": [], "valid": [], "test": []}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if SKIP.intersection(rel.parts[:-1]):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                paragraphs = [" ".join(p.split()) for p in (doc or "").split("\n\n") if p.strip()]
                if paragraphs:
                    out[split_of(rel.as_posix())].append(paragraphs)
    return out


def split_of(module: str) -> str:
    """train / valid / test for a module path: a stable hash, the same on every machine and run."""
    bucket = int(hashlib.sha256(module.encode("utf-8")).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


def split_pairs(pairs: list[DocPair]) -> dict[str, list[DocPair]]:
    out: dict[str, list[DocPair]] = {"train": [], "valid": [], "test": []}
    for p in pairs:
        out[split_of(p.module)].append(p)
    return out


def lead_sentence(text: str) -> str:
    """The baseline summary: the text up to and including its first sentence end ('. ', '? ', '! ')."""
    for i, ch in enumerate(text):
        if ch in ".?!" and (i + 1 == len(text) or text[i + 1] == " "):
            return text[: i + 1]
    return text


__all__ = [
    "DocPair",
    "docstring_documents",
    "lead_sentence",
    "load_pairs",
    "split_docstring",
    "split_of",
    "split_pairs",
    "stdlib_root",
]
