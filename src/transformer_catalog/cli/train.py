"""`tcat train`: its flags are generated from train/config.py (each option written once there);
the run is set up by train/setup.py, which checks everything before anything is written."""

from __future__ import annotations

import json

from .common import add_threads, set_threads
from .options import add_fields, field_defaults, given


def cmd_train(args) -> None:
    set_threads(args.threads)
    from ..train.config import RunOptions, TrainConfig
    from ..train.distributed import init_from_env
    from ..train.setup import describe_result, setup

    run_given, train_given = given(args, RunOptions), given(args, TrainConfig)
    opts = RunOptions(**{**field_defaults(RunOptions), **run_given})
    rank, world = init_from_env()  # under torchrun: one process per rank, data parallel
    run = setup(opts, run_given, train_given, world=world, progress=not opts.quiet)
    say = print if rank == 0 else (lambda *a, **k: None)
    for line in run.lines:
        say(line)
    state = run.trainer.fit()
    say(json.dumps(describe_result(run.trainer, state)))


def register(sub, add) -> None:
    sp = add(
        "train",
        cmd_train,
        "train a model on a task, with checkpoints and exact --resume",
        epilog="On --resume the run keeps its model, data and optimisation: a flag marked 'kept from the run' "
        "must then equal the run's value or be left out; the others may change.",
    )
    if getattr(sp, "skipped", False):
        return
    from ..train.config import RunOptions, TrainConfig

    add_fields(sp, RunOptions, resume_note=True)
    group = sp.add_argument_group("optimisation")
    add_fields(group, TrainConfig, resume_note=True)
    add_threads(sp)
