"""Hook points: read or replace any activation of the core by name (TransformerLens-style names).

    from transformer_catalog.nn.hooks import hook_names, hooks, run_with_cache

    names = hook_names(model)                                   # every valid name, in execution order
    logits, cache = run_with_cache(model, ids)                  # every activation, by name (detached)
    logits, cache = run_with_cache(model, ids, names=["blocks.0.attn.hook_pattern"])
    logits, cache = run_with_cache(model, (src, tgt))           # a tuple: positional args; a dict: keywords
    with hooks(model, {"blocks.1.hook_resid_post": fn}):        # fn(tensor, name) -> None (read) or a
        logits = model(ids)                                     # tensor of the same shape (replace)

Names. A model with one stack (decoder, encoder, ViT) names its layers `blocks.{i}`; an
encoder-decoder prefixes the stack: `encoder.blocks.{i}`, `decoder.blocks.{i}` (also
`encoder.hook_embed`, `decoder.ln_final.hook_normalized`). A model inside another module (an
objective's wrapper, a CLIP tower) prefixes its attribute path: `text.blocks.0...`. Per layer i:

    blocks.{i}.hook_resid_pre                (B, T, d)        the block's input
    blocks.{i}.attn.hook_q / hook_k / hook_v (B, H, T, dh)    after rotary positions; k and v: every key
                                                              attended to (cached ones too), with the
                                                              key/value heads (GQA: fewer than H)
    blocks.{i}.attn.hook_attn_scores         (B, H, Tq, Tk)   scaled logits + position bias, -inf where masked
    blocks.{i}.attn.hook_pattern             (B, H, Tq, Tk)   softmax of the scores (before dropout)
    blocks.{i}.attn.hook_z                   (B, H, Tq, dh)   each head's weighted values
    blocks.{i}.attn.hook_result              (B, H, Tq, d)    each head's share of the output (bias excluded)
    blocks.{i}.hook_attn_out                 (B, T, d)        the attention sublayer's output
    blocks.{i}.hook_resid_mid                (B, T, d)        after the attention residual (and post-norm)
    blocks.{i}.cross_attn.hook_*, hook_cross_attn_out, hook_resid_cross   decoders of encoder-decoders
    blocks.{i}.mlp.hook_pre                  (B, T, d_ff)     pre-activation (the gate's, when gated)
    blocks.{i}.mlp.hook_pre_linear           (B, T, d_ff)     gated FFNs: the linear (up) branch
    blocks.{i}.mlp.hook_post                 (B, T, d_ff)     the hidden activation (x gate)
    blocks.{i}.mlp.hook_router               (B, T, E)        mixture of experts: router probabilities
    blocks.{i}.hook_mlp_out                  (B, T, d)        (no mlp points in attention-only blocks:
                                                              ffn.d_ff = 0)
    blocks.{i}.hook_resid_post               (B, T, d)        the block's output
    hook_embed                               (B, T, d)        the embeddings' output (the stack's input)
    ln_final.hook_normalized                 (B, T, d)        pre-norm stacks with a final norm
    hook_logits                              (B, T, vocab)    models with an output head

Per-head activations keep the core's layout: heads on axis 1, positions on axis 2; residual ones have
positions on axis 1 (`head_axis(name)`, `position_axis(name)`). A parallel-residual block (GPT-J,
NeoX) has no hook_resid_mid; shared layers (ALBERT) name each application `blocks.{i}` although one
module serves them all. Transformers' output_hidden_states are hook_embed, the resid_post of every
layer but the last, and the last one's output after the final norm (ln_final.hook_normalized) where
there is one; output_attentions are the hook_pattern of every layer.

Cost. Every hookable module holds `hooks = None`; a hook point is one `is not None` test when no hook
is installed, and attention keeps its fused SDPA kernel. Only a layer whose scores or pattern are
hooked computes its attention eagerly; hook_result is computed only when hooked. A hook for a name
that does not exist is one line (TcatError) listing the valid names; a replacement of another shape
is refused the same way. Hooks nest: contexts add to and remove from one registry per model.

Built on these (transformer_catalog.interp): logit_lens (lens.py), patch / ablate / patching_effect /
logit_diff (patching.py: a named activation per position and/or head, clean vs corrupted runs),
attention_maps / heatmap / svg_heatmap (maps.py); `tcat inspect attention` (cli/inspect.py).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator

from torch import Tensor, nn

from ..errors import TcatError

HookFn = Callable[[Tensor, str], "Tensor | None"]
PER_HEAD = ("hook_q", "hook_k", "hook_v", "hook_attn_scores", "hook_pattern", "hook_z", "hook_result")
EAGER = ("hook_attn_scores", "hook_pattern")  # what only eager attention computes


class Registry:
    """The hooks installed on one model, by full name (shared by every Tap of the model)."""

    def __init__(self, valid: list[str]):
        self.valid = valid
        self.fns: dict[str, list[HookFn]] = {}

    def fire(self, name: str, x: Tensor) -> Tensor:
        for fn in self.fns.get(name, ()):
            y = fn(x, name)
            if y is not None:
                if not isinstance(y, Tensor) or y.shape != x.shape:
                    got = list(y.shape) if isinstance(y, Tensor) else type(y).__name__
                    raise TcatError(f"hook on {name} returned {got}; a replacement must have shape {list(x.shape)}")
                x = y
        return x


class Tap:
    """What a module's `hooks` attribute holds while hooks are installed: it names the module's hook
    points (prefix + `blocks.{layer}.` inside a stack) and runs the hooks registered for them. The
    stack sets `layer` before each block, so a block shared by several layers is named per layer."""

    def __init__(self, registry: Registry, prefix: str, in_stack: bool):
        self.registry, self.prefix, self.in_stack = registry, prefix, in_stack
        self.layer: int | None = None

    def name(self, local: str) -> str:
        if self.in_stack and self.layer is not None:
            return f"{self.prefix}blocks.{self.layer}.{local}"
        return self.prefix + local

    def wants(self, local: str) -> bool:
        return self.name(local) in self.registry.fns

    def __call__(self, local: str, x: Tensor) -> Tensor:
        name = self.name(local)
        return self.registry.fire(name, x) if name in self.registry.fns else x


# -- which modules carry hook points, and their names ---------------------------------------------------
def _cores(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(path prefix, core model) for every core model (nn/model.py) in `model`, outermost first."""
    from .model import _Base

    out = []
    for path, m in model.named_modules():
        if isinstance(m, _Base) and not any(path.startswith(p) for p, _ in out if p):
            out.append((f"{path}." if path else "", m))
    if not out:
        raise TcatError(f"{type(model).__name__} holds no tcat core model: hooks need one (nn/model.py)")
    return out


def _stacks(core: nn.Module, prefix: str) -> list[tuple[str, str, nn.Module, nn.Module | None]]:
    """(stack prefix, attribute, stack, its embeddings) of a core model: one stack is unprefixed."""
    from .model import DecoderModel, EncoderDecoderModel

    if isinstance(core, EncoderDecoderModel):
        return [
            (f"{prefix}{a}.", a, getattr(core, a), getattr(core, e))
            for a, e in (("encoder", "src_embed"), ("decoder", "tgt_embed"))
        ]
    one = "decoder" if isinstance(core, DecoderModel) else "encoder"  # a one-stack model calls its embeddings `embed`
    return [(prefix, one, getattr(core, one), core.embed)]


def _block_names(block: nn.Module) -> list[str]:
    from .layers import MoEFeedForward

    def attn(scope: str) -> list[str]:
        return [f"{scope}.{p}" for p in PER_HEAD]

    names = ["hook_resid_pre", *attn("attn"), "hook_attn_out"]
    if not block.parallel:
        names.append("hook_resid_mid")
        if block.cross_attn is not None:
            names += [*attn("cross_attn"), "hook_cross_attn_out", "hook_resid_cross"]
    if block.ffn is None:  # attention-only
        return [*names, "hook_resid_post"]
    if isinstance(block.ffn, MoEFeedForward):
        names.append("mlp.hook_router")
    else:
        names += ["mlp.hook_pre"] + (["mlp.hook_pre_linear"] if block.ffn.gate is not None else []) + ["mlp.hook_post"]
    return [*names, "hook_mlp_out", "hook_resid_post"]


def hook_names(model: nn.Module) -> list[str]:
    """Every hook point of `model`, in the order a forward pass reaches them."""
    from .model import DecoderModel, EncoderDecoderModel

    out = []
    for prefix, core in _cores(model):
        for stack_prefix, _, stack, embed in _stacks(core, prefix):
            if embed is not None:
                out.append(f"{stack_prefix}hook_embed")
            blocks = list(stack.blocks)
            for i in range(stack.n_layers):
                out += [f"{stack_prefix}blocks.{i}.{n}" for n in _block_names(blocks[i % len(blocks)])]
            if stack.final_norm is not None:
                out.append(f"{stack_prefix}ln_final.hook_normalized")
        if isinstance(core, (DecoderModel, EncoderDecoderModel)):  # the models with an output head
            out.append(f"{prefix}hook_logits")
    return out


def hidden_state_names(model: nn.Module, stack: str = "") -> list[str]:
    """The hook points that equal transformers' output_hidden_states for one stack (prefix `stack`,
    e.g. "encoder." or "decoder."; "" for a one-stack model): the embeddings' output, each layer's
    output, the last one after the final norm where the stack has one."""
    names = hook_names(model)
    layers = [n for n in names if re.fullmatch(re.escape(stack) + r"blocks\.\d+\.hook_resid_post", n)]
    final = [n for n in names if n == f"{stack}ln_final.hook_normalized"]
    embed = [n for n in names if n == f"{stack}hook_embed"]
    if not layers:
        raise TcatError(f"no stack {stack!r} in this model; stacks are named by prefixes like 'encoder.'")
    return embed + (layers[:-1] + final if final else layers)


def head_axis(name: str) -> int | None:
    """The heads' axis of a hook point's tensor (None for residual-stream points)."""
    return 1 if name.rsplit(".", 1)[-1] in PER_HEAD else None


def position_axis(name: str) -> int:
    """The (query) positions' axis of a hook point's tensor."""
    return 2 if head_axis(name) is not None else 1


def describe_names(names: list[str]) -> str:
    """The names, shortened by folding layer numbers: blocks.{0..5}.attn.hook_q."""
    folded: dict[str, list[int]] = {}
    for n in names:
        m = re.search(r"blocks\.(\d+)\.", n)
        key = n if m is None else n[: m.start(1)] + "{}" + n[m.end(1) :]
        folded.setdefault(key, []).append(-1 if m is None else int(m.group(1)))
    parts = []
    for key, layers in folded.items():
        if layers == [-1]:
            parts.append(key)
        else:
            span = str(layers[0]) if len(layers) == 1 else f"{{{min(layers)}..{max(layers)}}}"
            parts.append(key.replace("{}", span))
    return ", ".join(parts)


def check_names(model: nn.Module, names: Iterable[str]) -> list[str]:
    """`names` if each is a hook point of `model`; otherwise one line naming the first bad one."""
    valid = hook_names(model)
    known = set(valid)
    names = list(names)
    for n in names:
        if n not in known:
            raise TcatError(f"no hook point {n!r} in this model; valid: {describe_names(valid)}")
    return names


# -- installing and removing -------------------------------------------------------------------------------
def _registry(model: nn.Module) -> Registry:
    """The model's registry, installing Taps on every hookable module the first time."""
    reg = model.__dict__.get("_hook_registry")  # set below with object.__setattr__: a plain attribute
    if reg is not None:
        return reg
    reg = Registry(hook_names(model))
    for prefix, core in _cores(model):
        core.hooks = Tap(reg, prefix, in_stack=False)
        for stack_prefix, _, stack, embed in _stacks(core, prefix):
            if embed is not None:
                embed.hooks = Tap(reg, stack_prefix, in_stack=False)
            tap = Tap(reg, stack_prefix, in_stack=True)
            stack.hooks = tap
            for block in stack.blocks:
                for m in (block, block.self_attn, block.cross_attn, block.ffn):
                    if m is not None:
                        m.hooks = tap
    object.__setattr__(model, "_hook_registry", reg)  # not a submodule, not in the state dict
    return reg


def _uninstall(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m.__dict__.get("hooks"), Tap):
            m.hooks = None
    object.__setattr__(model, "_hook_registry", None)


@contextlib.contextmanager
def hooks(model: nn.Module, fns: dict[str, HookFn | list[HookFn]]) -> Iterator[None]:
    """Run `fns` (name -> fn(tensor, name) returning None to read, or a tensor to replace) at their
    hook points while the context is open. Unknown names are refused before anything is installed."""
    check_names(model, fns)
    reg = _registry(model)
    added = [(n, f) for n, fs in fns.items() for f in (fs if isinstance(fs, list) else [fs])]
    for n, f in added:
        reg.fns.setdefault(n, []).append(f)
    try:
        yield
    finally:
        for n, f in added:
            reg.fns[n].remove(f)
            if not reg.fns[n]:
                del reg.fns[n]
        if not reg.fns:
            _uninstall(model)


def call_model(model: nn.Module, inputs):
    """model(inputs): a tensor is the first argument, a tuple or list the positional ones, a dict keywords."""
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)


def run_with_cache(
    model: nn.Module, inputs, names: Iterable[str] | Callable[[str], bool] | None = None, detach: bool = True
) -> tuple[object, dict[str, Tensor]]:
    """(model output, {name: activation}) for one forward pass. `inputs`: a tensor (the first
    argument), a tuple (positional arguments) or a dict (keywords). `names`: the hook points to keep
    (a list, or a predicate on names); None keeps every one (which computes attention eagerly and
    every head's result: slower, for inspection)."""
    every = hook_names(model)
    if names is None:
        wanted = every
    elif callable(names):
        wanted = [n for n in every if names(n)]
    else:
        wanted = check_names(model, names)
    cache: dict[str, Tensor] = {}

    def keep(x: Tensor, name: str) -> None:
        cache[name] = x.detach() if detach else x

    with hooks(model, {n: keep for n in wanted}):
        out = call_model(model, inputs)
    return out, cache


__all__ = [
    "PER_HEAD",
    "Registry",
    "Tap",
    "call_model",
    "check_names",
    "describe_names",
    "head_axis",
    "hidden_state_names",
    "hook_names",
    "hooks",
    "position_axis",
    "run_with_cache",
]
