"""Training and validation loss of a run (metrics.jsonl) as a self-contained SVG line chart.

python benchmarks/plot_loss.py runs/en-es/metrics.jsonl benchmarks/results/translation_loss.svg
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path


def smooth(values: list[float], k: int = 10) -> list[float]:
    out, acc = [], []
    for v in values:
        acc = (acc + [v])[-k:]
        out.append(sum(acc) / len(acc))
    return out


def main(src: str, dst: str) -> None:
    rows = [json.loads(line) for line in Path(src).read_text().splitlines() if line.strip()]
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    valid = [(r["step"], r["valid_loss"]) for r in rows if "valid_loss" in r]
    train = list(zip([s for s, _ in train], smooth([v for _, v in train])))
    steps = max(s for s, _ in train)
    lo = min(v for _, v in train + valid) * 0.95
    hi = max(v for _, v in train[len(train) // 50 :] + valid) * 1.05  # skip the first few steps' spike
    left, top, w, h = 60, 20, 640, 320

    def xy(step, v):
        return left + step / steps * w, top + h - (min(v, hi) - lo) / (hi - lo) * h

    def path(points):
        return " ".join(
            f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(xy(s, v) for s, v in points)
        )

    body = [f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#333"/>']
    for k in range(6):
        v = lo + (hi - lo) * k / 5
        y = top + h - k / 5 * h
        body.append(
            f'<line x1="{left}" y1="{y:.0f}" x2="{left + w}" y2="{y:.0f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y + 4:.0f}" text-anchor="end">{v:.2f}</text>'
        )
    for k in range(6):
        s = steps * k / 5
        x = left + k / 5 * w
        body.append(f'<text x="{x:.0f}" y="{top + h + 16}" text-anchor="middle">{int(s):,}</text>')
    body.append(f'<path d="{path(train)}" fill="none" stroke="#4e79a7" stroke-width="1.5"/>')
    if valid:
        body.append(f'<path d="{path(valid)}" fill="none" stroke="#e15759" stroke-width="2"/>')
        body += [
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#e15759"><title>step {s}: {v:.3f}</title></circle>'
            for s, v in valid
            for x, y in [xy(s, v)]
        ]
    body.append(
        f'<text x="{left + w - 4}" y="{top + 16}" text-anchor="end" fill="#4e79a7">training loss '
        "(label-smoothed, mean of 10 logs)</text>"
        f'<text x="{left + w - 4}" y="{top + 32}" text-anchor="end" fill="#e15759">validation loss (held-out books)</text>'
        f'<text x="{left + w / 2}" y="{top + h + 34}" text-anchor="middle">step</text>'
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {left + w + 20} {top + h + 44}" font-family="sans-serif" '
        f'font-size="11"><title>{escape(src)}</title>' + "".join(body) + "</svg>\n"
    )
    Path(dst).write_text(svg)
    print(dst)


if __name__ == "__main__":
    main(*sys.argv[1:3])
