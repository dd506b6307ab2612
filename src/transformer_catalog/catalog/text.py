"""Catalog strings on their way out: to a terminal, into a link, into Markdown.

The schema checks what it can, but data also arrives through the Python API, a hand-edited cache
or a future field, so every output path checks again at render time.
"""

from __future__ import annotations

import re
import urllib.parse

# CSI sequences (ESC [ ... final), OSC strings (ESC ] ... BEL or ST), other ESC pairs, then any
# remaining C0 (but tab and newline), DEL, C1, and the bidi embedding/override/isolate characters.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def clean(text) -> str:
    """`text` without terminal control sequences: data cannot move the cursor, retitle the window,
    clear the screen or reorder what is shown."""
    return _CONTROL.sub("", "" if text is None else str(text))


def safe_url(url) -> str | None:
    """`url` if a browser would open it as an http(s) or a relative link, else None.
    Browsers drop tabs and newlines inside a scheme ("java\\tscript:") and read a backslash as a
    slash, so any control character or backslash, and a protocol-relative "//host", are refused."""
    if not isinstance(url, str) or not url.strip():
        return None
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in url) or "\\" in url:
        return None
    text = url.strip()
    m = _SCHEME.match(text)
    if m:
        if m.group(1).lower() not in ("http", "https"):
            return None
        return text if urllib.parse.urlsplit(text).netloc else None
    if text.startswith("//"):
        return None
    return text


_MD = {
    "\\": "\\\\",
    "|": "\\|",
    "[": "\\[",
    "]": "\\]",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
    "\n": " ",
    "\t": " ",
}


def md(text) -> str:
    """Text for a Markdown table cell: HTML and Markdown syntax escaped, so a name like
    "<img onerror=...>" or "[x](javascript:...)" is shown as written and never rendered."""
    return "".join(_MD.get(ch, ch) for ch in clean(text))


def md_link(label, url) -> str:
    """A Markdown link when `url` is http(s) or relative, else the label alone (escaped)."""
    ok = safe_url(url)
    if ok is None:
        return md(label)
    return f"[{md(label)}]({urllib.parse.quote(ok, safe=':/?#@!$&*+,;=%~-._')})"
