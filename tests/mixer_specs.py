"""The catalog's decoder layouts (one spec'd entry per family layout, tiny scale) for the sequence-mixer tests:
the mixers replace a decoder's self-attention, so every decoder family must build and run with each."""

from functools import lru_cache

from transformer_catalog.catalog.load import load_catalog
from transformer_catalog.catalog.verify import build_config, tiny_config


@lru_cache(maxsize=1)
def decoder_families() -> list[tuple[str, str]]:
    """[(layout, entry name)], the first spec'd entry of each decoder layout."""
    seen: dict[str, str] = {}
    for e in load_catalog().entries:
        if not e.spec:
            continue
        spec = e.spec.to_dict()
        if spec["layout"] in seen:
            continue
        cfg = tiny_config(build_config(spec, next(iter(spec["variants"]))))
        if cfg.arch == "decoder" and cfg.vision is None:
            seen[spec["layout"]] = e.name
    return sorted(seen.items())


def tiny_decoder(name: str):
    spec = load_catalog().get(name).spec.to_dict()
    cfg = tiny_config(build_config(spec, next(iter(spec["variants"]))))
    return cfg.replace(dropout=0.0, **{"attention.dropout": 0.0})
