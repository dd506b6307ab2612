"""How much of the catalog records issue 19's facts (`tcat catalog coverage`).

A fact counts as known when it carries a number; an undisclosed one (null with a note) is recorded
but not known, and is counted apart, so marking everything undisclosed cannot meet a target.
The targets concern decoder LLMs: architecture decoder with `causal LM` among pretraining tasks.
"""

from __future__ import annotations

from .query import fact

# fact -> the key of its number; issue 19's targets (share of decoder LLMs with the number known)
NUMBERS = {"context_length": "tokens", "training_tokens": "tokens", "training_compute": "flop"}
TARGETS = {"context_length": 0.90, "training_tokens": 0.60, "training_compute": 0.40}
MIN_ENTRIES = 210
# the other optional facts, counted over all entries (recorded = present, in any form)
OTHER = (
    "date_kind",
    "sources",
    "modalities",
    "open_weights",
    "hardware",
    "base_model",
    "hybrid",
)


def is_decoder_llm(e) -> bool:
    return e.architecture == "decoder" and "causal LM" in e.pretraining_tasks


def state(e, name: str) -> str:
    """'known', 'undisclosed' or 'missing' for a numeric fact; 'known' or 'missing' for the others."""
    node = fact(e, name)
    if node is None or node == []:
        return "missing"
    if name in NUMBERS:
        return "known" if fact(node, NUMBERS[name]) is not None else "undisclosed"
    return "known"


def _is_moe(e) -> bool:
    return any(fact(s, "active_params") for s in e.sizes)


def coverage(entries) -> dict:
    """Counts and shares, as plain data (the view renders it; a test checks the targets)."""
    entries = list(entries)
    llms = [e for e in entries if is_decoder_llm(e)]
    numbers = {}
    for name in NUMBERS:
        counts = {s: sum(state(e, name) == s for e in llms) for s in ("known", "undisclosed", "missing")}
        share = counts["known"] / len(llms) if llms else 0.0
        numbers[name] = {**counts, "share": share, "target": TARGETS[name], "met": share >= TARGETS[name]}
    everywhere = {}
    for name in (*NUMBERS, *OTHER):
        counts = {s: sum(state(e, name) == s for e in entries) for s in ("known", "undisclosed", "missing")}
        everywhere[name] = {**counts, "share": counts["known"] / len(entries) if entries else 0.0}
    return {
        "entries": len(entries),
        "min_entries": MIN_ENTRIES,
        "decoder_llms": len(llms),
        "decoder_llm_facts": numbers,
        "all_entries": everywhere,
        "moe_with_active_params": sum(_is_moe(e) for e in entries),
        "missing": {name: sorted(e.name for e in llms if state(e, name) == "missing") for name in NUMBERS},
        "undisclosed": {name: sorted(e.name for e in llms if state(e, name) == "undisclosed") for name in NUMBERS},
    }
