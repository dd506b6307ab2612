"""A rich progress bar for the RLHF loops: step, reward, KL, beta and tokens/s, with ETA; silent when
disabled (tests, --quiet)."""

from __future__ import annotations


class RLProgress:
    def __init__(self, total: int, done: int, enabled: bool = True, label: str = "ppo"):
        self.enabled = enabled
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
            TextColumn("reward {task.fields[reward]}"),
            TextColumn("KL {task.fields[kl]}"),
            TextColumn("beta {task.fields[beta]}"),
            TextColumn("{task.fields[tok_s]} tok/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.task = self.bar.add_task(label, total=total, completed=done, reward="-", kl="-", beta="-", tok_s="-")

    def __enter__(self):
        if self.enabled:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)

    def update(self, record: dict) -> None:
        if self.enabled:
            self.bar.update(
                self.task,
                completed=record["step"],
                reward=f"{record.get('reward', float('nan')):+.3f}",
                kl=f"{record.get('kl', float('nan')):.2f}",
                beta=f"{record.get('kl_coef', float('nan')):.3f}",
                tok_s=f"{record.get('tokens_per_s', 0):,.0f}",
            )
