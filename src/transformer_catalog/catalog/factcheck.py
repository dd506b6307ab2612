"""Checks of issue 19's facts that need more than one field or the whole catalog; load.consistency
runs them (so lint shows them with a line, and the loader refuses them in one line).

The compute check: a published training compute more than 2x away from 6·N·D (N the active
parameters of the compute's variant where given, else its parameters; D the training tokens) is an
error, like every lint problem, because a gap that large is nearly always a wrong N, D or variant.
Where the gap is real (several epochs counted differently, compute that includes a teacher or
RL), the entry says why in training_compute.note, naming 6·N·D, and the check accepts it. A value
labelled estimated-6ND is that product of the entry's own fields, so it must be within 10% of it,
note or not. N and D must belong to the same size: training_tokens.variant names the size the
tokens were counted for (default the largest, as for the compute); when it is not the compute's
variant, the check is skipped, since one size's tokens say nothing about another's compute.
"""

from __future__ import annotations

import re

from .query import human

ESTIMATE_TOLERANCE = 0.10  # a value labelled estimated-6ND is 6·N·D of the entry's own N and D, to rounding
SIX_ND = re.compile(r"6\s*[·*×x]?\s*N\s*[·*×x]?\s*D", re.IGNORECASE)
OPEN_CATEGORIES = {"open", "open-restricted", "non-commercial"}  # weights can be downloaded
CLOSED_CATEGORIES = {"api", "closed", "code-only"}  # weights cannot


def _size_of(entry: dict, key: str) -> dict | None:
    """The size a fact refers to: its `variant`, else the largest known size."""
    sizes = entry.get("sizes") or []
    variant = (entry.get(key) or {}).get("variant")
    if variant:
        return next((s for s in sizes if s["variant"] == variant), None)
    known = [s for s in sizes if s.get("params")]
    return max(known, key=lambda s: s["params"]) if known else None


def compute_variant(entry: dict) -> dict | None:
    """The size training_compute refers to: its `variant`, else the largest known size."""
    return _size_of(entry, "training_compute")


def tokens_variant(entry: dict) -> dict | None:
    """The size training_tokens were counted for (often only one size's are published): its
    `variant`, else the largest known size."""
    return _size_of(entry, "training_tokens")


def six_nd(entry: dict) -> tuple[float, int, int, bool] | None:
    """(6·N·D, N, D, whether N is active params) where N and D are known and belong to the same
    size (N of the compute's variant, D counted for that variant), else None."""
    size, tokens_size = compute_variant(entry), tokens_variant(entry)
    tokens = (entry.get("training_tokens") or {}).get("tokens")
    if size is None or not tokens or tokens_size is None or tokens_size["variant"] != size["variant"]:
        return None  # another size's tokens say nothing about this size's compute
    n = size.get("active_params") or size.get("params")
    if not n:
        return None
    return 6.0 * n * tokens, n, tokens, bool(size.get("active_params"))


def check(entry: dict, known: dict[str, str]) -> list[tuple[tuple, str]]:
    """Problems as (key path, message). `known`: lower-cased names and aliases -> entry name."""
    out: list[tuple[tuple, str]] = []
    compute = entry.get("training_compute") or {}
    variants = [s["variant"] for s in entry.get("sizes") or []]
    for key in ("training_compute", "training_tokens"):
        variant = (entry.get(key) or {}).get("variant")
        if variant and variant not in variants:
            out.append(((key, "variant"), f"{variant!r} is not one of the sizes ({', '.join(variants)})"))
    arxiv = (entry.get("references") or {}).get("arxiv")
    if entry.get("date_kind") == "arxiv":
        if not arxiv:
            out.append((("date_kind",), "arxiv, but references has no arXiv id"))
        elif entry["date"] != f"20{arxiv[:2]}-{arxiv[2:4]}":
            out.append((("date_kind",), f"arxiv, but the date {entry['date']} is not the month of arXiv id {arxiv}"))
    for j, base in enumerate(entry.get("base_model") or []):
        if base.lower() not in known:
            out.append((("base_model", j), f"{base!r} is not a catalog entry (base_model names the weights' origin)"))
        elif known[base.lower()] == entry["name"]:
            out.append((("base_model", j), f"{base!r} is this entry: a model cannot start from its own weights"))
    weights = entry.get("open_weights")
    category = (entry.get("license") or {}).get("category")
    if weights is not None:
        if weights["open"] and category in CLOSED_CATEGORIES:
            out.append((("open_weights", "open"), f"true, but the licence category is {category!r}"))
        if not weights["open"] and category in OPEN_CATEGORIES:
            out.append((("open_weights", "open"), f"false, but the licence category {category!r} has weights"))
    flop = compute.get("flop")
    estimate = six_nd(entry)
    if flop and estimate and compute.get("method") == "estimated-6ND":
        est, n, d, active = estimate
        if abs(flop / est - 1) > ESTIMATE_TOLERANCE:  # an estimate is this product, or the fields are wrong
            out.append((("training_compute", "flop"), _gap(entry, flop, estimate, "an estimate must be 6·N·D ±10%")))
    elif flop and estimate and not SIX_ND.search(compute.get("note") or ""):
        ratio = flop / estimate[0]
        if ratio > 2 or ratio < 0.5:
            out.append(
                (
                    ("training_compute", "flop"),
                    _gap(
                        entry,
                        flop,
                        estimate,
                        "check N, D and the variant, or say why in training_compute.note, naming 6·N·D",
                    ),
                )
            )
    return out


def _gap(entry: dict, flop: float, estimate: tuple, advice: str) -> str:
    est, n, d, active = estimate
    size = compute_variant(entry)["variant"]
    return (
        f"{flop:.3g} FLOP is {flop / est:.2g}x 6·N·D = {est:.3g} (N = {human(n)} "
        f"{'active ' if active else ''}params of {size}, D = {human(d)} tokens): {advice}"
    )
