"""DiT's fields (Peebles & Xie 2022, arXiv 2212.09748): a denoiser over image patches, conditioned on
the diffusion timestep and a class. `ModelConfig.dit` holds them; the transformer part (width, heads,
feed-forward, norms) stays in the ModelConfig's usual fields, so the blocks are the core's own.

The paper's four ways of feeding the condition into the blocks are one field, `conditioning`:
  adaln-zero        scale and shift of each block's norms and a gate on each residual branch, regressed
                    from timestep + class embeddings; the regressions start at zero, so every block
                    starts as the identity (the paper's choice)
  adaln             the same scale and shift, no gates, ordinary initialisation
  in-context        timestep and class embeddings as two extra tokens, dropped after the last block
  cross-attention   each block also attends to the two embeddings as a length-2 context
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import TcatError

CONDITIONINGS = ("adaln-zero", "adaln", "in-context", "cross-attention")


@dataclass
class DiTConfig:
    image_size: int = 32  # input side in pixels (or latent cells: 256 px through SD's VAE is 32)
    channels: int = 4  # input channels (SD's VAE latent has 4; grey images 1)
    patch_size: int = 2  # DiT-XL/2: 2 x 2 patches
    learn_sigma: bool = True  # the output also carries a variance per pixel (twice the channels)
    n_classes: int = 1000
    # Share of training labels replaced by the null class. Above 0 the class table has one more row, the
    # learned null class that classifier-free guidance contrasts with (the paper: 0.1).
    class_dropout: float = 0.1
    conditioning: Literal["adaln-zero", "adaln", "in-context", "cross-attention"] = "adaln-zero"
    frequency_dim: int = 256  # sinusoidal timestep features fed to the timestep MLP
    # Frequencies max_period^(-i / (half - freq_shift)): 0 is the paper's code; diffusers' DiT uses 1.
    freq_shift: float = 0.0
    max_period: float = 10000.0

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def out_channels(self) -> int:
        return 2 * self.channels if self.learn_sigma else self.channels

    @property
    def null_class(self) -> int | None:
        """The row of the learned null class (unconditional), or None without class dropout."""
        return self.n_classes if self.class_dropout > 0 else None

    def validate(self, cfg) -> None:
        """Checks against the whole ModelConfig `cfg`; one line naming the field."""

        def fail(path: str, msg: str) -> None:
            raise TcatError(f"model config: dit.{path}: {msg}")

        for name in ("image_size", "channels", "patch_size", "n_classes", "frequency_dim"):
            if getattr(self, name) < 1:
                fail(name, f"must be at least 1, got {getattr(self, name)}")
        if self.image_size % self.patch_size:
            fail("patch_size", f"{self.patch_size} does not divide image_size={self.image_size}")
        if self.frequency_dim % 2:
            fail("frequency_dim", f"must be even (cosines and sines), got {self.frequency_dim}")
        if not 0.0 <= self.class_dropout < 1.0:
            fail("class_dropout", f"must be in [0, 1), got {self.class_dropout}")
        if not 0.0 <= self.freq_shift < self.frequency_dim // 2:
            fail("freq_shift", f"must be in [0, frequency_dim / 2), got {self.freq_shift}")
        if cfg.arch != "encoder" or cfg.vision is not None or cfg.position.kind != "none":
            raise TcatError(
                "model config: dit: a DiT is an encoder over patches with its own 2-D sin-cos positions "
                "(arch: encoder, position.kind: none, no vision)"
            )
        if cfg.d_model % 4:
            raise TcatError(f"model config: d_model: {cfg.d_model} must be divisible by 4 (2-D sin-cos positions)")
