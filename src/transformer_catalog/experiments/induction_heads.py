"""Induction heads (Olsson et al. 2022, "In-context learning and induction heads"): a two-layer
attention-only transformer trained on random tokens with repeated spans forms heads that find the
earlier occurrence of the current token and attend to the token after it (a previous-token head in
layer 0 feeds an induction head in layer 1); a one-layer model cannot compose two heads and forms none.

The core has no attention-only option (ffn.d_ff must be positive), so each block's feed-forward is
built at width 1 with every weight and bias zeroed and frozen: its output is exactly 0 and the model
is attention-only. Scaled down from the paper: random tokens instead of web text, a 64-token context
instead of 8192, 4 heads of width 16, 2000 steps of 32 sequences. The in-context-learning score (the paper's loss at
token 500 minus loss at token 50) keeps the tenfold ratio: token 60 minus token 6 of 64."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .base import Clock, finish, prepare, pyplot, save_figure

NAME = "induction-heads"
CLAIM = (
    "A two-layer attention-only transformer trained on random tokens with repeated spans forms an induction "
    "head (induction score >= 0.8 on repeated random tokens) in a sudden phase change; zeroing the found heads "
    "removes most of the in-context gain on the repeated half, and patching <= 5 of them from a clean run into "
    "a run whose earlier occurrence is replaced restores >= 80% of the logit difference."
)
CONTROL = (
    "A one-layer model, same data and budget: one layer cannot compose a previous-token head with a "
    "prefix-matching head, so no head reaches induction score 0.8."
)
TARGET_SCORE = 0.8  # induction score of the best head
TARGET_RESTORED = 0.8  # share of the logit difference restored by patching
MAX_HEADS = 5  # heads patched at most
TARGET_REMOVED = 0.5  # "most" of the in-context gain removed by zero-ablation


@dataclass
class Config:
    setting: str = "full"
    vocab: int = 64
    seq_len: int = 64
    min_span: int = 8  # repeated spans are min_span .. seq_len // 2 tokens long
    position: str = "learned"  # the core's position.kind
    d_model: int = 64
    heads: int = 4
    steps: int = 2000
    batch: int = 32
    lr: float = 3e-3
    warmup: int = 50
    eval_every: int = 50
    eval_batch: int = 64
    early_token: int = 6  # the in-context-learning score: loss at late_token minus loss at early_token
    late_token: int = 60
    seed: int = 0

    @classmethod
    def tiny(cls) -> Config:
        # the full data at half the width and 2 heads: the phase change comes at ~550 steps with lr 1e-2
        return cls(setting="tiny", d_model=32, heads=2, steps=900, lr=1e-2, eval_every=100, eval_batch=32)


# -- data --------------------------------------------------------------------------------------------------
def repeated_spans(n: int, seq_len: int, vocab: int, min_span: int, generator):
    """n sequences of random spans each followed by its repeat ([A A B B C ...], cut at seq_len), span
    lengths drawn from min_span .. seq_len // 2: the distance between the copies varies, so no fixed
    offset can stand in for finding the earlier occurrence."""
    import torch

    x = torch.empty(n, seq_len, dtype=torch.long)
    for row in x:
        pos = 0
        while pos < seq_len:
            length = int(torch.randint(min_span, seq_len // 2 + 1, (1,), generator=generator))
            span = torch.randint(vocab, (length,), generator=generator)
            pair = torch.cat([span, span])[: seq_len - pos]
            row[pos : pos + len(pair)] = pair
            pos += len(pair)
    return x


def repeated_halves(n: int, half: int, vocab: int, generator):
    """(first halves, [A, A]): random tokens A of length `half` followed by themselves."""
    import torch

    a = torch.randint(vocab, (n, half), generator=generator)
    return a, torch.cat([a, a], dim=1)


# -- scores (on attention patterns (B, H, T, T)) ------------------------------------------------------------
def induction_score(pattern, half: int):
    """Per head: mean attention from each token of the repeated half (positions half .. 2 half - 1 of
    [A, A]) to the token after its earlier occurrence (position i - half + 1)."""
    import torch

    q = torch.arange(half, 2 * half)
    return pattern[:, :, q, q - half + 1].mean(dim=(0, 2))


def previous_token_score(pattern):
    """Per head: mean attention from each token to the one before it."""
    import torch

    q = torch.arange(1, pattern.size(-1))
    return pattern[:, :, q, q - 1].mean(dim=(0, 2))


def prefix_matching_score(pattern, ids):
    """Per head: on sequences where tokens recur by chance (no repeated span), mean attention from each
    token whose value occurred before to the token right after its latest earlier occurrence: prefix
    matching on one token of context, where the induction score sees a whole repeated span."""
    import torch

    rows, queries, targets = [], [], []
    for b, seq in enumerate(ids.tolist()):
        last: dict[int, int] = {}
        for i, tok in enumerate(seq):
            if tok in last:
                rows.append(b), queries.append(i), targets.append(last[tok] + 1)
            last[tok] = i
    if not rows:
        return torch.zeros(pattern.size(1))
    return pattern[rows, :, queries, targets].mean(dim=0)


def icl_score(position_loss, early: int, late: int) -> float:
    """Loss at token `late` minus loss at token `early` (negative: later tokens are predicted better)."""
    return float(position_loss[late] - position_loss[early])


# -- the model -------------------------------------------------------------------------------------------
def build(cfg: Config, layers: int):
    """A pre-norm decoder with learned positions whose feed-forwards output exactly zero (attention-only)."""
    import torch

    from ..nn import ModelConfig, build_model

    model = build_model(
        ModelConfig.from_dict(
            {
                "arch": "decoder",
                "d_model": cfg.d_model,
                "n_encoder_layers": 0,
                "n_decoder_layers": layers,
                "dropout": 0.0,
                "attention": {"n_heads": cfg.heads, "qkv_bias": False, "out_bias": False},
                "position": {"kind": cfg.position, "max_len": cfg.seq_len},
                "norm": {"placement": "pre", "final": True},
                "ffn": {"d_ff": 1, "activation": "relu"},
                "embedding": {"vocab_size": cfg.vocab, "pad_id": 0, "scale": False, "tie_output": False},
            }
        )
    )
    for block in model.decoder.blocks:
        for p in block.ffn.parameters():
            with torch.no_grad():
                p.zero_()
            p.requires_grad_(False)
    return model


def pattern_names(layers: int) -> list[str]:
    return [f"blocks.{i}.attn.hook_pattern" for i in range(layers)]


def head_scores(model, layers: int, probe: dict) -> dict:
    """Per layer and head: induction, prefix-matching and previous-token scores on the probes."""
    import torch

    from ..nn.hooks import run_with_cache

    names = pattern_names(layers)
    with torch.no_grad():
        _, rep = run_with_cache(model, probe["repeated"], names=names)
        _, rnd = run_with_cache(model, probe["random"], names=names)
    half = probe["repeated"].size(1) // 2
    return {
        "induction": [induction_score(rep[n], half).tolist() for n in names],
        "prefix_matching": [prefix_matching_score(rnd[n], probe["random"]).tolist() for n in names],
        "previous_token": [previous_token_score(rnd[n]).tolist() for n in names],
    }


def position_loss(model, ids):
    """Mean loss of predicting token t + 1 at each position t (length T - 1)."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        logits = model(ids[:, :-1])
    return F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none").mean(0)


def train(cfg: Config, layers: int, probe: dict) -> dict:
    """AdamW on fresh batches each step; the loss, per-head scores and ICL score every eval_every steps."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(cfg.seed)
    model = build(cfg, layers)
    data = torch.Generator().manual_seed(cfg.seed + 1)  # both models see the same batches
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup))
    curve = []
    for step in range(cfg.steps + 1):
        if step % cfg.eval_every == 0 or step == cfg.steps:
            model.eval()
            scores = head_scores(model, layers, probe)
            losses = position_loss(model, probe["spans"])
            curve.append(
                {
                    "step": step,
                    "loss": float(losses.mean()),
                    "icl_score": icl_score(losses, cfg.early_token - 1, cfg.late_token - 1),
                    "induction": max(max(row) for row in scores["induction"]),
                    "prefix_matching": max(max(row) for row in scores["prefix_matching"]),
                }
            )
            model.train()
        if step == cfg.steps:
            break
        ids = repeated_spans(cfg.batch, cfg.seq_len, cfg.vocab, cfg.min_span, data)
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    return {"model": model, "curve": curve, "scores": head_scores(model, layers, probe)}


# -- ablation and patching (hook_z: each head's weighted values, before the output projection) -------------
def _set_heads(heads: list[tuple[int, int]], source=None):
    """{hook name: fn} replacing the given (layer, head) outputs by zero, or by `source`'s (a cache)."""

    def fn_for(layer: int, chosen: list[int]):
        def fn(z, name):
            z = z.clone()
            for h in chosen:
                z[:, h] = 0.0 if source is None else source[name][:, h]
            return z

        return fn

    by_layer: dict[int, list[int]] = {}
    for layer, h in heads:
        by_layer.setdefault(layer, []).append(h)
    return {f"blocks.{layer}.attn.hook_z": fn_for(layer, hs) for layer, hs in by_layer.items()}


def in_context_gain(model, ids, half: int, heads: list[tuple[int, int]] | None = None) -> float:
    """On [A, A]: loss on the first half minus loss on the repeated half (the tokens induction can
    predict: positions half .. 2 half - 2 predicting their successors), with `heads` zeroed."""
    from ..nn.hooks import hooks

    with hooks(model, _set_heads(heads or [])):
        losses = position_loss(model, ids)
    return float(losses[: half - 1].mean() - losses[half : 2 * half - 1].mean())


def logit_difference(logits, clean_first, corrupt_first):
    """Mean over [X, A]'s repeated half of logit(the token that followed in the clean first half A)
    minus logit(the one that followed in the corrupted first half B)."""
    import torch

    half = clean_first.size(1)
    at = logits[:, half : 2 * half - 1]  # position half + k predicts A[k + 1]
    good = torch.gather(at, 2, clean_first[:, 1:, None])
    bad = torch.gather(at, 2, corrupt_first[:, 1:, None])
    return float((good - bad).mean())


def patching(model, layers: int, clean_first, corrupt_first, ranked: list[tuple[int, int]]) -> dict:
    """Patch each head alone, then the top-ranked 1 .. MAX_HEADS together, from [A, A] into [B, A]."""
    import torch

    from ..nn.hooks import hooks, run_with_cache

    clean_ids = torch.cat([clean_first, clean_first], dim=1)
    corrupt_ids = torch.cat([corrupt_first, clean_first], dim=1)
    names = [f"blocks.{i}.attn.hook_z" for i in range(layers)]
    with torch.no_grad():
        clean_logits, cache = run_with_cache(model, clean_ids, names=names)
        clean = logit_difference(clean_logits, clean_first, corrupt_first)
        corrupt = logit_difference(model(corrupt_ids), clean_first, corrupt_first)

        def restored(heads):
            with hooks(model, _set_heads(heads, cache)):
                return (logit_difference(model(corrupt_ids), clean_first, corrupt_first) - corrupt) / (clean - corrupt)

        single = [[restored([(i, h)]) for h in range(model.config.attention.n_heads)] for i in range(layers)]
        top = [restored(ranked[:k]) for k in range(1, min(MAX_HEADS, len(ranked)) + 1)]
    return {"clean": clean, "corrupted": corrupt, "single": single, "top": top}


# -- figure ----------------------------------------------------------------------------------------------
def _figure(cfg: Config, one: dict, two: dict, out) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=100, gridspec_kw={"width_ratios": [2.2, 1, 1]})
    ax = axes[0]
    sx = ax.twinx()
    for run, label, color in ((two, "2-layer", "#4e79a7"), (one, "1-layer", "#e15759")):
        steps = [r["step"] for r in run["curve"]]
        ax.plot(steps, [r["loss"] for r in run["curve"]], color=color, label=f"{label}: loss")
        sx.plot(steps, [r["induction"] for r in run["curve"]], color=color, ls="--", label=f"{label}: best induction")
    ax.set(xlabel="step", ylabel="loss (nats, repeated-span sequences)", title="the phase change")
    sx.set(ylabel="best head's induction score", ylim=(0, 1.02))
    sx.axhline(TARGET_SCORE, color="grey", lw=0.6, ls=":")
    lines = ax.get_legend_handles_labels()
    more = sx.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="center right")
    ax.grid(alpha=0.3)
    rows = [("1L layer 0", one, 0), ("2L layer 0", two, 0), ("2L layer 1", two, 1)]
    for bx, key, title in ((axes[1], "induction", "induction score"), (axes[2], "prefix_matching", "prefix matching")):
        grid = [run["scores"][key][layer] for _, run, layer in rows]
        im = bx.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                bx.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
        bx.set_yticks(range(len(rows)), [name for name, _, _ in rows], fontsize=8)
        bx.set_xticks(range(cfg.heads), [f"h{h}" for h in range(cfg.heads)], fontsize=8)
        bx.set_title(f"per head: {title}")
    fig.colorbar(im, ax=axes[2], fraction=0.05)
    fig.tight_layout()
    return save_figure(fig, out, "induction-heads.png")


def run(cfg: Config, out) -> dict:
    import torch

    from ..files import write_json

    out = prepare(out)
    clock = Clock()
    g = torch.Generator().manual_seed(cfg.seed + 2)
    half = cfg.seq_len // 2
    clean_first, repeated = repeated_halves(cfg.eval_batch, half, cfg.vocab, g)
    corrupt_first = torch.randint(cfg.vocab, clean_first.shape, generator=g)
    probe = {
        "repeated": repeated,
        "random": torch.randint(cfg.vocab, (cfg.eval_batch, cfg.seq_len), generator=g),
        "spans": repeated_spans(cfg.eval_batch, cfg.seq_len, cfg.vocab, cfg.min_span, g),
    }
    one, two = train(cfg, 1, probe), train(cfg, 2, probe)
    scores = two["scores"]["induction"]
    ranked = sorted(((i, h) for i in range(2) for h in range(cfg.heads)), key=lambda lh: -scores[lh[0]][lh[1]])
    found = [lh for lh in ranked if scores[lh[0]][lh[1]] >= TARGET_SCORE / 2][:MAX_HEADS] or ranked[:1]
    gain = in_context_gain(two["model"], repeated, half)
    ablated_gain = in_context_gain(two["model"], repeated, half, found)
    gain_1l = in_context_gain(one["model"], repeated, half)
    patched = patching(two["model"], 2, clean_first, corrupt_first, ranked)
    enough = next((k + 1 for k, r in enumerate(patched["top"]) if r >= TARGET_RESTORED), None)
    best_2l = max(max(row) for row in scores)
    best_1l = max(max(row) for row in one["scores"]["induction"])
    figure = _figure(cfg, one, two, out)
    curves = {"one_layer": one["curve"], "two_layer": two["curve"], "patching": patched}
    curves["scores"] = {"one_layer": one["scores"], "two_layer": two["scores"]}
    write_json(out / "curves.json", curves)
    jump = next((r["step"] for r in two["curve"] if r["induction"] >= TARGET_SCORE), None)
    removed = 1 - ablated_gain / gain if gain > 0 else 0.0
    last1, last2 = one["curve"][-1], two["curve"][-1]
    return finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion=(
            f"2-layer: a head with induction score >= {TARGET_SCORE}; zeroing the heads scoring >= "
            f"{TARGET_SCORE / 2} (at most {MAX_HEADS}) removes >= {TARGET_REMOVED:.0%} of the in-context gain; "
            f"patching the top <= {MAX_HEADS} heads restores >= {TARGET_RESTORED:.0%} of the logit difference. "
            f"1-layer control: no head reaches {TARGET_SCORE}"
        ),
        metrics={
            "best_induction_2l": best_2l,
            "best_induction_1l": best_1l,
            "best_induction_head_2l": "L{}H{}".format(*ranked[0]),
            "best_prefix_matching_2l": max(max(row) for row in two["scores"]["prefix_matching"]),
            "best_prefix_matching_1l": max(max(row) for row in one["scores"]["prefix_matching"]),
            "best_previous_token_2l_layer0": max(two["scores"]["previous_token"][0]),
            "step_induction_reached": jump,
            "icl_score_2l": last2["icl_score"],
            "icl_score_1l": last1["icl_score"],
            "icl_tokens": f"{cfg.late_token} - {cfg.early_token} of {cfg.seq_len}",
            "loss_2l": last2["loss"],
            "loss_1l": last1["loss"],
            "in_context_gain_2l": gain,
            "in_context_gain_1l": gain_1l,
            "ablated_heads": ", ".join("L{}H{}".format(*lh) for lh in found),
            "ablated_in_context_gain_2l": ablated_gain,
            "gain_removed_by_ablation": removed,
            "logit_diff_clean": patched["clean"],
            "logit_diff_corrupted": patched["corrupted"],
            "restored_by_top_heads": patched["top"][-1] if enough is None else patched["top"][enough - 1],
            "heads_patched": enough if enough is not None else len(patched["top"]),
        },
        claim_holds=best_2l >= TARGET_SCORE and removed >= TARGET_REMOVED and enough is not None,
        control_fails=best_1l < TARGET_SCORE,
        figures=[figure],
    )
