"""Data-parallel training from outside the model (torchtitan's rule: model code is single-device).

  torchrun --nproc_per_node=N -m transformer_catalog.train --task clm --data kjv --model GPT-2 --out runs/x

Each process holds the whole model; DDP averages gradients across processes (gloo on CPU, nccl on
GPUs). (FSDP2 sharding trains here too, but its sharded weights cannot yet be written to our
checkpoint folders, so it is not offered.) Every
step consumes world_size x grad_accum micro-batches of one global sequence, rank r taking its own
contiguous share, so N processes with accumulation A train exactly as one process with
accumulation N x A (same global batch), up to floating-point summation order.
"""

from __future__ import annotations

import os
from contextlib import nullcontext

import torch
import torch.distributed as dist


def init_from_env() -> tuple[int, int]:
    """(rank, world_size); starts the process group when torchrun launched several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return rank(), world_size()


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module the training step runs: DDP around `model` when distributed, else `model`."""
    if world_size() == 1:
        return model
    return torch.nn.parallel.DistributedDataParallel(model)


def no_sync(module: torch.nn.Module, last: bool):
    """Skip the gradient all-reduce on every micro-step but the last of an optimizer step."""
    if last:
        return nullcontext()
    if hasattr(module, "no_sync"):  # DDP
        return module.no_sync()
    return nullcontext()


def mean(value: float) -> float:
    """The mean of a number over processes (for logging a global loss)."""
    if world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return t.item() / world_size()


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()
