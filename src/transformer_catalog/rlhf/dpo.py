"""DPO, IPO and KTO from the SFT policy (Rafailov et al. 2023; Azar et al. 2023; Ethayarajh et al. 2024).

Two sources of preferences:
- "sampled", the DPO paper's sentiment experiment (section 6.1): for each training prompt (the first 2-5 words
  of a validation-split snippet, as PPO's) the SFT policy samples `samples` continuations through the KV cache;
  the reward model scores them, and every two with different scores make a pair (the higher one chosen).
- "human": VADER's preference pairs directly (two snippets of one set whose mean human ratings differ by >= 1,
  training split). They share no prompt, so each response is a whole snippet after <s>.
KTO takes each pair's chosen response as desirable and the rejected one as undesirable (unpaired).

The pairs are drawn once and kept in out/pairs.json (resume reads them back); the reference's log-probabilities
are computed once per response, as TRL's precompute_ref_logps does. Training runs through the one trainer
(checkpoints, exact resume); metrics.jsonl gets the implicit-reward accuracy and margin beside the loss.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..errors import TcatError
from ..train.tasks import Task
from .grpo import StatsTrainer, prepare_run, stage_of
from .losses import dpo_loss, ipo_loss, kto_loss, sequence_logps

LOSSES = ("dpo", "ipo", "kto")
SOURCES = ("sampled", "human")
STAGE = "rlhf-dpo"


@dataclass
class DPOConfig:
    loss: str = "dpo"
    beta: float = 0.1
    pairs: str = "sampled"
    prompts: int = 256  # sampled: training prompts
    samples: int = 4  # sampled: continuations per prompt (up to 6 pairs each)
    human_pairs: int = 1536  # human: training pairs at most
    steps: int = 120
    batch_pairs: int = 16
    lr: float = 5e-5
    max_new: int = 24
    temperature: float = 1.0
    seed: int = 0
    eval_prompts: int = 256


def check_dpo(cfg: DPOConfig) -> None:
    """Refuse an impossible setting in one line, before anything is written."""
    if cfg.loss not in LOSSES:
        raise TcatError(f"dpo: unknown loss {cfg.loss!r}; use {', '.join(LOSSES)}")
    if cfg.pairs not in SOURCES:
        raise TcatError(f"dpo: unknown pair source {cfg.pairs!r}; use {', '.join(SOURCES)}")
    if not cfg.beta > 0:
        raise TcatError(f"dpo: beta must be positive, got {cfg.beta} (it scales the log-ratio to the reference)")
    if cfg.samples < 2:
        raise TcatError(f"dpo: at least 2 samples per prompt are needed to make a pair, got {cfg.samples}")
    if cfg.batch_pairs < 2:
        raise TcatError(
            f"dpo: batch_pairs must be at least 2 (KTO's KL estimate pairs a prompt with another's response), "
            f"got {cfg.batch_pairs}"
        )
    for name in ("prompts", "human_pairs", "steps", "max_new", "eval_prompts"):
        if getattr(cfg, name) < 1:
            raise TcatError(f"dpo: {name} must be at least 1, got {getattr(cfg, name)}")
    if not cfg.lr > 0 or not cfg.temperature > 0:
        raise TcatError("dpo: lr and temperature must be positive")


# -- pairs ---------------------------------------------------------------------------------------------------------
def _rows(ro) -> list[tuple[list[int], list[int]]]:
    """(prompt ids without padding, response ids up to and including </s>) of each rollout row."""
    out = []
    for r in range(ro.seq.size(0)):
        prompt = ro.seq[r, : ro.prompt_len][ro.keep[r, : ro.prompt_len]].tolist()
        out.append((prompt, ro.response[r, : int(ro.mask[r].sum())].tolist()))
    return out


@torch.no_grad()
def sampled_pairs(policy, tok, scorer, prompts: list[str], samples: int, max_new: int, temperature: float, seed: int):
    """Pairs {prompt, chosen, rejected, scores, texts} from `samples` SFT continuations of each prompt, ranked by
    the reward model; ties make no pair."""
    from ..data.batching import rng_key
    from .ppo import rollout

    g = torch.Generator().manual_seed(rng_key(seed, 3))
    pairs = []
    for start in range(0, len(prompts), 16):
        chunk = [p for p in prompts[start : start + 16] for _ in range(samples)]
        ro = rollout(policy, tok, chunk, max_new, temperature, g)
        scores = scorer(ro.texts).tolist()
        rows = _rows(ro)
        for base in range(0, len(chunk), samples):
            for i in range(base, base + samples):
                for j in range(i + 1, base + samples):
                    if scores[i] == scores[j]:
                        continue
                    hi, lo = (i, j) if scores[i] > scores[j] else (j, i)
                    pairs.append(
                        {
                            "prompt": rows[hi][0],
                            "chosen": rows[hi][1],
                            "rejected": rows[lo][1],
                            "scores": [round(scores[hi], 4), round(scores[lo], 4)],
                            "texts": [ro.texts[hi], ro.texts[lo]],
                        }
                    )
    return pairs


def human_pairs(tok, n: int, seed: int, max_len: int = 64) -> list[dict]:
    """VADER's training-split preference pairs (split by `seed`, the SFT run's) as whole snippets after <s>
    (they share no prompt)."""
    from .pairs import preference_pairs

    def ids(text: str) -> list[int]:
        return tok.encode(text)[: max_len - 2] + [tok.eos_id]

    out = []
    for p in preference_pairs(seed)["train"][:n]:
        out.append(
            {
                "prompt": [tok.bos_id],
                "chosen": ids(p.chosen.text),
                "rejected": ids(p.rejected.text),
                "scores": [p.chosen.mean, p.rejected.mean],
                "texts": [p.chosen.text, p.rejected.text],
            }
        )
    return out


# -- the task --------------------------------------------------------------------------------------------------------
def _collate(seqs: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded prompt + response ids (B, L) and the response mask (B, L)."""
    width = max(len(p) + len(r) for p, r in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(seqs), width)
    for i, (p, r) in enumerate(seqs):
        ids[i, : len(p) + len(r)] = torch.tensor(p + r)
        mask[i, len(p) : len(p) + len(r)] = 1.0
    return ids, mask


def response_logps(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) summed log-probability of each row's response (position t predicts token t + 1)."""
    return sequence_logps(model(ids)[:, :-1], ids[:, 1:], mask[:, 1:])


@torch.no_grad()
def reference_logps(ref, seqs: list[tuple[list[int], list[int]]], pad_id: int, batch: int = 64) -> list[float]:
    out = []
    for s in range(0, len(seqs), batch):
        out += response_logps(ref, *_collate(seqs[s : s + batch], pad_id)).tolist()
    return out


@dataclass
class PreferenceTask(Task):
    """Examples: {prompt, chosen, rejected, ref_chosen, ref_rejected} (token ids; reference log-probabilities)."""

    loss_name: str = "dpo"
    beta: float = 0.1
    batch_pairs: int = 16
    reference: torch.nn.Module | None = None  # KTO: scores the mismatched pairs of each batch
    window: list = field(default_factory=list)

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        from ..data.batching import fixed_size_batches

        return [b for b in fixed_size_batches(len(examples), self.batch_pairs, seed, epoch) if len(b) > 1]

    def collate(self, examples: list, key: int = 0) -> dict[str, torch.Tensor]:
        seqs = [(e["prompt"], e["chosen"]) for e in examples] + [(e["prompt"], e["rejected"]) for e in examples]
        ref = [e["ref_chosen"] for e in examples] + [e["ref_rejected"] for e in examples]
        ids, mask = _collate(seqs, self.pad_id)
        batch = {"ids": ids, "mask": mask, "ref": torch.tensor(ref, dtype=torch.float64)}
        if self.loss_name == "kto":
            # KTO's reference point: each response after another row's prompt (the batch cycled by one), as TRL does
            n = len(seqs)
            kl_ids, kl_mask = _collate([(seqs[i][0], seqs[(i + 1) % n][1]) for i in range(n)], self.pad_id)
            batch.update(kl_ids=kl_ids, kl_mask=kl_mask)
        return batch

    def loss(self, model, batch: dict, label_smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
        logps = response_logps(model, batch["ids"], batch["mask"]).double()
        ref, b = batch["ref"], batch["ids"].size(0) // 2
        if self.loss_name == "kto":
            kl_pol = response_logps(model, batch["kl_ids"], batch["kl_mask"]).double()
            with torch.no_grad():
                kl_ref = response_logps(self.reference, batch["kl_ids"], batch["kl_mask"]).double()
            desirable = torch.arange(2 * b) < b
            out = kto_loss(logps, ref, desirable, kl_pol, kl_ref, self.beta)
        elif self.loss_name == "ipo":
            lengths = batch["mask"].sum(1)
            out = ipo_loss(logps[:b], logps[b:], ref[:b], ref[b:], self.beta, lengths[:b], lengths[b:])
        else:
            out = dpo_loss(logps[:b], logps[b:], ref[:b], ref[b:], self.beta)
        margin = out.chosen_rewards - out.rejected_rewards
        self.window.append((float((margin > 0).double().mean()), float(margin.mean())))
        return out.loss.float(), int(batch["mask"].sum())

    def count_tokens(self, batch: dict) -> int:
        return int((batch["ids"] != self.pad_id).sum())

    def pop_stats(self) -> dict:
        """Implicit-reward accuracy (chosen above rejected) and mean margin since the last call."""
        if not self.window:
            return {}
        acc, margin = zip(*self.window)
        self.window = []
        return {"reward_accuracy": round(sum(acc) / len(acc), 4), "margin": round(sum(margin) / len(margin), 5)}


# -- the run -------------------------------------------------------------------------------------------------------
def load_policy(run: str | Path):
    """(model, tokenizer, the SFT run's data-split seed) of an SFT run's checkpoint; anything else is refused."""
    from ..train.checkpoint import load_model, read_config

    folder = Path(run) / "checkpoint"
    if not folder.is_dir():
        raise TcatError(f"{run}: no SFT run here (no checkpoint/ folder)")
    _, meta, _ = read_config(folder)
    stage = stage_of(folder)
    if stage != "rlhf-sft":
        raise TcatError(f"{run}: holds a {stage or 'non-RLHF'} run, not an SFT policy")
    model, _, tok = load_model(folder)
    return model, tok, int(meta["task"].get("seed", 0))


def train_dpo(
    policy: str | Path,
    out: str | Path,
    cfg: DPOConfig,
    reward: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """DPO / IPO / KTO from an SFT run into `out`; returns the run's summary (also written to out/dpo.json):
    pairs used, CPU seconds, and the policy's reward and KL on held-out prompts when `reward` is given."""
    import json

    from ..files import output_dir, write_json

    check_dpo(cfg)
    if cfg.pairs == "sampled" and reward is None:
        raise TcatError("dpo: --pairs sampled ranks the SFT policy's samples with a reward model: give --reward RUN")
    prepare_run(Path(out), resume, STAGE, "a DPO run")
    start_cpu = time.process_time()
    model, tok, split_seed = load_policy(policy)
    reference, _, _ = load_policy(policy)
    reference.eval().requires_grad_(False)
    scorer = None
    if reward is not None:
        from .reward import load_scorer

        scorer = load_scorer(reward)
    out = output_dir(out)
    pairs_file = out / "pairs.json"
    if resume and pairs_file.is_file():
        pairs = json.loads(pairs_file.read_text())
    else:
        pairs = make_pairs(cfg, model, tok, scorer, split_seed)
        write_json(pairs_file, pairs)
    # what the run is: the settings --resume must keep (more --steps, and where evaluation looks, may change)
    kept = {k: v for k, v in asdict(cfg).items() if k not in ("steps", "eval_prompts")}
    meta = {"name": STAGE, "policy": str(Path(policy).resolve()), **kept}
    trainer = fit_preferences(model, reference, tok, pairs, cfg, out, meta, resume=resume, progress=progress)
    result = {"pairs": len(pairs), "steps": trainer.state["step"], "config": asdict(cfg)}
    if scorer is not None:
        result["eval"] = evaluate(
            model.eval(), reference, tok, scorer, cfg.eval_prompts, cfg.max_new, cfg.seed, split_seed
        )
    result["cpu_seconds"] = round(time.process_time() - start_cpu, 1)
    write_json(out / "dpo.json", result)
    return result


def fit_preferences(
    model, reference, tok, pairs: list[dict], cfg: DPOConfig, out: Path, meta: dict, resume=False, progress=True
) -> StatsTrainer:
    """Train `model` (in place) on `pairs` with cfg's loss through the one trainer, into `out`."""
    from ..train.trainer import TrainConfig

    if not pairs:
        raise TcatError("dpo: no pairs (every prompt's samples scored alike); raise --samples or --prompts")
    chosen = reference_logps(reference, [(p["prompt"], p["chosen"]) for p in pairs], tok.pad_id)
    rejected = reference_logps(reference, [(p["prompt"], p["rejected"]) for p in pairs], tok.pad_id)
    examples = [
        {"prompt": p["prompt"], "chosen": p["chosen"], "rejected": p["rejected"], "ref_chosen": c, "ref_rejected": r}
        for p, c, r in zip(pairs, chosen, rejected)
    ]
    task = PreferenceTask(
        name=STAGE,
        objective=None,
        train=examples,
        valid=[],
        pad_id=tok.pad_id,
        vocab_size=tok.vocab_size,
        tokenizer=tok,
        meta=meta,
        loss_name=cfg.loss,
        beta=cfg.beta,
        batch_pairs=cfg.batch_pairs,
        reference=reference,
    )
    train = TrainConfig(
        steps=cfg.steps,
        max_tokens=cfg.batch_pairs * 2 * (64 + cfg.max_new),
        optimizer="adamw",
        schedule="cosine",
        lr=cfg.lr,
        min_lr=0.1,
        warmup=10,
        label_smoothing=0.0,
        clip=1.0,
        eval_every=0,
        save_every=50,
        seed=cfg.seed,
    )
    torch.manual_seed(cfg.seed)
    trainer = StatsTrainer(model.train(), task, train, out, progress=progress, run_meta={"dpo": asdict(cfg)})
    if resume:
        trainer.resume()
    trainer.fit()
    return trainer


def make_pairs(cfg: DPOConfig, model, tok, scorer, split_seed: int = 0) -> list[dict]:
    """The run's pairs. The snippets' split is the SFT run's (`split_seed`), whatever this run's seed: another split
    would draw prompts from snippets the SFT policy was trained on."""
    if cfg.pairs == "human":
        return human_pairs(tok, cfg.human_pairs, split_seed)
    from .pairs import load_snippets, split_snippets
    from .sft import prompts

    # PPO's training prompts (rlhf/stages.run_ppo): the validation split's, never the held-out test prompts
    train_prompts = prompts(split_snippets(load_snippets(), split_seed)["valid"], cfg.prompts, cfg.seed)
    return sampled_pairs(model.eval(), tok, scorer, train_prompts, cfg.samples, cfg.max_new, cfg.temperature, cfg.seed)


def evaluate(policy, ref, tok, scorer, n: int, max_new: int, seed: int = 0, split_seed: int = 0) -> dict:
    """Mean reward (rating units), VADER judge (rating units) and sequence KL to the reference of one sample per
    held-out prompt: PPO's own evaluation (rlhf/ppo.evaluate, the prompts and judge of rlhf/stages.run_ppo), so
    DPO and PPO points share their axes."""
    from .pairs import load_snippets, split_snippets, vader_compound
    from .ppo import evaluate as ppo_evaluate
    from .sft import prompts
    from .stages import judge_fit

    held_out = prompts(split_snippets(load_snippets(), split_seed)["test"], n)
    a, b = judge_fit(split_seed)

    def judge(texts):
        return [a * c + b for c in vader_compound(texts)]

    result = ppo_evaluate(policy, ref, tok, scorer, judge, held_out, max_new, seed=seed)
    return {k: v for k, v in result.items() if k != "samples"} | {"samples": result["samples"][:8]}
