"""Reverse steps, classifier-free guidance and the sampling loop.

Both steps first estimate the clean image from the predicted noise, x0 = (x_t - sqrt(1 - abar_t) eps) /
sqrt(abar_t), clipped to the data range [-1, 1], then
  DDPM  x_prev = posterior mean of q(x_prev | x_t, x0) + sqrt(posterior variance) z   (Ho et al., eq. 6-7)
  DDIM  x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z, where eps is the noise
        x_t implies given the clipped x0, (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t), and
        sigma = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev)   (Song et al., eq. 12, 16)
With fewer steps than training timesteps, t_prev is the next timestep visited and beta_t becomes
1 - abar_t / abar_prev (respacing). Classifier-free guidance (Ho & Salimans 2022) runs the model with
the class and with the learned null class: eps = eps_null + s (eps_class - eps_null); s = 1 is the plain
conditional model, s = 0 the unconditional one.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ..errors import TcatError
from .schedules import Schedule

SAMPLERS = ("ddim", "ddpm")


def predict_x0(schedule: Schedule, eps: Tensor, t: int, x: Tensor, clip: float | None = 1.0) -> Tensor:
    a = schedule.abar(t)
    x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
    return x0 if clip is None else x0.clamp(-clip, clip)


def ddpm_step(
    schedule: Schedule, eps: Tensor, t: int, t_prev: int, x: Tensor, noise: Tensor | None, clip: float | None = 1.0
) -> tuple[Tensor, Tensor]:
    """(x_prev, x0): one ancestral step from t to t_prev (-1 after the last), with the posterior's
    variance (DDPM's "fixed small"); `noise` ~ N(0, I) is used where t > 0."""
    a, a_prev = schedule.abar(t), schedule.abar(t_prev)
    beta = 1 - a / a_prev
    x0 = predict_x0(schedule, eps, t, x, clip)
    mean = (a_prev.sqrt() * beta / (1 - a)) * x0 + ((1 - beta).sqrt() * (1 - a_prev) / (1 - a)) * x
    if t > 0:
        variance = ((1 - a_prev) / (1 - a) * beta).clamp(min=1e-20)
        mean = mean + variance.sqrt() * noise
    return mean, x0


def ddim_step(
    schedule: Schedule,
    eps: Tensor,
    t: int,
    t_prev: int,
    x: Tensor,
    eta: float = 0.0,
    noise: Tensor | None = None,
    clip: float | None = 1.0,
) -> tuple[Tensor, Tensor]:
    """(x_prev, x0): one DDIM step from t to t_prev (-1 after the last: abar = 1); eta = 0 is
    deterministic, eta = 1 has DDPM's variance."""
    a, a_prev = schedule.abar(t), schedule.abar(t_prev)
    x0 = predict_x0(schedule, eps, t, x, clip)
    if clip is not None:
        # the noise that x_t implies given the clipped x0: DDIM moves along the line through both, so the step
        # must use this one, not the raw prediction (guided-diffusion and DiT do so; diffusers with
        # use_clipped_model_output). Clipped x0 with the raw eps shrinks every step where the clip bites:
        # the samples lost contrast, and more steps or guidance made them worse.
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
    sigma = eta * ((1 - a_prev) / (1 - a) * (1 - a / a_prev)).sqrt()
    out = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).sqrt() * eps
    if eta > 0:
        out = out + sigma * noise
    return out, x0


def guided_eps(model, x: Tensor, t: Tensor, y: Tensor, guidance: float) -> Tensor:
    """The noise prediction under classifier-free guidance with scale `guidance` (first `channels` outputs)."""
    channels = x.size(1)
    if guidance == 1.0:
        return model(x, t, y)[:, :channels]
    null = model.null_class
    if null is None:
        raise TcatError("guidance other than 1 needs a model trained with class dropout (a learned null class)")
    both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null)]))[:, :channels]
    cond, uncond = both.chunk(2)
    return uncond + guidance * (cond - uncond)


def check_request(model, labels: Tensor, steps: int, guidance: float, sampler: str, eta: float) -> None:
    """One line for each impossible request, before any work."""
    g = model.config.dit
    if sampler not in SAMPLERS:
        raise TcatError(f"sampler {sampler!r}: use one of {', '.join(SAMPLERS)}")
    if steps < 1:
        raise TcatError(f"sampling steps must be at least 1, got {steps}")
    if guidance < 0:
        raise TcatError(f"guidance scale must be >= 0 (1 = no guidance), got {guidance}")
    if eta < 0:
        raise TcatError(f"eta must be >= 0, got {eta}")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= g.n_classes):
        raise TcatError(f"class label out of range: this model has classes 0..{g.n_classes - 1}")


@torch.no_grad()
def sample(
    model,
    schedule: Schedule,
    labels: Tensor,
    steps: int = 50,
    sampler: str = "ddim",
    guidance: float = 1.0,
    eta: float = 0.0,
    seed: int = 0,
    batch: int = 500,
    progress=None,
) -> Tensor:
    """Images in [-1, 1], (N, C, H, W), one per label. The noise comes from a generator seeded by `seed`,
    drawn batch by batch, so a request is reproducible. `progress(n_done)` is called after each batch."""
    check_request(model, labels, steps, guidance, sampler, eta)
    g = model.config.dit
    gen = torch.Generator().manual_seed(seed)
    ts = schedule.timesteps(steps)
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(labels), batch):
        y = labels[start : start + batch]
        x = torch.randn(len(y), g.channels, g.image_size, g.image_size, generator=gen)
        for i, t in enumerate(ts):
            t_prev = ts[i + 1] if i + 1 < len(ts) else -1
            eps = guided_eps(model, x, torch.full((len(y),), t), y, guidance)
            noise = torch.randn(x.shape, generator=gen) if (sampler == "ddpm" and t > 0) or eta > 0 else None
            if sampler == "ddpm":
                x, _ = ddpm_step(schedule, eps, t, t_prev, x, noise)
            else:
                x, _ = ddim_step(schedule, eps, t, t_prev, x, eta, noise)
        out.append(x.clamp(-1, 1))
        if progress is not None:
            progress(start + len(y))
    model.train(was_training)
    return torch.cat(out)


def grid_png(images: Tensor, rows: int, path: str | Path, labels: list[str] | None = None) -> Path:
    """Images in [-1, 1] (N, C, H, W), N = rows x columns in row order, as one PNG (grey or RGB),
    written atomically; `labels` names the rows."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..files import write_bytes

    n, c, h, w = images.shape
    cols = n // rows
    pix = ((images[: rows * cols] + 1) / 2).clamp(0, 1)
    tiled = pix.reshape(rows, cols, c, h, w).permute(0, 3, 1, 4, 2).reshape(rows * h, cols * w, c)
    fig, ax = plt.subplots(figsize=(max(2.0, cols * w / 28 * 0.6 + 1.2), max(2.0, rows * h / 28 * 0.6)), dpi=100)
    ax.imshow(tiled[..., 0].numpy() if c == 1 else tiled.numpy(), cmap="gray" if c == 1 else None, vmin=0, vmax=1)
    ax.set_xticks([])
    if labels:
        ax.set_yticks([h / 2 + h * r for r in range(rows)], labels[:rows], fontsize=7)
    else:
        ax.set_yticks([])
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_bytes(Path(path), buf.getvalue())
    return Path(path)
