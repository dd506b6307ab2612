"""One optimizer step of a tiny causal LM through the Trainer, single-process or under torchrun;
writes (rank 0) the gradients the optimizer saw and, under DDP, the micro-step during which each
gradient all-reduce ran. Used by tests/test_distributed.py."""

import json
import sys
from pathlib import Path

import torch

from transformer_catalog.nn import ModelConfig, build_model
from transformer_catalog.train import distributed
from transformer_catalog.train.tasks import make_objective_task
from transformer_catalog.train.trainer import TrainConfig, Trainer

out, accum = Path(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(1)
distributed.init_from_env()
task = make_objective_task("clm", "bible-sample", vocab_size=400, max_len=32)
cfg = ModelConfig.from_dict({"arch": "decoder", "d_model": 32, "n_encoder_layers": 0, "n_decoder_layers": 2, "dropout": 0.0,
                             "attention": {"n_heads": 4}, "ffn": {"d_ff": 64}, "norm": {"placement": "pre", "final": True},
                             "position": {"kind": "learned", "max_len": 64}, "embedding": {"vocab_size": task.vocab_size}})
torch.manual_seed(0)
model = build_model(cfg)
trainer = Trainer(model, task, TrainConfig(steps=1, grad_accum=accum, optimizer="adamw", schedule="cosine", warmup=1,
                                           max_tokens=64, eval_every=0, save_every=0), out, progress=False)
micro, synced, grads = [0], [], {}
loss = task.loss
task.loss = lambda *a, **k: (micro.__setitem__(0, micro[0] + 1), loss(*a, **k))[1]
if hasattr(trainer.step_module, "register_comm_hook"):
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    def hook(state, bucket):
        synced.append(micro[0])
        return allreduce_hook(None, bucket)
    trainer.step_module.register_comm_hook(None, hook)
step = trainer.optimizer.step
trainer.optimizer.step = lambda: (grads.update({n: p.grad.clone() for n, p in model.named_parameters()}), step())[1]
trainer.fit()
if distributed.rank() == 0:
    from safetensors.torch import save_file

    save_file(grads, str(out / "grads.safetensors"))
    (out / "synced.json").write_text(json.dumps(synced))
