"""Optimizer steps of a tiny causal LM through the Trainer, single-process or under torchrun (DDP, or
FSDP2 with "fsdp"). Writes (rank 0) the full gradients the optimizer saw at step 1 and the micro-steps
during which gradients were synchronised; the Trainer writes its checkpoint to OUT/checkpoint.
Used by tests/test_distributed.py.

  ddp_step.py OUT ACCUM [ddp|fsdp] [STEPS] [resume]
"""

import json
import sys
from pathlib import Path

import torch

from transformer_catalog.nn import ModelConfig, build_model
from transformer_catalog.train import distributed
from transformer_catalog.train.tasks import make_objective_task
from transformer_catalog.train.trainer import TrainConfig, Trainer

out, accum = Path(sys.argv[1]), int(sys.argv[2])
fsdp = len(sys.argv) > 3 and sys.argv[3] == "fsdp"
steps = int(sys.argv[4]) if len(sys.argv) > 4 else 1
resume = len(sys.argv) > 5 and sys.argv[5] == "resume"
torch.set_num_threads(1)
distributed.init_from_env()
task = make_objective_task("clm", "bible-sample", vocab_size=400, max_len=32)
cfg = ModelConfig.from_dict(
    {
        "arch": "decoder",
        "d_model": 32,
        "n_encoder_layers": 0,
        "n_decoder_layers": 2,
        "dropout": 0.0,
        "attention": {"n_heads": 4},
        "ffn": {"d_ff": 64},
        "norm": {"placement": "pre", "final": True},
        "position": {"kind": "learned", "max_len": 64},
        "embedding": {"vocab_size": task.vocab_size, "tie_output": True},
    }
)
torch.manual_seed(0)
model = build_model(cfg)
trainer = Trainer(
    model,
    task,
    TrainConfig(
        steps=steps,
        grad_accum=accum,
        optimizer="adamw",
        schedule="cosine",
        warmup=1,
        max_tokens=64,
        eval_every=0,
        save_every=2,
        clip=1.0,
        weight_decay=0.1,
    ),
    out,
    progress=False,
    fsdp=fsdp,
)
if resume:
    trainer.resume()
micro, synced, grads = [0], [], {}


def has_grads():
    return any(p.grad is not None for p in model.parameters())


loss = task.loss


def counting_loss(*a, **k):
    if fsdp and micro[0] and has_grads():  # FSDP: gradients appear only when reduce-scattered
        synced.append(micro[0])
    micro[0] += 1
    return loss(*a, **k)


task.loss = counting_loss
if hasattr(trainer.step_module, "register_comm_hook"):  # DDP: count its all-reduces
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    def hook(state, bucket):
        synced.append(micro[0])
        return allreduce_hook(None, bucket)

    trainer.step_module.register_comm_hook(None, hook)
step = trainer.optimizer.step


def recording_step():
    if not grads:  # the first step's gradients, gathered whole (every rank takes part for DTensors)
        if fsdp and has_grads():
            synced.append(micro[0])
        for n, p in model.named_parameters():
            g = p.grad.full_tensor() if hasattr(p.grad, "full_tensor") else p.grad
            grads[n] = g.clone()
    step()


trainer.optimizer.step = recording_step
trainer.fit()
if distributed.rank() == 0 and not resume:
    from safetensors.torch import save_file

    save_file(grads, str(out / "grads.safetensors"))
    (out / "synced.json").write_text(json.dumps(sorted(set(synced))))
