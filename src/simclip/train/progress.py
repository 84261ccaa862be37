"""Training progress: loss, learning rate, images/s and the time left — a bar on a terminal, a
plain line every few seconds in a log (see :mod:`simclip.progress`)."""

from __future__ import annotations

from typing import TextIO

from simclip.progress import PLAIN_INTERVAL, ProgressReporter, format_seconds


class Progress:
    """Progress over steps; with a time budget the position and ETA follow the budget instead."""

    def __init__(self, total_steps: int, time_budget: float | None, enabled: bool = True,
                 start_step: int = 0, start_elapsed: float = 0.0, stream: TextIO | None = None,
                 interval: float = PLAIN_INTERVAL) -> None:
        self.budget = time_budget
        self.total = total_steps
        self.reporter = ProgressReporter(int(time_budget) if time_budget else total_steps, "train",
                                         unit="s" if time_budget else "step",
                                         initial=int(start_elapsed) if time_budget else start_step,
                                         interval=interval, stream=stream, enabled=enabled)

    def update(self, step: int, elapsed: float, loss: float, lr: float, ips: float) -> None:
        if not self.reporter.enabled:
            return
        per_step = elapsed / max(step, 1)
        left = min(self.budget - elapsed if self.budget else float("inf"),
                   (self.total - step) * per_step)
        position = min(int(elapsed), int(self.budget)) if self.budget else step
        at_step = f"step={step} " if self.budget else ""
        self.reporter.update(position, f"{at_step}loss={loss:.4f} lr={lr:.3g} img/s={ips:.0f} "
                                       f"eta={format_seconds(left)}")

    def close(self) -> None:
        self.reporter.close()
