"""`tcat changes` and `tcat diff`: the architecture changes derived from the built configs of the
catalog's specs (catalog/changes.py). Registered from cli/catalog.py's register. Building the
configs imports torch (families/ use it); they are cached, so only the first run after the specs
or the config code change pays for it."""

from __future__ import annotations

import difflib

from ..errors import TcatError
from .catalog import console
from .common import catalog

TORCH_NOTE = (
    "The first run after the specs or the config code change builds every spec's config (this imports "
    "torch: a few seconds); later runs read the built configs from the cache ($TCAT_CACHE, else "
    "~/.cache/transformer-catalog) without torch."
)


def cmd_changes(args) -> None:
    from ..catalog.changes import adoption, entry_changes
    from ..catalog.changeviews import entries_table, failures, taxonomy_table, timeline_table

    rows = entry_changes(catalog())
    out = console()
    if args.entries:
        out.print(entries_table(rows))
        return
    ads = adoption(rows)
    out.print(taxonomy_table(ads, len(rows)))
    out.print(timeline_table(ads))
    note = failures(rows)
    if note is not None:
        out.print(note)


def _side(cat, configs, name: str) -> tuple[str, dict, object]:
    """(label, flat config, entry or None) for NAME, NAME:VARIANT, a published short name (gpt2) or a
    named config; the first variant by default, as everywhere a name is resolved (catalog/specs.py)."""
    from ..catalog.specs import PUBLISHED_NAMES

    if cat.find(name) is None and name in PUBLISHED_NAMES:
        name = PUBLISHED_NAMES[name]
    base, colon, variant = name.partition(":")
    if colon and (not base or not variant):
        raise TcatError(f"{name!r}: expected NAME or NAME:VARIANT")
    entry = cat.find(base)
    if entry is None:
        from ..catalog.changes import flat_config
        from ..families import config_names, get_config

        if not colon and base in config_names():
            return base, ({} if configs is None else flat_config(get_config(base))), None
        known = [e.name for e in cat.entries if e.spec] + [a for e in cat.entries if e.spec for a in e.aliases]
        close = difflib.get_close_matches(base, [*known, *config_names()], n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "see 'tcat list' and 'tcat configs'"
        raise TcatError(f"unknown model {name!r}; {hint}")
    if not entry.spec:
        why = f" ({entry.not_buildable})" if entry.not_buildable else ""
        raise TcatError(f"{entry.name} has no architecture spec{why}, so there is no config to compare")
    spec_variants = list(entry.spec.to_dict().get("variants") or {})
    if variant and spec_variants and variant not in spec_variants:  # refused before any build or cache write
        raise TcatError(f"{entry.name} has no variant {variant!r}; choose from {', '.join(spec_variants)}")
    if configs is None:  # a look without building: the label the built side will have
        return f"{entry.name} {variant or (spec_variants[0] if spec_variants else '')}".strip(), {}, entry
    built = configs()[entry.name]
    variant = variant or next(iter(built))
    if variant not in built:
        raise TcatError(f"{entry.name} has no variant {variant!r}; choose from {', '.join(built)}")
    if "error" in built[variant]:
        raise TcatError(f"{entry.name} {variant} does not build: {built[variant]['error']}")
    return f"{entry.name} {variant}", built[variant], entry


def _parent(cat, entry, name: str) -> str:
    """The first parent of `entry` with a spec: what `tcat diff A` compares A with."""
    if entry is None:
        raise TcatError(f"{name!r} is a named config with no catalog parent; name a second model: tcat diff {name} B")
    for p in entry.derived_from:
        parent = cat.find(p)
        if parent is not None and parent.spec:
            return parent.name
    parents = ", ".join(entry.derived_from) or "none"
    raise TcatError(
        f"{entry.name}: no parent with an architecture spec (parents: {parents}); name a second model: "
        f"tcat diff {name!r} B"
    )


def cmd_diff(args) -> None:
    from ..catalog.changes import built_configs, differences
    from ..catalog.changeviews import diff_view

    cat = catalog()
    built: list[dict] = []

    def configs() -> dict:  # built on first need, so a spec-less or malformed name fails at once
        if not built:
            built.append(built_configs(cat))
        return built[0]

    # every name is checked, and two names for one model refused, before any config is built or cached
    peek_a = _side(cat, None, args.a)
    b = args.b or _parent(cat, peek_a[2], args.a)
    peek_b = _side(cat, None, b)
    if peek_a[0] == peek_b[0]:
        raise TcatError(f"{args.a!r} and {b!r} are the same model ({peek_a[0]}); name two models or two sizes")
    label_a, flat_a, entry_a = _side(cat, configs, args.a)
    label_b, flat_b, _ = _side(cat, configs, b)
    cats, fields = differences(flat_a, flat_b)
    console().print(diff_view(label_a, label_b, cats, fields))


def register(sub, add) -> None:
    sp = add(
        "changes",
        cmd_changes,
        "architecture changes (norms, positions, FFN, attention sharing, experts ...) derived from the "
        "specs: taxonomy and adoption timeline (the first run imports torch)",
    )
    sp.description = (
        "Derive, from each buildable entry's built config, the architecture changes it uses; show how many "
        "entries use each change (by category) and when each was adopted: its first appearance and the "
        "first year in which more than half of that year's buildable entries use it. " + TORCH_NOTE
    )
    sp.add_argument("--entries", action="store_true", help="list every buildable entry's changes instead (default off)")
    sp = add("diff", cmd_diff, "which architecture changes and config fields separate two models (may import torch)")
    sp.description = (
        "The architecture changes (tcat changes) and the raw config fields that differ between A and B. "
        "A name is a catalog entry or alias (NAME:VARIANT for a size; the first size by default), a "
        "published short name (gpt2) or a named config (tcat configs). " + TORCH_NOTE
    )
    sp.add_argument("a", metavar="A", help="a catalog entry, NAME:VARIANT or named config")
    sp.add_argument(
        "b",
        metavar="B",
        nargs="?",
        default=None,
        help="the model to compare with (default: A's first parent with a spec)",
    )
