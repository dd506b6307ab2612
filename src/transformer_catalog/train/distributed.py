"""Data-parallel training from outside the model (torchtitan's rule: model code is single-device).

  torchrun --nproc_per_node=N -m transformer_catalog.train --task clm --data kjv --model GPT-2 --out runs/x

With DDP each process holds the whole model and gradients are averaged across processes (gloo on
CPU, nccl on GPUs). With FSDP2 (`--fsdp`) every block and then the whole model are sharded with
`fully_shard`: each process keeps 1/N of the weights, gradients and Adam moments, all-gathers a
block's weights for its forward and backward and reduce-scatters its gradients. Checkpoints are
the same folders either way: the full weights and optimizer state are gathered to rank 0 to be
written, and scattered back on resume, so a run can stop under FSDP and resume under DDP. Every
step consumes world_size x grad_accum micro-batches of one global sequence, rank r taking its own
contiguous share, so N processes with accumulation A train exactly as one process with
accumulation N x A (same global batch), up to floating-point summation order.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager, nullcontext

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


def wrap(model: torch.nn.Module, fsdp: bool = False) -> torch.nn.Module:
    """The module the training step runs: `model` itself when single-process; DDP around it; or,
    with `fsdp`, `model` sharded in place (each Block, then the root, which holds the embeddings
    and the tied head)."""
    if world_size() == 1:
        return model
    if not fsdp:
        return torch.nn.parallel.DistributedDataParallel(model)
    from torch.distributed.fsdp import fully_shard  # public from torch 2.6

    from ..nn.blocks import Block

    # Heads return views of F.linear's output (a reshape); nothing here writes into a model output in
    # place, which is the case this warning guards against.
    warnings.filterwarnings("ignore", message="FSDP2-wrapped module .* returned a view tensor")
    for module in list(model.modules()):
        if isinstance(module, Block):
            fully_shard(module)
    fully_shard(model)
    return model


def is_sharded(model: torch.nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)  # fully_shard makes the module an instance of FSDPModule


@contextmanager
def _fsdp_no_sync(module):
    module.set_requires_gradient_sync(False)  # keep unsharded gradients, reduce-scatter nothing
    try:
        yield
    finally:
        module.set_requires_gradient_sync(True)


def no_sync(module: torch.nn.Module, last: bool):
    """Skip the gradient all-reduce on every micro-step but the last of an optimizer step."""
    if last:
        return nullcontext()
    if isinstance(module, torch.nn.parallel.DistributedDataParallel):
        return module.no_sync()
    if is_sharded(module):
        return _fsdp_no_sync(module)
    return nullcontext()


def _full_options(**kw):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, **kw)


def gather_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict | None, dict | None]:
    """(full weights, optimizer state dict keyed by parameter index as optimizer.state_dict() is),
    on CPU. Sharded models gather to rank 0 (every process must call this); other ranks get None."""
    if not is_sharded(model):
        return model.state_dict(), optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

    weights = get_model_state_dict(model, options=_full_options(cpu_offload=True))
    by_name = get_optimizer_state_dict(model, optimizer, options=_full_options(cpu_offload=True))
    if rank() != 0:
        return None, None
    index = {name: i for i, (name, _) in enumerate(model.named_parameters())}  # the optimizer's order
    return weights, {
        "state": {index[n]: s for n, s in by_name["state"].items()},
        "param_groups": [{**g, "params": [index[n] for n in g["params"]]} for g in by_name["param_groups"]],
    }


def load_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, weights: dict, optimizer_state: dict) -> None:
    """The inverse of gather_state: full weights and optimizer state into a plain or sharded model."""
    if not is_sharded(model):
        model.load_state_dict(weights)
        optimizer.load_state_dict(optimizer_state)
        return
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

    names = [name for name, _ in model.named_parameters()]
    by_name = {
        "state": {names[i]: s for i, s in optimizer_state["state"].items()},
        "param_groups": [{**g, "params": [names[i] for i in g["params"]]} for g in optimizer_state["param_groups"]],
    }
    set_model_state_dict(model, weights, options=_full_options())
    set_optimizer_state_dict(model, optimizer, by_name, options=_full_options())


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
