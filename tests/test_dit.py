"""DiT (nn/dit.py) and the samplers (diffusion/) against diffusers on the same tensors: the forward of
DiTTransformer2DModel built from its config class (no hub) with our weights, DDPMScheduler and
DDIMScheduler steps; DiT-XL/2's published size; the four conditioning variants as config fields."""

import math

import pytest
import torch

from transformer_catalog.diffusion.sampling import ddim_step, ddpm_step, sample
from transformer_catalog.diffusion.schedules import Schedule
from transformer_catalog.errors import TcatError
from transformer_catalog.nn import ModelConfig, build_model
from transformer_catalog.nn.dit import patchify, sincos_2d, timestep_embedding, unpatchify

diffusers = pytest.importorskip("diffusers")


def tiny_cfg(conditioning="adaln-zero", **dit) -> ModelConfig:
    return ModelConfig.from_dict(
        {
            "arch": "encoder",
            "d_model": 16,
            "n_encoder_layers": 2,
            "dropout": 0.0,
            "attention": {"n_heads": 2},
            "ffn": {"d_ff": 64, "activation": "gelu_tanh"},
            "norm": {"affine": False, "eps": 1e-6, "placement": "pre", "final": True},
            "position": {"kind": "none"},
            "dit": {
                "image_size": 8,
                "channels": 4,
                "patch_size": 2,
                "n_classes": 10,
                "conditioning": conditioning,
                **dit,
            },
        }
    )


def _randomise(model, std=0.3):
    """Every parameter random (adaLN-Zero's zeros would hide the conditioning's wiring)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)


def _to_diffusers(ours: dict, n_layers: int) -> dict:
    """Our DiT's weights under diffusers' names; diffusers keeps a copy of the timestep and class
    embedders in every block (its conversion script copies the one of the original DiT)."""
    out = {
        "pos_embed.proj.weight": ours["patch.weight"],
        "pos_embed.proj.bias": ours["patch.bias"],
        "proj_out_1.weight": ours["final.modulation.weight"],
        "proj_out_1.bias": ours["final.modulation.bias"],
        "proj_out_2.weight": ours["final.out.weight"],
        "proj_out_2.bias": ours["final.out.bias"],
    }
    names = {
        "norm1.emb.timestep_embedder.linear_1": "t_embedder.fc1",
        "norm1.emb.timestep_embedder.linear_2": "t_embedder.fc2",
    }
    for i in range(n_layers):
        b, o = f"transformer_blocks.{i}.", f"blocks.{i}."
        out[b + "norm1.emb.class_embedder.embedding_table.weight"] = ours["y_embedder.weight"]
        block = {
            "norm1.linear": o + "modulation",
            "attn1.to_q": o + "attn.q_proj",
            "attn1.to_k": o + "attn.k_proj",
            "attn1.to_v": o + "attn.v_proj",
            "attn1.to_out.0": o + "attn.out_proj",
            "ff.net.0.proj": o + "mlp.up",
            "ff.net.2": o + "mlp.down",
        }
        for theirs, mine in {**names, **block}.items():
            for kind in ("weight", "bias"):
                out[f"{b}{theirs}.{kind}"] = ours[f"{mine}.{kind}"]
    return out


def test_forward_equals_diffusers_dit_with_the_same_weights():
    cfg = tiny_cfg(freq_shift=1.0)  # diffusers' DiT spaces its timestep frequencies by half - 1
    ours = build_model(cfg).eval()
    _randomise(ours)
    theirs = diffusers.DiTTransformer2DModel(
        num_attention_heads=2,
        attention_head_dim=8,
        in_channels=4,
        out_channels=8,
        num_layers=2,
        sample_size=8,
        patch_size=2,
        num_embeds_ada_norm=10,
        norm_eps=1e-6,
    ).eval()
    missing, unexpected = theirs.load_state_dict(_to_diffusers(ours.state_dict(), 2), strict=True)
    assert not missing and not unexpected
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 4, 8, 8, generator=g)
    t = torch.tensor([0, 417, 999])
    y = torch.tensor([3, 10, 7])  # 10: the null class
    with torch.no_grad():
        a = ours(x, t, y)
        b = theirs(x, timestep=t, class_labels=y).sample
    assert a.shape == b.shape == (3, 8, 8, 8)
    scale = b.abs().max().item()
    assert (a - b).abs().max().item() <= 1e-5 * max(scale, 1.0), (a - b).abs().max().item()
    # the paper's frequencies (shift 0) differ from diffusers': the field is live
    paper = build_model(cfg.replace(**{"dit.freq_shift": 0.0})).eval()
    paper.load_state_dict(ours.state_dict())
    with torch.no_grad():
        assert (paper(x, t, y) - a).abs().max().item() > 1e-4


def test_embeddings_are_the_papers_formulas():
    from diffusers.models.embeddings import get_2d_sincos_pos_embed, get_timestep_embedding

    t = torch.tensor([0.0, 1.0, 250.0, 999.0])
    for shift in (0.0, 1.0):
        theirs = get_timestep_embedding(t, 256, flip_sin_to_cos=True, downscale_freq_shift=shift)
        assert torch.allclose(timestep_embedding(t, 256, shift=shift), theirs, atol=1e-6)
    half = 128
    by_hand = torch.cos(999.0 * torch.exp(-math.log(1e4) * torch.arange(half) / half))  # the paper's code
    assert torch.allclose(timestep_embedding(t, 256)[3, :half], by_hand, atol=1e-4)
    assert torch.allclose(sincos_2d(16, 4), get_2d_sincos_pos_embed(16, 4, base_size=4).float(), atol=1e-6)


def test_patchify_round_trips_and_orders_patches_row_major():
    x = torch.randn(2, 3, 8, 8)
    p = patchify(x, 4)
    assert p.shape == (2, 4, 48)
    assert torch.equal(unpatchify(p, 4, 3), x)
    assert torch.equal(p[0, 1].view(4, 4, 3).permute(2, 0, 1), x[0, :, :4, 4:])  # patch 1: top row, right
    with pytest.raises(TcatError, match="does not split"):
        patchify(torch.randn(1, 1, 6, 6), 4)


def test_dit_xl_2_is_the_published_size():
    from transformer_catalog.catalog.load import load_catalog
    from transformer_catalog.catalog.verify import verify

    checks = {c.variant: c for c in verify(load_catalog(), ["DiT"])}
    xl = checks["DiT-XL"]
    assert xl.status == "ok" and abs(xl.computed - 675e6) / 675e6 < 0.002, xl
    assert all(c.status == "ok" for c in checks.values())


def test_adaln_zero_starts_as_the_identity_and_the_variants_are_config_fields():
    torch.manual_seed(0)
    x, t, y = torch.randn(2, 4, 8, 8), torch.tensor([5, 900]), torch.tensor([1, 2])
    zero = build_model(tiny_cfg("adaln-zero")).eval()
    h = zero.patch(x).flatten(2).transpose(1, 2)
    c = sum(zero.condition(t, y))
    assert torch.equal(zero.blocks[0](h, c), h)  # gates start at zero: each block is the identity
    assert torch.equal(zero(x, t, y), torch.zeros(2, 8, 8, 8))
    outputs = {}
    for kind in ("adaln", "in-context", "cross-attention"):
        m = build_model(tiny_cfg(kind)).eval()
        assert m(x, t, y).abs().max() > 0
        other_class = m(x, t, torch.tensor([3, 4]))
        assert (other_class - m(x, t, y)).abs().max() > 1e-6, f"{kind}: the class does not reach the output"
        outputs[kind] = sum(p.numel() for p in m.parameters())
    # adaLN regresses 4 d (no gates) per block; cross-attention adds attention weights; in-context adds none
    assert outputs["in-context"] < outputs["adaln"]
    assert outputs["cross-attention"] > outputs["in-context"]


def test_config_refuses_an_image_size_the_patch_does_not_divide():
    with pytest.raises(TcatError, match="dit.patch_size: 3 does not divide image_size=8"):
        tiny_cfg(patch_size=3)
    model = build_model(tiny_cfg())
    with pytest.raises(TcatError, match="this DiT takes"):
        model(torch.randn(1, 4, 12, 12), torch.tensor([1]), torch.tensor([1]))


@pytest.mark.parametrize("kind,theirs", [("linear", "linear"), ("cosine", "squaredcos_cap_v2")])
@pytest.mark.parametrize("n_steps", [1000, 50, 7])
def test_ddpm_steps_equal_diffusers(kind, theirs, n_steps):
    ours = Schedule(kind)
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule=theirs)
    ref.set_timesteps(n_steps)
    assert ours.timesteps(n_steps) == ref.timesteps.tolist()
    assert torch.allclose(ours.alphas_cumprod, ref.alphas_cumprod)
    ts = ours.timesteps(n_steps)
    g = torch.Generator().manual_seed(0)
    for i in (0, len(ts) // 2, len(ts) - 1):
        t, t_prev = ts[i], ts[i + 1] if i + 1 < len(ts) else -1
        x, eps = torch.randn(2, 1, 6, 6, generator=g), torch.randn(2, 1, 6, 6, generator=g)
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(t))
        want = ref.step(eps, t, x, generator=torch.Generator().manual_seed(t)).prev_sample
        got, _ = ddpm_step(ours, eps, t, t_prev, x, noise)
        assert (got - want).abs().max().item() <= 1e-5, (t, (got - want).abs().max().item())


@pytest.mark.parametrize("kind,theirs", [("linear", "linear"), ("cosine", "squaredcos_cap_v2")])
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_steps_equal_diffusers(kind, theirs, eta):
    ours = Schedule(kind)
    ref = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule=theirs)
    for n_steps in (10, 25, 250):
        ref.set_timesteps(n_steps)
        ts = ours.timesteps(n_steps)
        assert ts == ref.timesteps.tolist()
        g = torch.Generator().manual_seed(n_steps)
        for i in (0, len(ts) // 3, len(ts) - 1):
            t, t_prev = ts[i], ts[i + 1] if i + 1 < len(ts) else -1
            x, eps, z = (torch.randn(2, 1, 6, 6, generator=g) for _ in range(3))
            # x0 is clipped at every one of these steps (randn x at high t, |x| > 1 at low t); the step must
            # then use the noise the clipped x0 implies, as DiT's guided-diffusion sampler does
            want = ref.step(eps, t, x, eta=eta, use_clipped_model_output=True, variance_noise=z if eta > 0 else None)
            got, _ = ddim_step(ours, eps, t, t_prev, x, eta, z)
            err = (got - want.prev_sample).abs().max().item()
            assert err <= 1e-5, (n_steps, t, err)


def test_ddim_step_moves_along_the_line_of_the_clipped_x0():
    """eta = 0: x_prev is sqrt(abar_prev) x0 + sqrt(1 - abar_prev) e with the same e that x_t has given the
    clipped x0, x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) e. With the raw predicted noise instead, the step
    leaves that line wherever the clip bites: the reported DiT's samples lost contrast step by step (CAS 0.44
    at DDIM 25, 0.28 with guidance 3, 0.13 with guidance 3 and 50 steps; after the fix 0.53, and 0.82 with
    guidance 3: benchmarks/results/diffusion_long.json)."""
    sched = Schedule("linear")
    g = torch.Generator().manual_seed(0)
    for t, t_prev in ((960, 920), (500, 480), (40, 0), (0, -1)):
        x, eps = 1.5 * torch.randn(4, 1, 6, 6, generator=g), torch.randn(4, 1, 6, 6, generator=g)
        got, x0 = ddim_step(sched, eps, t, t_prev, x)
        assert x0.abs().max() <= 1 and (x0.abs() == 1).any()  # the clip bites
        a, a_prev = sched.abar(t), sched.abar(t_prev)
        e = (x - a.sqrt() * x0) / (1 - a).sqrt()
        assert torch.allclose(got, a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e, atol=1e-5)


def test_ddim_loop_with_guidance_equals_a_diffusers_loop():
    """The whole sampler: our loop against DDIMScheduler driven by hand with the same model and noise."""
    torch.manual_seed(0)
    model = build_model(tiny_cfg()).eval()
    _randomise(model, 0.1)
    labels, scale, steps = torch.tensor([1, 4]), 2.5, 10
    got = sample(model, Schedule("linear"), labels, steps=steps, guidance=scale, seed=3)
    ref = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    ref.set_timesteps(steps)
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        for t in ref.timesteps:
            tt = torch.full((2,), int(t))
            cond = model(x, tt, labels)[:, :4]
            uncond = model(x, tt, torch.full_like(labels, 10))[:, :4]
            x = ref.step(uncond + scale * (cond - uncond), int(t), x, use_clipped_model_output=True).prev_sample
    # ten steps accumulate the rounding of one batched forward (class and null rows together) against two
    # separate ones (measured 1.5e-5); a wrong step or guidance formula is off by 1e-2 or more
    assert (got - x.clamp(-1, 1)).abs().max().item() <= 1e-4


def test_sampling_refuses_bad_requests_before_any_work():
    model = build_model(tiny_cfg())
    sched = Schedule("linear")
    for kw, msg in (
        ({"labels": torch.tensor([10])}, "class label out of range"),
        ({"guidance": -0.5}, "guidance scale must be >= 0"),
        ({"steps": 0}, "sampling steps must be at least 1"),
        ({"steps": 1001}, "between 1 and 1000"),
    ):
        args = {"labels": torch.tensor([1]), **kw}
        with pytest.raises(TcatError, match=msg):
            sample(model, sched, **args)
    no_null = build_model(tiny_cfg(class_dropout=0.0))
    with pytest.raises(TcatError, match="learned null class"):
        sample(no_null, sched, torch.tensor([1]), steps=2, guidance=2.0)


def test_gflops_are_the_papers_table_4():
    from transformer_catalog.catalog.load import load_catalog
    from transformer_catalog.catalog.specs import build_config
    from transformer_catalog.nn.dit import gflops

    spec = load_catalog().get("DiT").spec.to_dict()
    paper = {("DiT-S", 8): 0.36, ("DiT-S", 2): 6.06, ("DiT-B", 4): 5.56, ("DiT-L", 2): 80.71, ("DiT-XL", 2): 118.64}
    for (variant, patch), published in paper.items():
        cfg = build_config(spec, variant).replace(**{"dit.patch_size": patch})
        assert abs(gflops(cfg) - published) / published < 0.01, (variant, patch, gflops(cfg))
