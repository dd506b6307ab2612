"""PPO against a learned reward (Ziegler et al. 2019; Ouyang et al. 2022): an actor with a value head on
its trunk, a frozen reference (the SFT policy), a per-token KL penalty whose coefficient adapts to a
target sequence KL, GAE and advantage whitening (losses.py), clipped policy and value losses, and
rollouts sampled through the KV cache (generate.py).

Per rollout of a prompt: the reward of token t is -beta (log pi(y_t) - log pi_ref(y_t)), and the last
response token also gets the reward model's score (in rating units). Adaptive beta (Ziegler et al.,
section 2.2): beta <- beta (1 + clip(KL / target - 1, -0.2, 0.2) * batch / horizon).

Exact resume: a step's prompts, samples and minibatch order come from a generator seeded by (seed,
step), dropout is off, and the checkpoint holds weights, Adam moments, beta and the step, so a resumed
run ends with the weights of one never stopped (tests/test_rlhf_ppo.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .. import files
from ..data.batching import rng_key
from ..errors import TcatError
from ..generate import SamplingConfig, generate
from ..nn.model import DecoderModel, pad_attention_mask, real_token_positions
from .losses import gae, token_logps, whiten

STAGE = "rlhf-ppo"


@dataclass
class PPOConfig:
    steps: int = 60
    batch: int = 32  # prompts (rollouts) per step
    minibatch: int = 16
    epochs: int = 2  # passes over a step's rollouts
    max_new: int = 24  # response tokens at most
    lr: float = 1e-5
    kl_coef: float = 0.1  # initial beta
    target_kl: float = 4.0  # sequence KL (nats) the adaptive beta steers to; 0 = fixed beta
    horizon: int = 1000
    gamma: float = 1.0
    lam: float = 0.95
    clip: float = 0.2
    clip_value: float = 0.2
    vf_coef: float = 0.1
    temperature: float = 1.0
    seed: int = 0
    save_every: int = 20
    shuffle_rewards: bool = False  # the control: scores permuted within each batch (no link to the text)

    def validate(self) -> None:
        if self.kl_coef < 0:
            raise TcatError(f"KL coefficient must be >= 0, got {self.kl_coef}")
        if self.target_kl < 0:
            raise TcatError(f"target KL must be >= 0, got {self.target_kl}")
        if self.batch < 2 or self.minibatch < 1:
            raise TcatError("PPO needs a batch of at least 2 rollouts (whitening) and a minibatch of at least 1")


class ActorCritic(DecoderModel):
    """The policy (a DecoderModel, so generate() samples from it through the KV cache) with a scalar
    value head on the last hidden state of every position."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.value_head = nn.Linear(cfg.d_model, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def logits_and_values(self, ids: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T, V) logits and (B, T) values of a left-padded batch (`keep` marks real tokens), with
        the positions generate() gave them."""
        x = self.embed(ids, 0, positions=real_token_positions(keep))
        h = self.decoder(x, mask=pad_attention_mask(keep, ids.size(1)), causal=True)
        return self.logits(h), self.value_head(h).squeeze(-1)


def adapt_kl_coef(beta: float, kl: float, target: float, n: int, horizon: int) -> float:
    """Ziegler et al.'s proportional controller: beta (1 + clip(KL / target - 1, -0.2, 0.2) n / horizon), with n
    the rollouts just seen; target 0 keeps beta fixed."""
    if target <= 0:
        return beta
    return beta * (1 + max(-0.2, min(0.2, kl / target - 1)) * n / horizon)


def same_tokenizer(a, b) -> bool:
    return a.hf.get_vocab() == b.hf.get_vocab()


@dataclass
class Rollouts:
    seq: Tensor  # (B, P + R) left-padded prompt, then the response
    keep: Tensor  # (B, P + R) real tokens (prompt and response up to its eos)
    response: Tensor  # (B, R)
    mask: Tensor  # (B, R) float: response tokens up to and including eos
    texts: list[str]
    prompt_len: int


@torch.no_grad()
def rollout(policy, tok, prompts: list[str], max_new: int, temperature: float, g: torch.Generator) -> Rollouts:
    enc = [[tok.bos_id, *tok.encode(p)] for p in prompts]
    P = max(map(len, enc))
    start = torch.full((len(enc), P), tok.pad_id)
    keep = torch.zeros(len(enc), P, dtype=torch.bool)
    for r, ids in enumerate(enc):
        start[r, P - len(ids) :] = torch.tensor(ids)
        keep[r, P - len(ids) :] = True
    was = policy.training
    policy.eval()
    sampling = SamplingConfig(temperature=temperature)
    resp = generate(policy, start, max_new, eos_id=tok.eos_id, sampling=sampling, generator=g, keep=keep)
    policy.train(was)
    is_eos = (resp == tok.eos_id).long()
    before = is_eos.cumsum(1) - is_eos  # eos tokens strictly before each position
    mask = (before == 0).float()
    texts = []
    for r, ids in enumerate(enc):
        body = [t for t, m in zip(resp[r].tolist(), mask[r].tolist()) if m and t != tok.eos_id]
        texts.append(tok.decode(ids[1:] + body))
    return Rollouts(torch.cat([start, resp], 1), torch.cat([keep, mask.bool()], 1), resp, mask, texts, P)


def response_logps(model, ro: Rollouts, rows=slice(None)) -> tuple[Tensor, Tensor | None]:
    """log pi of each response token (B, R) and, for an ActorCritic, the value before each one."""
    seq, keep = ro.seq[rows], ro.keep[rows]
    P, R = ro.prompt_len, ro.response.size(1)
    if isinstance(model, ActorCritic):
        logits, values = model.logits_and_values(seq, keep)
        values = values[:, P - 1 : P - 1 + R]
    else:
        logits, values = model(seq, keep=keep, positions=real_token_positions(keep)), None
    return token_logps(logits[:, P - 1 : P - 1 + R], ro.response[rows]), values


def masked_mean(x: Tensor, m: Tensor) -> Tensor:
    return (x * m).sum() / m.sum().clamp(min=1)


class PPO:
    """One PPO run: policy (ActorCritic from the SFT weights), frozen reference, reward scorer (texts ->
    rating units), prompts; step() does one rollout + update, fit() runs to cfg.steps with checkpoints."""

    def __init__(self, policy: ActorCritic, ref, tok, scorer, prompts: list[str], cfg: PPOConfig, out=None, meta=None):
        cfg.validate()
        if not prompts:
            raise TcatError("PPO needs prompts")
        self.policy, self.ref, self.tok, self.scorer, self.prompts, self.cfg = policy, ref, tok, scorer, prompts, cfg
        for p in ref.parameters():
            p.requires_grad_(False)
        ref.eval()
        self.optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
        self.state = {"step": 0, "kl_coef": cfg.kl_coef, "tokens": 0, "elapsed": 0.0}
        self.out = None if out is None else Path(out)
        self.meta = meta or {}
        self.history: list[dict] = []

    def step(self) -> dict:
        cfg, st = self.cfg, self.state
        g = torch.Generator().manual_seed(rng_key(cfg.seed, 1, st["step"]))
        idx = torch.randint(len(self.prompts), (cfg.batch,), generator=g).tolist()
        t0 = time.perf_counter()
        ro = rollout(self.policy, self.tok, [self.prompts[i] for i in idx], cfg.max_new, cfg.temperature, g)
        gen_s = time.perf_counter() - t0
        scores = self.scorer(ro.texts).float()
        if cfg.shuffle_rewards:
            scores = scores[torch.randperm(len(scores), generator=g)]
        m = ro.mask
        with torch.no_grad():
            old_logp, old_values = response_logps(self.policy, ro)
            ref_logp, _ = response_logps(self.ref, ro)
        kl = (old_logp - ref_logp) * m
        rewards = -st["kl_coef"] * kl
        last = (m.sum(1).long() - 1).clamp(min=0)
        rewards[torch.arange(len(last)), last] += scores
        advantages, returns = gae(rewards, old_values, m, cfg.gamma, cfg.lam)
        advantages = whiten(advantages, m)
        stats = {"pg_loss": 0.0, "vf_loss": 0.0, "clipfrac": 0.0}
        n_updates = 0
        self.policy.train()
        for _ in range(cfg.epochs):
            order = torch.randperm(cfg.batch, generator=g)
            for s in range(0, cfg.batch, cfg.minibatch):
                rows = order[s : s + cfg.minibatch]
                logp, values = response_logps(self.policy, ro, rows)
                mm = m[rows]
                ratio = torch.exp(logp - old_logp[rows])
                adv = advantages[rows]
                pg = masked_mean(torch.max(-adv * ratio, -adv * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)), mm)
                v_old = old_values[rows]
                v_clip = v_old + (values - v_old).clamp(-cfg.clip_value, cfg.clip_value)
                ret = returns[rows]
                vf = 0.5 * masked_mean(torch.max((values - ret) ** 2, (v_clip - ret) ** 2), mm)
                loss = pg + cfg.vf_coef * vf
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), 1.0)
                self.optimizer.step()
                stats["pg_loss"] += pg.item()
                stats["vf_loss"] += vf.item()
                stats["clipfrac"] += masked_mean(((ratio - 1).abs() > cfg.clip).float(), mm).item()
                n_updates += 1
        seq_kl = kl.sum(1).mean().item()
        beta = st["kl_coef"]
        st["kl_coef"] = adapt_kl_coef(beta, seq_kl, cfg.target_kl, cfg.batch, cfg.horizon)
        st["step"] += 1
        n_tok = int(m.sum())
        st["tokens"] += n_tok
        record = {
            "step": st["step"],
            "reward": round(scores.mean().item(), 5),
            "kl": round(seq_kl, 5),
            "kl_coef": beta,
            "response_tokens": round(m.sum(1).mean().item(), 2),
            "tokens_per_s": round(n_tok / max(gen_s, 1e-9), 1),
            **{k: round(v / max(n_updates, 1), 5) for k, v in stats.items()},
        }
        self.history.append(record)
        return record

    # -- persistence ---------------------------------------------------------------------------------------
    def save(self) -> None:
        from ..train.checkpoint import save_checkpoint

        meta = {"task": {"name": STAGE, **self.meta}, "ppo": asdict(self.cfg)}
        save_checkpoint(self.out / "checkpoint", self.policy, meta, self.tok, self.optimizer, dict(self.state))

    def resume(self) -> None:
        from ..train.checkpoint import load_training_state, read_config, read_weights

        folder, meta, cfg = read_config(self.out / "checkpoint")
        stage = meta.get("task", {}).get("name") if isinstance(meta.get("task"), dict) else None
        if stage != STAGE:
            raise TcatError(f"{self.out}: holds a {stage or 'non-RLHF'} run, not PPO; resume it with its own command")
        if cfg != self.policy.config:
            raise TcatError(f"{folder}: the checkpoint's policy config differs from the SFT policy's")
        self.policy.load_state_dict(read_weights(self.policy, folder / "model.safetensors"))
        self.state, opt = load_training_state(folder)
        self.optimizer.load_state_dict(opt)
        self._truncate_metrics()

    def _truncate_metrics(self) -> None:
        path = self.out / "metrics.jsonl"
        if path.exists():
            keep = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= self.state["step"]]
            files.write_text(path, "".join(line + "\n" for line in keep))

    def fit(self, progress: bool = True, minutes: float = 0.0) -> dict:
        """Run to cfg.steps (or `minutes`), logging each step to metrics.jsonl and saving every save_every."""
        from .progress import RLProgress

        start, base = time.perf_counter(), self.state["elapsed"]
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
        with RLProgress(self.cfg.steps, self.state["step"], enabled=progress) as bar:
            while self.state["step"] < self.cfg.steps:
                record = self.step()
                self.state["elapsed"] = base + time.perf_counter() - start
                record["elapsed_s"] = round(self.state["elapsed"], 2)
                bar.update(record)
                if self.out is not None:
                    with (self.out / "metrics.jsonl").open("a") as f:
                        f.write(json.dumps(record) + "\n")
                    if self.cfg.save_every and self.state["step"] % self.cfg.save_every == 0:
                        self.save()
                if minutes and time.perf_counter() - start >= minutes * 60:
                    break
        if self.out is not None:
            self.save()
        return dict(self.state)


@torch.no_grad()
def evaluate(policy, ref, tok, scorer, judge, prompts: list[str], max_new: int, seed: int = 0, batch: int = 64):
    """Mean reward (rating units), mean judge score (rating units), mean sequence KL(policy || ref) of
    one sample per prompt, and the samples: {"reward", "judge", "kl", "samples": [(prompt, text, r, j)]}."""
    g = torch.Generator().manual_seed(rng_key(seed, 2))
    rewards, judged, kls, samples = [], [], [], []
    for s in range(0, len(prompts), batch):
        chunk = prompts[s : s + batch]
        ro = rollout(policy, tok, chunk, max_new, 1.0, g)
        logp, _ = response_logps(policy, ro)
        ref_logp, _ = response_logps(ref, ro)
        kls += ((logp - ref_logp) * ro.mask).sum(1).tolist()
        r, j = scorer(ro.texts).tolist(), judge(ro.texts)
        rewards += r
        judged += j
        samples += list(zip(chunk, ro.texts, r, j))
    n = len(prompts)
    return {"reward": sum(rewards) / n, "judge": sum(judged) / n, "kl": sum(kls) / n, "samples": samples}
