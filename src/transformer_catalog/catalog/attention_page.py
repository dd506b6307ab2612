"""The site's attention.html: every layer and head of the real all-MiniLM-L6-v2 on a few fixed
sentences. The maps are shipped data (catalog/data/attention/, written by scripts/attention_pages.py
from a forward pass), so building the site needs no torch: this module only reads index.json and
the SVG files and hands them to the site as pages.

    pages.update(attention_pages(env))   # {"attention.html": ..., "attention/<id>-L<i>H<h>.svg": ...}

The page shows each SVG through <img> (a script inside an image never runs) and escapes every
sentence and token (the site's jinja2 environment autoescapes); the SVGs escape their token labels
themselves (interp/maps.svg_heatmap), and one that holds a script or does not start as an SVG is
refused, in case the folder was edited by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import TcatError

DATA = Path(__file__).parent / "data" / "attention"
_MAP_NAME = re.compile(r"[a-z0-9][a-z0-9-]*-L\d+H\d+\.svg")  # plain names: they become site paths
_SVG_START = '<svg xmlns="http://www.w3.org/2000/svg"'


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TcatError(f"{path}: unreadable ({getattr(e, 'strerror', None) or e})") from None


def load_index(folder: Path = DATA) -> dict:
    """index.json, checked: each sentence's text and tokens, and a square grid of map file names
    (layers x heads) naming SVG files of the folder."""
    path = folder / "index.json"
    try:
        index = json.loads(_read(path))
    except json.JSONDecodeError as e:
        raise TcatError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    sentences = index.get("sentences") if isinstance(index, dict) else None
    if not isinstance(sentences, list) or not sentences:
        raise TcatError(f"{path}: expected an object with a non-empty 'sentences' list")
    for s in sentences:
        maps = s.get("maps") if isinstance(s, dict) else None
        if not (
            isinstance(s, dict)
            and all(isinstance(s.get(k), str) for k in ("id", "label", "text"))
            and isinstance(s.get("tokens"), list)
            and all(isinstance(t, str) for t in s["tokens"])
            and isinstance(maps, list)
            and maps
            and all(isinstance(row, list) and len(row) == len(maps[0]) > 0 for row in maps)
        ):
            raise TcatError(f"{path}: a sentence needs id, label, text, tokens and a layers x heads grid of maps")
        for name in (n for row in maps for n in row):
            if not isinstance(name, str) or not _MAP_NAME.fullmatch(name):
                raise TcatError(f"{path}: map file name {name!r} is not of the form <id>-L<layer>H<head>.svg")
    return index


def _svg(path: Path) -> str:
    text = _read(path)
    if not text.startswith(_SVG_START) or "<script" in text.lower():
        raise TcatError(f"{path}: not a plain SVG heatmap (refused: it would be served with the site)")
    return text


def attention_pages(env, folder: Path = DATA) -> dict[str, str]:
    """{site path: text}: attention.html and every map it shows under attention/."""
    index = load_index(folder)
    pages = {}
    for s in index["sentences"]:
        for name in (n for row in s["maps"] for n in row):
            pages[f"attention/{name}"] = _svg(folder / name)
    pages["attention.html"] = env.get_template("attention.html").render(
        title="Attention maps",
        root="",
        model=index.get("model", "all-MiniLM-L6-v2"),
        command=index.get("command", "python scripts/attention_pages.py"),
        sentences=index["sentences"],
    )
    return pages


__all__ = ["DATA", "attention_pages", "load_index"]
