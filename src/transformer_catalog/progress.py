"""tcat's progress bars: a rich bar (the loop's own fields, elapsed time, ETA) that exists only when shown,
so tests and --quiet import no rich and print nothing. Each long loop names its label and columns; the
showing, hiding and updating are here, once."""

from __future__ import annotations

from contextlib import contextmanager


class Bar:
    """`columns` are rich TextColumn templates of the task's fields (e.g. "loss {task.fields[loss]}"),
    shown between the bar and the times; `fields` are their starting values."""

    def __init__(self, enabled: bool, label: str, columns: tuple[str, ...], total: float, completed=0, **fields):
        self.enabled = enabled
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            *(TextColumn(c) for c in columns),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.task = self.bar.add_task(label, total=total, completed=completed, **fields)

    def __enter__(self):
        if self.enabled:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)

    def show(self, **update) -> None:
        """Move the bar (completed=..., advance=...) and set fields; nothing when hidden."""
        if self.enabled:
            self.bar.update(self.task, **update)

    def note(self, text: str) -> None:
        """A line printed above the bar (or nothing when hidden)."""
        if self.enabled:
            self.bar.console.print(text)


@contextmanager
def stepping(label: str, total: int, enabled: bool | None = None):
    """A bar over `total` steps (done / total, steps per second, elapsed, ETA), shown when stderr is a terminal
    unless `enabled` says otherwise; yields the function that advances it by one step."""
    import sys
    import time

    shown = sys.stderr.isatty() if enabled is None else enabled
    columns = ("{task.completed:.0f}/{task.total:.0f}", "{task.fields[rate]} steps/s")
    with Bar(shown, label, columns, total=total, rate="-") as bar:
        started, done = time.perf_counter(), 0

        def advance() -> None:
            nonlocal done
            done += 1
            bar.show(advance=1, rate=f"{done / max(time.perf_counter() - started, 1e-9):.2f}")

        yield advance
