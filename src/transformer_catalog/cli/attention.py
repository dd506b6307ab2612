"""`tcat attention cost|decode`: what one attention call costs at a length, and what decoding one token costs
after a context, per implementation or sequence mixer (experiments/attention_cost.py; the sweeps are
benchmarks/bench_attention.py). A length whose estimated memory exceeds what is free, a block size that does
not divide the length or exceeds it, and a Hyena mixer asked to decode from a cache are refused in one line."""

from __future__ import annotations

from .common import console
from .options import help_text, number

LENGTH = number(int, 1, 2**24)
BLOCK = number(int, 1, 2**24)
REPS = number(int, 1, 100)
ATTENTION_KINDS = ("eager", "sdpa", "tiled", "window-sdpa", "window-tiled", "block-sparse")
MIXER_NAMES = ("attention", "linear", "hyena")


def cmd_cost(args) -> None:
    from ..experiments import attention_cost as ac

    ac.check_call(args.kind, args.length, block=args.block)  # block and memory, before anything is allocated
    r = ac.measure(lambda: ac.attention_call(args.kind, args.length, block=args.block, window=args.window), args.reps)
    console().print(
        f"{args.kind} attention, length {args.length:,}, d 64, forward + backward: extra memory "
        f"{r['extra_mib']:,.1f} MiB, {r['cpu_seconds']:.4f} CPU s ({r['seconds']:.4f} s wall)"
    )


def cmd_decode(args) -> None:
    from ..experiments import attention_cost as ac

    ac.decode_step(args.mixer, 1)  # a mixer that cannot decode from a cache is refused before measuring
    r = ac.measure(lambda: ac.decode_step(args.mixer, args.context), args.reps)
    console().print(
        f"{args.mixer}: one token after {args.context:,} tokens of context: {1000 * r['cpu_seconds']:.3f} CPU ms "
        f"({1000 * r['seconds']:.3f} ms wall)"
    )


def register(sub, add) -> None:
    group = add("attention", None, "what attention costs: memory and time against length, decoding per token")
    inner = group.add_subparsers(dest="attention_command", metavar="COMMAND", required=True)
    text = "peak extra memory and time of one causal attention call (forward + backward, one head, d 64)"
    sp = inner.add_parser("cost", help=text, description=text)
    sp.add_argument("--kind", choices=ATTENTION_KINDS, default="tiled", help=help_text("implementation", "tiled"))
    sp.add_argument("--length", type=LENGTH, default=4096, help=help_text("sequence length in tokens", 4096, LENGTH))
    sp.add_argument(
        "--block",
        type=BLOCK,
        default=256,
        help=help_text("block size (tiled, block-sparse): must divide the length", 256, BLOCK),
    )
    sp.add_argument("--window", type=LENGTH, default=256, help=help_text("sliding window (window-*)", 256, LENGTH))
    sp.add_argument("--reps", type=REPS, default=3, help=help_text("timed calls (median)", 3, REPS))
    sp.set_defaults(fn=cmd_cost)
    text = "CPU time of decoding one token after a context, through a KV cache (attention) or a state (linear)"
    sp = inner.add_parser("decode", help=text, description=text)
    sp.add_argument("--mixer", choices=MIXER_NAMES, default="linear", help=help_text("sequence mixer", "linear"))
    ctx = number(int, 1, 32768)
    sp.add_argument("--context", type=ctx, default=4096, help=help_text("tokens already cached", 4096, ctx))
    sp.add_argument("--reps", type=REPS, default=5, help=help_text("timed steps (median)", 5, REPS))
    sp.set_defaults(fn=cmd_decode)
