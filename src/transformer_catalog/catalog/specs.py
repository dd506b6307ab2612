"""The one resolver from what a user names to a ModelConfig: a named config (`tcat configs`) or a
catalog entry NAME or NAME:VARIANT, at full (published) or tiny scale. `tcat build`, `tcat train`,
`tcat show` (its breakdown) and `tcat verify` all resolve through here, so a name means the same
model everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TcatError

SCALES = ("full", "tiny")

# Short names for published sizes, as Hugging Face and nanoGPT spell them. Each points into the
# catalog, which is the one place a published size is stated (families/ hold no sizes of their own).
PUBLISHED_NAMES = {
    "gpt2": "GPT-2:small",
    "gpt2-medium": "GPT-2:medium",
    "gpt2-large": "GPT-2:large",
    "gpt2-xl": "GPT-2:XL",
    "llama-7b": "LLaMA:7B",
    "llama-13b": "LLaMA:13B",
    "llama-33b": "LLaMA:33B",
    "llama-65b": "LLaMA:65B",
    "bert-base": "BERT:base",
    "bert-large": "BERT:large",
}


def named_configs() -> list[str]:
    """What `tcat configs` lists: the families' named configs and the short names of published sizes."""
    from ..families import config_names

    return sorted({*config_names(), *PUBLISHED_NAMES})


@dataclass
class Resolved:
    config: object  # ModelConfig
    label: str  # what to call it in messages: "GPT-2 small" or "transformer-base"
    entry: object = None  # the catalog entry, None for a named config
    variant: str | None = None


def build_config(spec: dict, variant: str):
    """The ModelConfig of one size variant of a spec (a plain dict, as stored in the catalog)."""
    from ..families import family, make_config
    from ..nn.config import ModelConfig

    args = {**spec.get("args", {}), **spec.get("variants", {}).get(variant, {})}
    if spec["layout"] == "config":
        return ModelConfig().replace(**args)
    return make_config(family(spec["layout"]), **args)


def tiny_config(cfg):
    """The same architecture at a size that builds and runs in a moment: 2 layers, width 64."""
    a = cfg.attention
    heads = 4
    kv = None if a.n_kv_heads is None else max(1, heads * a.n_kv_heads // a.n_heads)
    changes = {
        "n_encoder_layers": min(cfg.n_encoder_layers, 2),
        "n_decoder_layers": min(cfg.n_decoder_layers, 2),
        "d_model": 64,
        "attention.n_heads": heads,
        "attention.n_kv_heads": kv,
        "attention.head_dim": 16 if a.head_dim else None,
        "ffn.d_ff": 128,
        "embedding.vocab_size": min(cfg.embedding.vocab_size, 1024),
        "position.max_len": min(cfg.position.max_len, 512),
    }
    if cfg.position.kind == "rope" and (16 * cfg.position.rotary_fraction) % 2:
        # keep the rotary share: the smallest head size it splits into an even number of dimensions
        changes["attention.head_dim"] = next(
            hd for hd in range(16, 129) if (hd * cfg.position.rotary_fraction) % 2 == 0
        )
    if cfg.embedding.d_embed:
        changes["embedding.d_embed"] = 32
    if cfg.embedding.pad_id >= 1024:
        changes["embedding.pad_id"] = 0
    if cfg.attention.window:
        changes["attention.window"] = min(cfg.attention.window, 64)
    if cfg.moe:
        changes["moe.n_experts"] = min(cfg.moe.n_experts, 4)
        changes["moe.top_k"] = min(cfg.moe.top_k, 2)
        changes["moe.d_ff"] = 128
        changes |= _tiny_routing(cfg)
    if cfg.attention.latent:  # latent attention: small latents, a query/key head of 8 rotated + 16 other dims
        lat = cfg.attention.latent
        changes["attention.head_dim"] = 24
        changes["attention.latent"] = {**lat.__dict__, "kv_rank": 32, "q_rank": 48 if lat.q_rank else 0, "rope_dim": 8}
        changes["attention.latent"]["v_head_dim"] = 16
    return cfg.replace(**changes)


def _tiny_routing(cfg) -> dict:
    """Routing fields that must shrink with 4 experts: at most 2 groups of 2, one dense layer first."""
    m = cfg.moe
    groups = 2 if m.groups > 1 else 1
    return {
        "moe.groups": groups,
        "moe.top_groups": min(m.top_groups, groups),
        "moe.first_dense": min(m.first_dense, 1),
        "moe.shared_d_ff": 128 if m.shared_d_ff else 0,
    }


def entry_config(entry, variant: str | None = None) -> tuple[object, str]:
    """(config, variant) of a catalog entry; the first variant of its spec by default."""
    if not entry.spec:
        raise TcatError(
            f"{entry.name} has no architecture spec" + (f": {entry.not_buildable}" if entry.not_buildable else "")
        )
    spec = entry.spec.to_dict()
    variants = list(spec["variants"])
    variant = variant or variants[0]
    if variant not in variants:
        raise TcatError(f"{entry.name} has no variant {variant!r}; choose from {', '.join(variants)}")
    return build_config(spec, variant), variant


def resolve(name: str, variant: str | None = None, scale: str = "full", catalog=None) -> Resolved:
    """NAME (a named config, or a catalog entry's first variant), NAME:VARIANT or NAME + `variant`,
    at `scale` full or tiny. Unknown names get one line with the closest known names."""
    from ..families import config_names, get_config

    if scale not in SCALES:
        raise TcatError(f"--scale {scale!r}: use full or tiny")
    if name in PUBLISHED_NAMES and not variant:
        found = resolve(PUBLISHED_NAMES[name], scale=scale, catalog=catalog)
        return Resolved(found.config, name, found.entry, found.variant)
    base, colon, named_variant = name.partition(":")
    if colon:
        if not base or not named_variant:
            raise TcatError(f"{name!r}: expected NAME or NAME:VARIANT")
        if variant and variant != named_variant:
            raise TcatError(f"{name!r} names variant {named_variant!r} but --variant is {variant!r}: give one")
        variant = named_variant
    if not variant and base in config_names():
        cfg, label, entry = get_config(base), base, None
    else:
        if catalog is None:
            from .load import load_catalog

            catalog = load_catalog()
        entry = catalog.find(base)
        if entry is None:
            if base in config_names():
                raise TcatError(f"{base} is a named config and has no variants; drop :{variant} / --variant")
            if variant:
                catalog.get(base)  # the unknown-entry error, with suggestions
            get_config(base)  # the unknown-name error, with suggestions
        cfg, variant = entry_config(entry, variant)
        label = f"{entry.name} {variant}"
    if scale == "tiny":
        cfg = tiny_config(cfg)
    return Resolved(cfg, label, entry, variant)
