"""GRPO with a verifiable reward (Shao et al. 2024, DeepSeekMath): no learned reward, no value head.

Each step takes `prompts_per_step` training sums, samples a group of `group_size` answers to each from the current
policy (through the KV cache), rewards an answer 1 when it is exactly the sum, and gives each answer its group-
relative advantage (rlhf/losses.group_advantages). The loss is GRPO's clipped surrogate plus beta times the k3
KL to the frozen supervised model, averaged per answer then over answers (rlhf/losses.grpo_loss); one gradient
step per batch of samples, so the ratio to the sampling policy is 1 and the clip guards nothing yet.

It runs through the one trainer as a Task whose loss samples: the sampling RNG is keyed by the batch's position
(seed, epoch, batch), so a resumed run samples what an uninterrupted one would. metrics.jsonl gets the mean
reward and KL of the steps since the last record beside the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..errors import TcatError
from ..train.tasks import Task
from ..train.trainer import Trainer
from . import additions as add
from .losses import group_advantages, grpo_loss, token_logps


@dataclass
class GRPOConfig:
    group_size: int = 8
    beta: float = 0.04  # KL coefficient (the paper's 0.04)
    clip: float = 0.2
    prompts_per_step: int = 16
    steps: int = 200
    lr: float = 2e-4  # the shipped rlhf-grpo run's; 1e-3 diverged
    temperature: float = 1.0
    seed: int = 0
    shuffle_rewards: bool = False  # the control: each batch's rewards permuted across its answers (no link to them)
    additions: add.AdditionsConfig = field(default_factory=add.AdditionsConfig)


def check_grpo(cfg: GRPOConfig) -> None:
    """Refuse an impossible setting in one line, before anything is written."""
    if cfg.group_size < 2:
        raise TcatError(
            f"grpo: group size must be at least 2, got {cfg.group_size} (the advantage is a sample's reward "
            "against its group's mean and spread; a group of one has neither)"
        )
    if cfg.beta < 0:
        raise TcatError(f"grpo: the KL coefficient beta must be >= 0, got {cfg.beta}")
    if not 0 < cfg.clip < 1:
        raise TcatError(f"grpo: clip must be in (0, 1), got {cfg.clip}")
    if not cfg.temperature > 0:
        raise TcatError(f"grpo: sampling temperature must be positive, got {cfg.temperature}")
    if cfg.prompts_per_step < 1 or cfg.steps < 1:
        raise TcatError("grpo: steps and prompts per step must be at least 1")
    if not cfg.lr > 0:
        raise TcatError(f"grpo: lr must be positive, got {cfg.lr}")
    cfg.additions.check()


STAGE = "grpo-additions"


def stage_of(checkpoint: Path) -> str | None:
    """What a checkpoint was trained for: its objective (clm, ...) or its stage (rlhf-sft, rlhf-dpo, ...)."""
    from ..train.checkpoint import read_config

    _, meta, _ = read_config(checkpoint)
    task = meta.get("task")
    return task.get("objective") or task.get("name") if isinstance(task, dict) else None


def prepare_run(out: Path, resume: bool, stage: str, what: str) -> None:
    """Before anything is written: a fresh run needs a folder tcat may write into and no checkpoint there; a
    resumed one needs a checkpoint of its own kind (a PPO or SFT run is not resumed as this one)."""
    from ..train.setup import check_out

    if not resume:
        check_out(out)
        return
    if (out / "checkpoint" / "config.json").is_file():
        found = stage_of(out / "checkpoint")
        if found != stage:
            raise TcatError(f"{out}: holds a {found or 'non-training'} run, not {what}; resume it with its own command")
    if not (out / "checkpoint" / "trainer_state.json").is_file():
        raise TcatError(f"{out}: nothing to resume (no checkpoint/trainer_state.json); drop --resume to start")


class StatsTrainer(Trainer):
    """The one trainer, with the task's running statistics (reward, KL) added to each loss record."""

    def _log(self, record: dict) -> None:
        if "loss" in record:
            record.update(self.task.pop_stats())
        super()._log(record)


@dataclass
class GRPOTask(Task):
    group_size: int = 8
    beta: float = 0.04
    clip: float = 0.2
    temperature: float = 1.0
    prompts_per_step: int = 16
    reference: torch.nn.Module | None = None
    reward_fn: Callable | None = None  # (tokenizer, pairs, responses) -> (N,) rewards; None: exact match
    shuffle_rewards: bool = False
    window: list = field(default_factory=list)

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        from ..data.batching import fixed_size_batches

        return fixed_size_batches(len(examples), self.prompts_per_step, seed, epoch)

    def collate(self, examples: list, key: int = 0) -> dict[str, torch.Tensor]:
        return {"pairs": torch.tensor(examples), "key": torch.tensor(key % 2**63)}

    def loss(self, model, batch: dict, label_smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
        from ..generate import SamplingConfig, generate

        tok, g = self.tokenizer, self.group_size
        pairs = [tuple(p) for p in batch["pairs"].tolist() for _ in range(g)]  # each prompt g times, groups adjacent
        prompts = add.prompt_ids(tok, pairs)
        sampler = torch.Generator().manual_seed(int(batch["key"]))
        out = generate(
            model,
            prompts,
            add.MAX_ANSWER,
            eos_id=tok.eos_id,
            sampling=SamplingConfig(temperature=self.temperature),
            generator=sampler,
        )
        responses = [add._until_eos(row, tok.eos_id) for row in out.tolist()]
        reward = (self.reward_fn or add.rewards)(tok, pairs, responses)
        if self.shuffle_rewards:
            reward = reward[torch.randperm(len(reward), generator=sampler)]
        advantages = group_advantages(reward, g)
        mask = torch.zeros_like(out, dtype=torch.float32)
        for i, r in enumerate(responses):
            mask[i, : len(r)] = 1.0  # the answer up to and including its </s>; what follows was never chosen
        seq = torch.cat([prompts, out], dim=1)
        start = prompts.size(1)
        logps = token_logps(model(seq)[:, start - 1 : -1], out)
        with torch.no_grad():
            ref = token_logps(self.reference(seq)[:, start - 1 : -1], out)
        loss, _ = grpo_loss(logps, logps.detach(), ref, advantages, mask, self.clip, self.beta)
        batch["n_tokens"] = int(mask.sum()) + prompts.numel()
        # the sequence KL as the frontier measures it: the sampled answers' summed log-ratio to the reference
        self.window.append((float(reward.mean()), float(((logps.detach() - ref) * mask).sum(1).mean())))
        return loss, int(mask.sum())

    def count_tokens(self, batch: dict) -> int:
        return batch.get("n_tokens", 0)

    def pop_stats(self) -> dict:
        """Mean reward and sequence KL (nats per answer) since the last call."""
        if not self.window:
            return {}
        r, k = zip(*self.window)
        self.window = []
        return {"reward": round(sum(r) / len(r), 5), "kl": round(sum(k) / len(k), 5)}


def _load(folder: Path):
    from ..train.checkpoint import load_model

    if not (folder / "checkpoint").is_dir():
        raise TcatError(f"{folder}: no additions run here (no checkpoint/ folder)")
    model, meta, tok = load_model(folder / "checkpoint")
    if tok is None or tok.vocab_size != add.tokenizer().vocab_size or "additions" not in meta.get("run", {}):
        raise TcatError(f"{folder}: not an additions model (train one with `tcat rlhf grpo` without --policy)")
    return model, meta, tok


def _sft_finished(folder: Path, steps: int) -> bool:
    from ..train.checkpoint import load_training_state

    if not (folder / "checkpoint").is_dir():
        return False
    state, _ = load_training_state(folder / "checkpoint")
    return state["step"] >= steps


def train_grpo(
    out: str | Path, cfg: GRPOConfig, policy: str | Path | None = None, resume: bool = False, progress: bool = True
) -> dict:
    """GRPO on additions into `out`. Without `policy`, first trains the supervised model into out/sft (resumed
    there if it was interrupted). Returns held-out exact match before (SFT) and after GRPO, and the CPU time."""
    import time

    from ..files import output_dir, write_json
    from ..train.trainer import TrainConfig

    check_grpo(cfg)
    if resume and (Path(out) / "checkpoint").is_dir():
        prepare_run(Path(out), True, STAGE, "a GRPO run")
    elif resume and not (Path(out) / "sft" / "checkpoint").is_dir():
        raise TcatError(f"{out}: nothing to resume (no GRPO or SFT checkpoint there); drop --resume to start")
    elif not resume:
        prepare_run(Path(out), False, STAGE, "a GRPO run")
    if policy is not None:
        _load(Path(policy))  # refused before anything is written
    start_cpu = time.process_time()
    out = output_dir(out)
    if policy is None:
        policy = out / "sft"
        if not _sft_finished(policy, cfg.additions.steps):
            add.train_additions(policy, cfg.additions, resume=(policy / "checkpoint").is_dir(), progress=progress)
    policy = Path(policy)
    model, meta, tok = _load(policy)
    sums = add.AdditionsConfig(**meta["run"]["additions"])
    train_pairs, held_out = add.split_sums(sums.n_train, sums.n_test, sums.seed)
    reference, _, _ = _load(policy)
    reference.eval().requires_grad_(False)
    sft_exact = add.exact_match(reference, tok, held_out)
    kept = {k: v for k, v in asdict(cfg).items() if k not in ("steps", "additions")}  # --resume may add steps
    task = GRPOTask(
        name="grpo",
        objective=None,
        train=train_pairs,
        valid=[],
        pad_id=tok.pad_id,
        vocab_size=tok.vocab_size,
        tokenizer=tok,
        meta={"name": STAGE, "policy": str(policy.resolve()), **kept, "additions": asdict(sums)},
        group_size=cfg.group_size,
        beta=cfg.beta,
        clip=cfg.clip,
        temperature=cfg.temperature,
        prompts_per_step=cfg.prompts_per_step,
        reference=reference,
        shuffle_rewards=cfg.shuffle_rewards,
    )
    train = TrainConfig(
        steps=cfg.steps,
        max_tokens=cfg.prompts_per_step * cfg.group_size * (add.PROMPT_LEN + add.MAX_ANSWER),
        optimizer="adamw",
        schedule="cosine",
        lr=cfg.lr,
        min_lr=1.0,  # constant after warmup: the usual RL fine-tuning schedule
        warmup=10,
        label_smoothing=0.0,
        clip=1.0,
        eval_every=0,
        save_every=50,
        seed=cfg.seed,
    )
    trainer = StatsTrainer(model.train(), task, train, out, progress=progress, run_meta={"grpo": asdict(cfg)})
    if resume and (out / "checkpoint").is_dir():
        trainer.resume()
    trainer.fit()
    result = {
        "sft_exact": sft_exact,
        "exact": add.exact_match(model, tok, held_out),
        "held_out": len(held_out),
        "steps": trainer.state["step"],
        "curve": [r for r in trainer.history if "reward" in r],
        "cpu_seconds": round(time.process_time() - start_cpu, 1),
    }
    write_json(out / "grpo.json", result)
    return result
