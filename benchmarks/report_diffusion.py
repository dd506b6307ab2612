"""BENCHMARKS.md section for issue 14's DiT (experiments/diffusion_dit.py, shipped in
src/transformer_catalog/experiments/results/diffusion-dit/): the reported model's CAS and FID-CNN beside the
VAE and GAN of the lineage under the same metrics, FID-CNN against DDIM steps and guidance scale, the
conditioning ablation and the scaling rows, and the sample grid. Every number is read from the shipped results."""

from __future__ import annotations

import json
from pathlib import Path

from common import machine_text

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "src" / "transformer_catalog" / "experiments" / "results"
FOLDER = SHIPPED / "diffusion-dit"
LONG = ROOT / "benchmarks" / "results" / "diffusion_long.json"  # the longer reported model (tcat diffusion train)
ABLATION = ("adaln-zero", "adaln", "in-context", "cross-attention")


def _key(name: str) -> str:
    return name.replace(", ", "_").replace(" ", "")


def _others(lines: list[str]) -> None:
    """The lineage's generators under the same protocol (their own sample counts)."""
    for name, label in (("lineage-vae", "VAE (lineage)"), ("lineage-gan", "GAN (lineage)")):
        path = SHIPPED / name / "results.json"
        if path.exists():
            m = json.loads(path.read_text())["metrics"]
            lines.append(
                f"| {label} | {m['samples']:,} | {m['fid_cnn']:.1f} | {m['cas']:.3f} | `tcat experiments run {name}` |"
            )


def section(lines: list[str]) -> None:
    lines += ["## DiT: a diffusion Transformer trained on Fashion-MNIST (issue 14)", ""]
    if not (FOLDER / "results.json").exists():
        lines += ["Not measured yet: run `tcat experiments run diffusion-dit`.", ""]
        return
    r = json.loads((FOLDER / "results.json").read_text())
    c, m = r["config"], r["metrics"]
    g = c["claim_guidance"]
    lines += [
        f"Machine: {machine_text(r['machine'])}. Command: `{r['command']}` ({r['cpu_seconds']:,.0f} CPU s in all, "
        f"{r['wall_seconds']:,.0f} s wall on a shared, loaded machine). The experiment's own short-trained model (the longer reported model, "
        "scored against the CAS target, is in the next subsection): DiT with adaLN-Zero, "
        f"width {c['d_model']}, depth {c['depth']}, {c['heads']} heads, patch {c['patch']} on {c['image_size']} x "
        f"{c['image_size']} pixels ({m['params']:,} parameters, {m['gflops'] * 1e3:.1f} Mflops per image), "
        f"{m['train_steps']} steps of {c['batch']} images ({m['train_cpu_seconds']:,.0f} CPU s of training, "
        f"{c['schedule']} beta schedule, T = 1000), through `tcat diffusion train`'s trainer. FID-CNN is a "
        "Fréchet distance in the features of a Fashion-MNIST classifier trained here (metrics/), not Inception's; "
        f"it is computed on {c['n_fid']} samples per row here (the protocol's 10,000 did not fit the time this shared machine gave; "
        "small samples bias FID upwards, so compare rows of the same sample count).",
        "",
        "| generator | samples | FID-CNN | CAS | command |",
        "|---|---:|---:|---:|---|",
        f"| DiT, guidance {g:g}, DDIM {c['main_steps']} | {m['samples']:,} | {m['fid_cnn']:.1f} | {m['cas']:.3f} | "
        f"`{r['command']}` |",
        f"| DiT, null class only (control) | {m['samples']:,} | {m['control_fid_cnn']:.1f} | {m['control_cas']:.3f} | "
        "same run |",
    ]
    _others(lines)
    lines += [
        f"| real training images (reference) | {m['fid_samples']:,} | {m['real_train_fid_cnn_same_n']:.1f} | "
        f"{m['real_test_accuracy']:.3f} (test set) | same run |",
        "",
        f"CAS target 0.80: {'met' if r['claim_holds'] else 'missed'}"
        + (f" ({r['miss']})" if "miss" in r else "")
        + ".",
        "",
        "| DDIM steps (guidance 1) | " + " | ".join(str(s) for s in c["step_sweep"]) + " |",
        "|---|" + "---:|" * len(c["step_sweep"]),
        "| FID-CNN | " + " | ".join(f"{m[f'fid_cnn_ddim{s}']:.1f}" for s in c["step_sweep"]) + " |",
        "",
        f"| guidance scale (DDIM {c['main_steps']}) | " + " | ".join(f"{x:g}" for x in c["guidances"]) + " |",
        "|---|" + "---:|" * len(c["guidances"]),
        "| FID-CNN | " + " | ".join(f"{m[f'fid_cnn_guidance{x:g}']:.1f}" for x in c["guidances"]) + " |",
        "| CAS | " + " | ".join(f"{m[f'cas_guidance{x:g}']:.3f}" for x in c["guidances"]) + " |",
        "",
        f"Ablation and scaling (width {c['ablation_d']}, {c['ablation_steps']} steps each unless the wall-clock "
        f"guard stopped it earlier, DDIM {c['main_steps']}, guidance 1, {c['n_fid']} samples):",
        "",
        "| model | Mflops/image | steps | final loss | FID-CNN | CAS | training CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [*ABLATION, *(f"depth {d}, patch {p}" for d, p in c["scaling"])]
    for name in rows:
        k = _key(name)
        label = f"{name} (depth {c['depth']}, patch {c['patch']})" if name in ABLATION else name
        lines.append(
            f"| {label} | {m[k + '_gflops'] * 1e3:.1f} | {m[k + '_train_steps']} | {m[k + '_final_loss']:.4f} | "
            f"{m[k + '_fid_cnn']:.1f} | {m[k + '_cas']:.3f} | {m[k + '_train_cpu_seconds']:,.0f} |"
        )
    lines += [
        "",
        f"The paper's ablation ranking (adaLN-Zero lowest FID): {'reproduced' if m['ablation_adaln_zero_best'] else 'not reproduced'} "
        f"at this scale (lowest: {m['ablation_best']}; the others span "
        f"{min(m[_key(n) + '_fid_cnn'] for n in ABLATION if n != m['ablation_best']):.1f}-"
        f"{max(m[_key(n) + '_fid_cnn'] for n in ABLATION if n != m['ablation_best']):.1f}). "
        "FID falls with Gflops across the scaling rows: "
        f"{'yes' if m['scaling_fid_falls_with_gflops'] else 'no'}.",
        "",
        "![DiT samples, one class per row](src/transformer_catalog/experiments/results/diffusion-dit/diffusion-dit-samples.png)",
        "",
        "![FID-CNN against steps, guidance, and Gflops](src/transformer_catalog/experiments/results/diffusion-dit/diffusion-dit-curves.png)",
        "",
    ]
    long_section(lines)


def long_section(lines: list[str]) -> None:
    """The longer reported model: the same DiT trained for more steps with `tcat diffusion train` (in resumed
    chunks), then scored with `tcat diffusion evaluate`; read from benchmarks/results/diffusion_long.json."""
    lines += ["### The longer reported model", ""]
    if not LONG.exists():
        lines += ["Not measured yet: benchmarks/results/diffusion_long.json is missing.", ""]
        return
    r = json.loads(LONG.read_text())
    c, t, target = r["model"], r["train"], r["cas_target"]
    lines += [
        f"Machine: {machine_text(r['machine'])}. The DiT above (adaLN-Zero, width {c['d_model']}, depth {c['depth']}, "
        f"{c['heads']} heads, patch {c['patch']} on {c['image_size']} x {c['image_size']} pixels, "
        f"{c['params']:,} parameters) trained for {t['steps']:,} steps of {t['batch']} images "
        f"({t['steps'] * t['batch'] / t['n_train']:.1f} epochs; peak learning rate {t['lr']:g}, cosine schedule to "
        f"step {t['scheduled_steps']:,}; {t['cpu_seconds']:,.0f} CPU s of training, {t['wall_seconds']:,.0f} s wall "
        f"on a shared machine; final training loss {t['final_train_loss']:.4f}, validation loss "
        f"{t['final_valid_loss']:.4f})"
        + (
            f"; the --minutes budget stopped it before the schedule's end, so the learning rate was still "
            f"{t['last_lr']:.2g}"
            if t["steps"] < t["scheduled_steps"]
            else ""
        )
        + f". Each command ran as `{r['prefix']} ...`; in order (each later one resumes the run exactly):",
        "",
        *(f"    {cmd}" for cmd in t["commands"]),
        "",
        "| sampler | guidance | samples | FID-CNN | CAS | CPU s | command |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for e in r["evaluations"]:
        lines.append(
            f"| DDIM {e['steps']} | {e['guidance']:g} | {e['n_samples']:,} | {e['fid_cnn']:.1f} | {e['cas']:.3f} | "
            f"{e['cpu_seconds']:,.0f} | `{e['command']}` |"
        )
    before = r.get("evaluations_before_fix", [])
    if before:
        lines += [
            "",
            f"Before the DDIM fix ({r['sampler_fix']}), the same weights scored "
            + "; ".join(
                f"DDIM {e['steps']}, guidance {e['guidance']:g}: CAS {e['cas']:.3f}, FID-CNN {e['fid_cnn']:.1f} "
                f"({e['n_samples']:,} samples)"
                for e in before
            )
            + ". More steps and more guidance made those samples worse; compare the table above.",
        ]
    judged = [e for e in r["evaluations"] if e["guidance"] == r["cas_guidance"] and e["steps"] == r["cas_steps"]]
    met = bool(judged) and all(e["cas"] >= target for e in judged)
    best = max(r["evaluations"], key=lambda e: e["cas"])
    lines += [
        "",
        "CAS on the way (a small check between resumed chunks"
        + (", sampled before the DDIM fix" if r.get("evaluations_before_fix") else "")
        + "): "
        + "; ".join(
            f"step {k['step']:,}: {k['cas']:.3f} ({k['n_samples']} samples, guidance {k['guidance']:g}, DDIM {k['steps']})"
            for k in r["progress_checks"]
        )
        + ".",
        "",
        "FID-CNN depends on the sample count (small samples bias it upwards): compare these rows with each other "
        "and with rows above only at equal counts. "
        + (
            "The protocol's 10,000 samples: "
            + ", ".join(f"DDIM {e['steps']}, guidance {e['guidance']:g}" for e in full)
            + "; the other rows' 10,000 samples did not fit the CPU time of this shared machine: "
            if (full := [e for e in r["evaluations"] if e["n_samples"] >= 10000])
            else "The protocol's 10,000 samples per row did not fit the CPU time of this shared machine: "
        )
        + "at the rate measured here, 10,000 samples would take "
        + ", ".join(
            f"{e['cpu_seconds'] / e['n_samples'] * 10000:,.0f} CPU s (DDIM {e['steps']}, guidance {e['guidance']:g})"
            for e in r["evaluations"]
            if e["n_samples"] < 10000
        )
        + ".",
        "",
        f"CAS target {target:.2f} (guidance {r['cas_guidance']:g}, DDIM {r['cas_steps']}): "
        + ("**met**" if met else "**not met**")
        + (f" (CAS {judged[0]['cas']:.3f})" if judged else " (not evaluated at that setting)")
        + "; highest CAS of any row: {:.3f} (guidance {:g}, DDIM {}), {} the target.".format(
            best["cas"], best["guidance"], best["steps"], "meeting" if best["cas"] >= target else "also short of"
        ),
        "",
        f"![Samples of the longer reported model, one class per row](benchmarks/results/{r['grid']})",
        "",
        f"Grid: `{r['grid_command']}`.",
        "",
    ]
    if r.get("curves"):
        lines += [
            f"![FID-CNN against DDIM steps and guidance, the longer reported model](benchmarks/results/{r['curves']})",
            "",
        ]
