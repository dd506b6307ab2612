"""What a training run is told, written once: each field below is both a setting and a `tcat train`
flag (cli/options.py generates the flags from these fields: help, default, valid range, and what
--resume does with it). Torch-free, so that `tcat --help` stays instant.

`resume` in a field's metadata says what `tcat train --resume` does with the flag:
  "honoured" - this invocation's value is used (e.g. more --steps, this invocation's --minutes);
  "refused"  - the value is fixed by the run: given with --resume it must equal the checkpoint's,
               otherwise the resume is refused in one line before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INF = float("inf")


def opt(default, help: str, *, range=None, resume: str = "refused", **cli):
    """A dataclass field that is also a command-line option. `range`: (lo, hi) inclusive, or with
    "(" / ")" markers for open ends, e.g. (0, 1, "[)"); `cli`: argparse extras (flag, choices, ...)."""
    meta = {"help": help, "range": range, "resume": resume, **cli}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """The optimisation of a run (the trainer reads these; saved in the checkpoint's config.json)."""

    steps: int = opt(
        2000,
        "total optimizer steps; on --resume the run continues up to this step",
        range=(1, 10**9),
        resume="honoured",
    )
    max_minutes: float = opt(
        0.0,
        "stop and checkpoint after this many minutes of this invocation (0 = no limit)",
        range=(0, 10**7),
        resume="honoured",
        flag="--minutes",
    )
    max_tokens: int = opt(4096, "tokens per micro-batch (longest sequence x batch size)", range=(1, 10**8))
    lr_scale: float = opt(1.0, "multiplier on the paper's inverse-sqrt schedule", range=(0, 10**4, "()"))
    warmup: int = opt(4000, "learning-rate warmup steps (paper: 4000)", range=(1, 10**9))
    beta1: float = opt(0.9, "Adam beta1", range=(0, 1, "[)"))
    beta2: float = opt(0.98, "Adam beta2 (paper: 0.98)", range=(0, 1, "[)"))
    eps: float = opt(1e-9, "Adam epsilon (paper: 1e-9)", range=(0, 1, "()"))
    label_smoothing: float = opt(0.1, "label smoothing of the translation loss (paper: 0.1)", range=(0, 1, "[)"))
    clip: float = opt(0.0, "gradient-norm clipping (0 = off; the paper does not clip)", range=(0, 10**6))
    optimizer: str = opt("adam", "adam (the paper) or adamw (decoupled weight decay)", choices=("adam", "adamw"))
    weight_decay: float = opt(0.0, "AdamW weight decay", range=(0, 10))
    schedule: str = opt(
        "inverse-sqrt",
        "inverse-sqrt (the paper) or cosine (linear warmup to --lr, cosine decay)",
        choices=("inverse-sqrt", "cosine"),
    )
    lr: float = opt(3e-4, "peak learning rate of the cosine schedule", range=(0, 10, "(]"))
    min_lr: float = opt(0.1, "the cosine schedule ends at lr x this", range=(0, 1))
    grad_accum: int = opt(
        1,
        "micro-batches per optimizer step and process; on --resume with another process "
        "count it is scaled so the global batch stays the same",
        range=(1, 4096),
    )
    eval_every: int = opt(
        250, "steps between validation losses (0 = only at the end)", range=(0, 10**9), resume="honoured"
    )
    save_every: int = opt(250, "steps between checkpoints (0 = only at the end)", range=(0, 10**9), resume="honoured")
    seed: int = opt(0, "seed of initialisation, batch order and dropout", range=(0, 2**31 - 1))
    bf16: bool = opt(
        False,
        "bf16 compute with fp32 master weights (autocast under torchrun): auto = on where a bf16 matmul "
        "of the model's shape measures faster here",
        resume="honoured",
        choices=("auto", "on", "off"),
        nargs="?",
        const="on",
        cli_default="auto",
    )
    compile: bool = opt(
        False, "torch.compile each block (measured no faster in fp32 on a CPU without AMX)", resume="honoured"
    )


@dataclass
class RunOptions:
    """What to train on what, and where: the rest of `tcat train`'s flags."""

    task: str = opt(
        "translate",
        "translate, copy, or a pretraining objective: clm, prefix-lm, plm, mlm, mlm-wwm, "
        "mlm-nsp, mlm-sop, rtd, span, denoise, contrastive",
    )
    data: str | None = opt(
        None,
        "translate: bible-en-es, bible-sample or a .tsv file; objectives: bible-sample, "
        "kjv, web, shakespeare, bible-kjv-web (pairs), or a .txt/.jsonl/.tsv file",
        default_text="bible-en-es for translate, bible-sample for objectives",
    )
    model: str = opt("transformer-small", "named config (tcat configs) or catalog entry NAME or NAME:VARIANT")
    scale: str = opt(
        "full", "for a catalog entry: full (published shape) or tiny (2 layers, width 64)", choices=("full", "tiny")
    )
    init: str | None = opt(
        None,
        "start from pretrained weights and their tokenizer: minilm, a Hugging Face "
        "folder, or a tcat run (replaces --model)",
    )
    max_len: int = opt(0, "objectives: longest sequence (0 = the model's context)", range=(0, 10**6))
    vocab: int = opt(0, "BPE vocabulary size; 0 = the model config's, at most 32000", range=(0, 10**7))
    dropout: float | None = opt(None, "dropout rate", range=(0, 1, "[)"), default_text="the model config's")
    set: list = opt(
        [],
        "override a model config field, e.g. --set d_model=384 --set attention.n_heads=6 (repeatable)",
        action="append",
        metavar="FIELD=VALUE",
    )
    out: str = opt("", "run folder: checkpoint/, metrics.jsonl and loss.png go here", required=True, resume="honoured")
    resume: bool = opt(False, "continue the run in --out exactly where it stopped", resume="honoured")
    fsdp: bool = opt(
        False, "under torchrun: shard weights, gradients and optimizer state (FSDP2) instead of DDP", resume="honoured"
    )
    quiet: bool = opt(False, "no progress bar", resume="honoured")

    # flags that decide the model or the data: with --resume they must match what the run recorded
    IDENTITY = ("task", "data", "model", "scale", "init", "max_len", "vocab", "dropout", "set")
