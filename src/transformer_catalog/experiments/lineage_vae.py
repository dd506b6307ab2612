"""VAE row of the lineage: a class-conditional VAE on Fashion-MNIST; test ELBO, a 2-D latent manifold
picture, and CAS / FID-CNN under the shared protocol (metrics/), with a KL-free control."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .base import Clock, finish, prepare, pyplot, save_figure

NAME = "lineage-vae"
LINEAGE = "VAE"
CLAIM = (
    "A VAE learns a likelihood bound and a smooth latent space (Kingma & Welling 2013): on Fashion-MNIST its "
    "test ELBO beats independent per-class pixels, and images decoded from the prior N(0, I) are recognised "
    "as their class (CAS >= 0.5, five times chance) and lie closer to real images (FID-CNN) than the control's."
)
CONTROL = (
    "The same network, noise and training without the KL term: nothing ties the codes to N(0, I), so "
    "decoding prior samples must give images at least twice as far from real ones in FID-CNN."
)


@dataclass
class Config:
    setting: str = "full"
    n_train: int = 60000
    n_test: int = 10000
    latent: int = 4  # small: class information then goes through the label, not the code (better CAS)
    hidden: int = 400
    epochs: int = 10
    manifold_epochs: int = 6  # the 2-D latent VAE drawn as a manifold
    batch: int = 128
    lr: float = 2e-3
    samples_per_class: int = 1000  # 10,000 samples: the FID-CNN protocol
    classifier_train: int = 60000  # the metrics' classifier (metrics/classifier.py; cached once trained)
    classifier_epochs: int = 3
    cas_min: float = 0.5  # the claim's bar: five times chance (a tiny run's weak classifier: lower)
    control_ratio: float = 2.0  # the control's FID-CNN must be at least this multiple of the VAE's
    seed: int = 0

    @classmethod
    def tiny(cls) -> Config:
        return cls(setting="tiny", n_train=10000, n_test=2000, hidden=200, epochs=4, manifold_epochs=2,
                   samples_per_class=200, classifier_train=10000, classifier_epochs=1, cas_min=0.2,
                   control_ratio=1.3)  # fmt: skip


def _manifold_figure(model2d, tx, ty, classes, out):
    import torch

    plt = pyplot()
    fig, (grid_ax, scatter) = plt.subplots(1, 2, figsize=(10, 5), dpi=100)
    n = 15
    # Kingma & Welling's Fig. 4: latent points at evenly spaced quantiles of the prior, decoded
    q = torch.distributions.Normal(0, 1).icdf(torch.linspace(0.05, 0.95, n))
    z = torch.stack(torch.meshgrid(q, q.flip(0), indexing="xy"), -1).reshape(-1, 2)
    with torch.no_grad():
        tiles = torch.sigmoid(model2d.decode_logits(z, None)).reshape(n, n, 28, 28)
        mu, _ = model2d.encode(tx[:2000], None)
    grid_ax.imshow(tiles.permute(0, 2, 1, 3).reshape(n * 28, n * 28).numpy(), cmap="gray")
    grid_ax.set_title("decoded from a 15 x 15 grid of the 2-D latent space")
    grid_ax.axis("off")
    points = scatter.scatter(mu[:, 0].numpy(), mu[:, 1].numpy(), c=ty[:2000].numpy(), cmap="tab10", s=4)
    handles = [plt.Line2D([], [], marker="o", ls="", color=points.cmap(points.norm(c))) for c in range(10)]
    scatter.legend(handles, classes, fontsize=7, markerscale=1, loc="best")
    scatter.set_title("test images' latent means, by class")
    fig.tight_layout()
    return save_figure(fig, out, "lineage-vae-manifold.png")


def _samples_figure(samples, control, per_class, classes, out):
    import torch

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.4), dpi=100)
    for ax, images, title in ((axes[0], samples, "VAE"), (axes[1], control, "control: no KL term")):
        pick = torch.cat([torch.arange(8) + c * per_class for c in range(10)])  # 8 per class, a row each
        ax.imshow(images[pick, 0].reshape(10, 8, 28, 28).permute(0, 2, 1, 3).reshape(280, 224).numpy(), cmap="gray")
        ax.set_title(f"{title}: decoded from z ~ N(0, I), one class per row")
        ax.set_yticks([14 + 28 * c for c in range(10)], classes, fontsize=7)
        ax.set_xticks([])
    fig.tight_layout()
    return save_figure(fig, out, "lineage-vae-samples.png")


def run(cfg: Config, out) -> dict:
    import torch

    from ..data.cache import cache_dir
    from ..data.images import load_images
    from ..lineage.vae import VAE, fit, independent_pixels_loglik, test_elbo
    from ..metrics.classifier import Setting
    from ..metrics.images import Scorer

    out = prepare(out)
    clock = Clock()
    data = load_images("fashion-mnist")
    x, y = data["train"][0][: cfg.n_train], data["train"][1][: cfg.n_train]
    tx, ty = data["test"][0][: cfg.n_test], data["test"][1][: cfg.n_test]
    judge = Setting(n_train=cfg.classifier_train, epochs=cfg.classifier_epochs)
    scorer = Scorer(data, cache_dir() / "metrics", judge)
    labels = torch.arange(10).repeat_interleave(cfg.samples_per_class)
    models, scores, images = {}, {}, {}
    for name, kl_weight in (("vae", 1.0), ("control", 0.0)):
        torch.manual_seed(cfg.seed)
        models[name] = VAE(cfg.latent, cfg.hidden)
        fit(models[name], x, y, cfg.epochs, cfg.batch, cfg.lr, cfg.seed, kl_weight=kl_weight)
        images[name] = models[name].sample(labels, torch.Generator().manual_seed(cfg.seed + 1))
        scores[name] = scorer.score(images[name], labels)
    elbo = test_elbo(models["vae"], tx, ty, cfg.seed)
    baseline = independent_pixels_loglik(x, y, tx, ty)
    torch.manual_seed(cfg.seed)
    model2d = VAE(2, cfg.hidden, classes=0)  # unconditional: its plane holds every class, as in the paper
    fit(model2d, x, None, cfg.manifold_epochs, cfg.batch, cfg.lr, cfg.seed)
    elbo2d = test_elbo(model2d, tx, None, cfg.seed)
    reference = scorer.reference()
    classes = data["classes"]
    figures = [
        _samples_figure(images["vae"], images["control"], cfg.samples_per_class, classes, out),
        _manifold_figure(model2d, tx, ty, classes, out),
    ]
    vae, ctl = scores["vae"], scores["control"]
    return finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion=f"test ELBO > independent-pixel log-likelihood, CAS >= {cfg.cas_min}, FID-CNN below the control's; "
        f"the control's FID-CNN at least {cfg.control_ratio} x the VAE's",
        metrics={
            "test_elbo_nats": elbo,
            "independent_pixels_loglik_nats": baseline,
            "fid_cnn": vae["fid_cnn"],
            "cas": vae["cas"],
            "control_fid_cnn": ctl["fid_cnn"],
            "control_cas": ctl["cas"],
            "real_train_fid_cnn": reference["fid_cnn"],
            "real_test_accuracy": reference["cas"],
            "samples": vae["n_samples"],
            "manifold_2d_test_elbo_nats": elbo2d,
            "classifier": scorer.info["classifier_digest"],
            "classifier_cached": scorer.info["cached"],
        },
        claim_holds=elbo > baseline and vae["cas"] >= cfg.cas_min and vae["fid_cnn"] < ctl["fid_cnn"],
        control_fails=ctl["fid_cnn"] >= cfg.control_ratio * vae["fid_cnn"],
        figures=figures,
    )
