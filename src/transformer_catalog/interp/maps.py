"""Attention maps: every layer's pattern for one input, as a terminal heatmap (rich) and as SVG files.

    maps = attention_maps(model, inputs)                 # {"blocks.0.attn.hook_pattern": (H, Tq, Tk), ...}
    console.print(heatmap(maps[name][h], q_tokens, k_tokens, title))
    svg = svg_heatmap(maps[name][h], q_tokens, k_tokens, title)

The maps are the hook_pattern points of nn/hooks.py for the first batch row. SVG text is escaped
(token strings are data).
"""

from __future__ import annotations

import html

from torch import Tensor, nn

from ..errors import TcatError
from ..nn.hooks import check_names, hook_names, run_with_cache


def pattern_names(model: nn.Module) -> list[str]:
    """Every attention pattern hook point of the model (self- and cross-attention), in order."""
    return [n for n in hook_names(model) if n.endswith(".hook_pattern")]


def attention_maps(model: nn.Module, inputs, names: list[str] | None = None) -> dict[str, Tensor]:
    """{pattern hook name: (heads, queries, keys)} for the first row of `inputs`."""
    names = pattern_names(model) if names is None else check_names(model, names)
    bad = [n for n in names if not n.endswith(".hook_pattern")]
    if bad:
        raise TcatError(f"{bad[0]} is not an attention pattern; patterns: {', '.join(pattern_names(model))}")
    _, cache = run_with_cache(model, inputs, names=names)
    return {n: cache[n][0].float() for n in names}


def _shade(w: float) -> tuple[int, int, int]:
    """White (0) to dark blue (1)."""
    w = min(max(w, 0.0), 1.0)
    return (int(255 - 225 * w), int(255 - 185 * w), int(255 - 75 * w))


def _label(token: str, width: int) -> str:
    """A token as one printable cell: control characters and spaces shown, cut to `width`."""
    shown = "".join(c if c.isprintable() and c != " " else ("·" if c == " " else "?") for c in token)
    return shown[:width] if len(shown) <= width else shown[: width - 1] + "…"


def heatmap(pattern: Tensor, queries: list[str], keys: list[str], title: str):
    """A rich renderable: one row per query token, one two-character cell per key, darker = more
    attention; key tokens are listed under the map by column number."""
    from rich.color import Color
    from rich.style import Style
    from rich.text import Text

    w = max(4, min(12, max((len(_label(t, 12)) for t in queries), default=4)))
    out = Text(f"{title}\n", style="bold")
    out.append(" " * (w + 6) + "".join(f"{j % 100:<2d}"[:2] for j in range(len(keys))) + "\n", style="dim")
    for i, row in enumerate(pattern.tolist()):
        out.append(f"{i:>4d} {_label(queries[i], w):<{w}} ")
        for v in row:
            out.append("  ", style=Style(bgcolor=Color.from_rgb(*_shade(v))))
        out.append(f" {max(row):.2f}\n", style="dim")
    legend = "  ".join(f"{j}:{_label(t, 10)}" for j, t in enumerate(keys))
    out.append(f"keys: {legend}\n", style="dim")
    return out


def svg_heatmap(pattern: Tensor, queries: list[str], keys: list[str], title: str, cell: int = 18) -> str:
    """The map as a standalone SVG: queries down the left, keys along the top, values on hover."""
    nq, nk = pattern.shape
    left, top = 110, 110
    width, height = left + nk * cell + 20, top + nq * cell + 20
    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<text x="4" y="14" font-weight="bold">{esc(title)}</text>',
    ]
    for j, t in enumerate(keys):
        x = left + j * cell + cell * 0.7
        parts.append(f'<text transform="translate({x:.1f},{top - 4}) rotate(-60)">{esc(_label(t, 14))}</text>')
    for i, (t, row) in enumerate(zip(queries, pattern.tolist())):
        y = top + i * cell
        parts.append(f'<text x="{left - 4}" y="{y + cell * 0.7:.1f}" text-anchor="end">{esc(_label(t, 14))}</text>')
        for j, v in enumerate(row):
            r, g, b = _shade(v)
            parts.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell}" height="{cell}" fill="rgb({r},{g},{b})">'
                f"<title>{esc(_label(t, 14))} → {esc(_label(keys[j], 14))}: {v:.3f}</title></rect>"
            )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


__all__ = ["attention_maps", "heatmap", "pattern_names", "svg_heatmap"]
