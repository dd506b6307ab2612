"""`tcat rlhf sft|reward|ppo|dpo|grpo`: learning from human feedback on VADER's rated snippets (rlhf/).

Each stage writes a run folder (checkpoint/, metrics.jsonl, a JSON summary) and continues exactly with
--resume; everything it is given is checked before anything is written."""

from __future__ import annotations

import json

from .common import add_threads, set_threads
from .options import help_text, number

STEPS = number(int, 1, 10**7)
MINUTES = number(float, 0, 10**6)
SEED = number(int, 0, 2**31 - 1)
LR = number(float, 0, 1, "(]")
GAP = number(float, 0, 8, "(]")
NONNEG = number(float, 0, 10**3)
BATCH = number(int, 2, 4096)
TOKENS = number(int, 1, 512)
COUNT = number(int, 1, 10**6)
LAYERS = number(int, 0, 64)
WIDTH = number(int, 0, 8192)
VOCAB = number(int, 300, 200000)
REAL = number(float)  # checked by the stage itself, which says why (a negative beta, ...)
GROUP = number(int, 1, 4096)
PAIRS = number(int, 0, 10**7)


def _common(sp, steps: int) -> None:
    sp.add_argument("--out", required=True, metavar="DIR", help="run folder: checkpoint/, metrics.jsonl (required)")
    sp.add_argument("--resume", action="store_true", help="continue the run in --out exactly (default off)")
    sp.add_argument("--steps", type=STEPS, default=steps, help=help_text("optimizer steps in all", steps, STEPS))
    sp.add_argument(
        "--minutes",
        type=MINUTES,
        default=0.0,
        help=help_text("stop and save after this long (0 = no limit)", 0, MINUTES),
    )
    sp.add_argument("--seed", type=SEED, default=0, help=help_text("seed of split, init and sampling", 0, SEED))
    sp.add_argument("--quiet", action="store_true", help="no progress bar (default off)")
    add_threads(sp)


def _print(result: dict) -> None:
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}))


def cmd_sft(args) -> None:
    set_threads(args.threads)
    from ..rlhf.sft import SFTConfig
    from ..rlhf.stages import run_sft

    cfg = SFTConfig(
        model=args.model, vocab=args.vocab, steps=args.steps, lr=args.lr, seed=args.seed, layers=args.layers,
        d_model=args.d_model,
    )  # fmt: skip
    _print(run_sft(cfg, args.out, resume=args.resume, minutes=args.minutes, progress=not args.quiet))


def cmd_reward(args) -> None:
    set_threads(args.threads)
    from ..rlhf.reward import RewardConfig
    from ..rlhf.stages import run_reward

    cfg = RewardConfig(body=args.body, steps=args.steps, lr=args.lr, frozen=args.frozen, seed=args.seed)
    result = run_reward(
        cfg,
        args.out,
        resume=args.resume,
        pairs_file=args.pairs,
        min_gap=args.min_gap,
        max_train_pairs=args.max_pairs,
        max_eval=args.eval_pairs,
        minutes=args.minutes,
        progress=not args.quiet,
    )
    _print(result)


def cmd_ppo(args) -> None:
    set_threads(args.threads)
    from ..rlhf.ppo import PPOConfig
    from ..rlhf.stages import run_ppo

    cfg = PPOConfig(
        steps=args.steps, batch=args.batch, max_new=args.max_new_tokens, lr=args.lr, kl_coef=args.kl_coef,
        target_kl=args.target_kl, seed=args.seed,
    )  # fmt: skip
    result = run_ppo(
        args.sft,
        args.reward,
        args.out,
        cfg,
        reference=args.reference,
        resume=args.resume,
        n_eval=args.eval_prompts,
        minutes=args.minutes,
        progress=not args.quiet,
    )
    _print(result)
    for s in result["samples"]:
        print(f"  SFT {s['sft_reward']:+.2f} | {s['sft']}\n  PPO {s['ppo_reward']:+.2f} | {s['ppo']}")


def cmd_dpo(args) -> None:
    set_threads(args.threads)
    from ..rlhf.dpo import DPOConfig, check_dpo, train_dpo

    cfg = DPOConfig(loss=args.loss, beta=args.beta, pairs=args.pairs, steps=args.steps, lr=args.lr, seed=args.seed)
    check_dpo(cfg)
    _print(train_dpo(args.policy, args.out, cfg, reward=args.reward, resume=args.resume, progress=not args.quiet))


def cmd_grpo(args) -> None:
    set_threads(args.threads)
    from ..rlhf.grpo import GRPOConfig, check_grpo, train_grpo

    cfg = GRPOConfig(group_size=args.group_size, beta=args.beta, steps=args.steps, lr=args.lr, seed=args.seed)
    check_grpo(cfg)
    _print(train_grpo(args.out, cfg, policy=args.policy, resume=args.resume, progress=not args.quiet))


def register(sub, add) -> None:
    group = add("rlhf", None, "learning from human feedback: SFT, reward model, PPO, DPO, GRPO on VADER's ratings")
    if getattr(group, "skipped", False):
        return
    inner = group.add_subparsers(dest="rlhf_command", metavar="COMMAND", required=True)

    text = "train the SFT policy (a tcat GPT) on the training snippets of VADER's four rated sets"
    sp = inner.add_parser("sft", help=text, description=text)
    _common(sp, 360)
    sp.add_argument(
        "--model", default="gpt2-6x256", help="a decoder named config or catalog entry (default gpt2-6x256)"
    )
    sp.add_argument("--layers", type=LAYERS, default=4, help=help_text("decoder layers (0 = the model's)", 4, LAYERS))
    sp.add_argument("--d-model", type=WIDTH, default=0, help=help_text("width (0 = the model's)", 0, WIDTH))
    sp.add_argument("--vocab", type=VOCAB, default=4096, help=help_text("BPE vocabulary size", 4096, VOCAB))
    sp.add_argument("--lr", type=LR, default=1e-3, help=help_text("peak learning rate", 1e-3, LR))
    sp.set_defaults(fn=cmd_sft)

    text = "train a Bradley-Terry reward model on preference pairs (VADER's ratings, or --pairs FILE)"
    sp = inner.add_parser("reward", help=text, description=text)
    _common(sp, 250)
    sp.add_argument(
        "--body", default="minilm", help="minilm, a Hugging Face encoder folder or a tcat encoder run (default minilm)"
    )
    sp.add_argument("--frozen", type=LAYERS, default=4, help=help_text("lower blocks kept frozen", 4, LAYERS))
    sp.add_argument("--lr", type=LR, default=1e-4, help=help_text("peak learning rate", 1e-4, LR))
    sp.add_argument("--min-gap", type=GAP, default=1.0, help=help_text("a pair's least rating difference", 1.0, GAP))
    sp.add_argument("--max-pairs", type=PAIRS, default=0, help=help_text("training pairs at most (0 = all)", 0, PAIRS))
    sp.add_argument(
        "--pairs",
        default=None,
        metavar="FILE",
        help="JSONL of {chosen, rejected} texts instead of VADER (default none)",
    )
    sp.add_argument(
        "--eval-pairs", type=PAIRS, default=0, help=help_text("held-out pairs scored at most (0 = all)", 0, PAIRS)
    )
    sp.set_defaults(fn=cmd_reward)

    text = "PPO from an SFT run against a reward-model run, judged by VADER's lexicon"
    sp = inner.add_parser("ppo", help=text, description=text)
    _common(sp, 60)
    sp.add_argument("--sft", required=True, metavar="RUN", help="the SFT run (policy init and reference; required)")
    sp.add_argument("--reward", required=True, metavar="RUN", help="the reward-model run (required)")
    sp.add_argument("--reference", default=None, metavar="RUN", help="another reference policy (default: the SFT run)")
    sp.add_argument("--kl-coef", type=NONNEG, default=0.1, help=help_text("initial KL coefficient beta", 0.1, NONNEG))
    sp.add_argument(
        "--target-kl", type=NONNEG, default=4.0, help=help_text("adaptive beta's target KL (0 = fixed)", 4.0, NONNEG)
    )
    sp.add_argument("--batch", type=BATCH, default=32, help=help_text("rollouts per step", 32, BATCH))
    sp.add_argument("--max-new-tokens", type=TOKENS, default=24, help=help_text("response tokens at most", 24, TOKENS))
    sp.add_argument("--lr", type=LR, default=1e-5, help=help_text("learning rate", 1e-5, LR))
    sp.add_argument("--eval-prompts", type=COUNT, default=256, help=help_text("held-out prompts judged", 256, COUNT))
    sp.set_defaults(fn=cmd_ppo)

    text = "DPO / IPO / KTO from an SFT run, on pairs sampled and ranked by a reward model or on the human pairs"
    sp = inner.add_parser("dpo", help=text, description=text)
    _common(sp, 120)
    sp.add_argument("--policy", required=True, metavar="RUN", help="the SFT run (policy init and reference; required)")
    sp.add_argument(
        "--reward", default=None, metavar="RUN", help="the reward-model run (default none; needed for sampled pairs)"
    )
    sp.add_argument("--loss", default="dpo", choices=("dpo", "ipo", "kto"), help="the preference loss (default dpo)")
    sp.add_argument(
        "--beta", type=REAL, default=0.1, help=help_text("beta: strength of the tie to the reference", 0.1, REAL)
    )
    sp.add_argument("--pairs", default="sampled", choices=("sampled", "human"), help="pair source (default sampled)")
    sp.add_argument("--lr", type=LR, default=5e-5, help=help_text("learning rate", 5e-5, LR))
    sp.set_defaults(fn=cmd_dpo)

    text = "GRPO with a verifiable reward: 3-digit additions, groups of samples per prompt, no learned reward"
    sp = inner.add_parser("grpo", help=text, description=text)
    _common(sp, 200)
    sp.add_argument("--policy", default=None, metavar="RUN", help="an additions SFT run (default: train one first)")
    sp.add_argument("--group-size", type=GROUP, default=8, help=help_text("samples per prompt", 8, GROUP))
    sp.add_argument("--beta", type=REAL, default=0.04, help=help_text("KL coefficient", 0.04, REAL))
    sp.add_argument("--lr", type=LR, default=2e-4, help=help_text("learning rate", 2e-4, LR))
    sp.set_defaults(fn=cmd_grpo)
