#!/usr/bin/env python3
"""The demo's verdict on a translation run: score held-out verses with `tcat evaluate`, print the
numbers beside copying the source and a few translations, and fail (exit 1) unless the model beats
copying on BLEU and on chrF and no translation repeats one word more than MAX_RUN times in a row.

  python scripts/demo_check.py runs/demo --limit 48 --beam 1

The numbers and the translations checked are `tcat evaluate --json`'s (it lists every hypothesis).
--no-repeat-ngram N is passed to evaluate: decoding then never repeats an n-gram of N tokens, as
fairseq's --no-repeat-ngram-size and Hugging Face's no_repeat_ngram_size do.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

MAX_RUN = 4  # "Y la la la la la" (five in a row) is the failure this check exists for
_WORD = re.compile(r"[^\w]+")


_UNIT = re.compile(r"(.{1,30}?)\1+", re.S)  # a piece of text followed by copies of itself


def longest_run(text: str) -> tuple[int, str]:
    """(count, unit) of the longest back-to-back repetition in a translation: of a word, ignoring
    case and punctuation ("la, la La" is three), or of any piece of text up to 30 characters, which
    catches a sub-word token looping inside one word ("mareseseseses": "es" six times)."""
    words = [w for w in (_WORD.sub("", t).lower() for t in text.split()) if w]
    best = (0, "")
    for word, group in itertools.groupby(words):
        n = sum(1 for _ in group)
        if n > best[0]:
            best = (n, word)
    for m in _UNIT.finditer(text):
        unit = m.group(1)
        n = len(m.group(0)) // len(unit)
        if n > best[0]:
            best = (n, unit.strip() or unit)
    return best


def verdict(result: dict, hypotheses: list[str]) -> list[str]:
    """The reasons the run fails the demo's bar (empty: it passes)."""
    problems = []
    if not result["bleu"] > result["copy_source_bleu"]:
        problems.append(f"BLEU {result['bleu']} is not above copying the source ({result['copy_source_bleu']})")
    if not result["chrf"] > result["copy_source_chrf"]:
        problems.append(f"chrF {result['chrf']} is not above copying the source ({result['copy_source_chrf']})")
    for i, hyp in enumerate(hypotheses):
        n, word = longest_run(hyp)
        if n > MAX_RUN:
            problems.append(f"translation {i + 1} repeats {word!r} {n} times in a row: {hyp[:80]!r}")
            break
    return problems


def _tcat(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["tcat", *args], input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"demo_check: tcat {' '.join(args[:2])} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def hypotheses_of(result: dict) -> list[str]:
    """Every hypothesis of the evaluation, as tcat evaluate --json lists them (one per pair)."""
    hyps = result.get("hypotheses")
    if not isinstance(hyps, list) or len(hyps) != result["pairs"]:
        sys.exit("demo_check: tcat evaluate's JSON does not list every hypothesis; cannot check every translation")
    return list(hyps)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="a translation run folder (tcat train --out)")
    ap.add_argument("--limit", type=int, default=48, help="held-out verses to score (default 48)")
    ap.add_argument("--beam", type=int, default=1, help="beam size, 1 = greedy (default 1)")
    ap.add_argument(
        "--no-repeat-ngram", type=int, default=0, help="block repeated n-grams of this many tokens (default 0: off)"
    )
    ap.add_argument("--threads", default="0", help="CPU threads for decoding (default 0: the free cores)")
    ap.add_argument("--examples", type=int, default=3, help="translations to print (default 3)")
    args = ap.parse_args(argv)

    json_path = Path(args.run) / "evaluate.json"
    _tcat(
        "evaluate",
        args.run,
        "--split",
        "test",
        "--limit",
        str(args.limit),
        "--beam",
        str(args.beam),
        "--no-repeat-ngram",
        str(args.no_repeat_ngram),
        "--threads",
        args.threads,
        "--quiet",
        "--json",
        str(json_path),
    )
    result = json.loads(json_path.read_text(encoding="utf-8"))
    hyps = hypotheses_of(result)

    books = ", ".join(result.get("books", []))
    decoding = "greedy" if args.beam == 1 else f"beam {args.beam}"
    print(f"held-out verses: {result['pairs']} from {books} (never trained on), {decoding} decoding")
    if args.no_repeat_ngram:
        n = args.no_repeat_ngram
        print(f"  decoding blocks repeated {n}-grams of tokens, as fairseq/HF no_repeat_ngram_size={n}")
    print(f"  {'':24} {'sacreBLEU':>9} {'chrF':>7}")
    print(f"  {'this model':24} {result['bleu']:>9.2f} {result['chrf']:>7.2f}")
    print(f"  {'copying the source':24} {result['copy_source_bleu']:>9.2f} {result['copy_source_chrf']:>7.2f}")
    n, word = max((longest_run(h) for h in hyps), default=(0, ""))
    print(
        f"  longest back-to-back repetition in the {len(hyps)} translations: {n}"
        + (f" x {word!r}" if n > 1 else "")
        + f" (the bar: at most {MAX_RUN})"
    )
    for ex, hyp in list(zip(result.get("examples", []), hyps))[: args.examples]:
        print(f"\n  {ex['ref']}\n    source:    {ex['source']}\n    reference: {ex['reference']}\n    model:     {hyp}")
    problems = verdict(result, hyps)
    for p in problems:
        print(f"demo_check: FAILED: {p}", file=sys.stderr)
    if not problems:
        print(
            f"\nthe model beats copying the source on BLEU and chrF; nothing repeats more than {MAX_RUN} times in a row"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
