"""A rich progress bar for the RLHF loops: step, reward, KL, beta and tokens/s, with ETA; silent when
disabled (tests, --quiet)."""

from __future__ import annotations

from ..progress import Bar

COLUMNS = (
    "step {task.completed:.0f}/{task.total:.0f}",
    "reward {task.fields[reward]}",
    "KL {task.fields[kl]}",
    "beta {task.fields[beta]}",
    "{task.fields[tok_s]} tok/s",
)


class RLProgress(Bar):
    def __init__(self, total: int, done: int, enabled: bool = True, label: str = "ppo"):
        super().__init__(enabled, label, COLUMNS, total=total, completed=done, reward="-", kl="-", beta="-", tok_s="-")

    def update(self, record: dict) -> None:
        if self.enabled:
            self.show(
                completed=record["step"],
                reward=f"{record.get('reward', float('nan')):+.3f}",
                kl=f"{record.get('kl', float('nan')):.2f}",
                beta=f"{record.get('kl_coef', float('nan')):.3f}",
                tok_s=f"{record.get('tokens_per_s', 0):,.0f}",
            )
