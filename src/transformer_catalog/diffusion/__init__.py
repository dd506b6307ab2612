"""Denoising diffusion around the core's DiT (nn/dit.py), layer 6.

  schedules.py   DDPM's noise schedules (linear and cosine beta), the forward process q(x_t | x_0)
  sampling.py    one reverse step of DDPM and of DDIM (eta), classifier-free guidance, the sampling loop,
                 PNG sample grids
  training.py    class-conditional training on Fashion-MNIST through the one trainer (train/trainer.py):
                 the noise-prediction loss as a Task, checkpoints and exact resume
  evaluate.py    samples scored under the metrics package's protocol (FID-CNN and CAS, metrics/)

The steps equal diffusers' DDPMScheduler and DDIMScheduler on the same tensors (tests/test_dit.py).
"""
