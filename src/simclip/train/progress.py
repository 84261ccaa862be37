"""A one-line progress bar: loss, learning rate, images/s and the time left."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    """tqdm over steps; with a time budget the bar and ETA follow the budget instead."""

    def __init__(self, total_steps: int, time_budget: float | None, enabled: bool = True,
                 start_step: int = 0, start_elapsed: float = 0.0) -> None:
        self.budget = time_budget
        self.total = total_steps
        self.bar = None
        if enabled:
            self.bar = tqdm(total=int(time_budget) if time_budget else total_steps,
                            initial=int(start_elapsed) if time_budget else start_step,
                            unit="s" if time_budget else "step", file=sys.stderr, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")

    def update(self, step: int, elapsed: float, loss: float, lr: float, ips: float) -> None:
        if self.bar is None:
            return
        per_step = elapsed / max(step, 1)
        left = min(self.budget - elapsed if self.budget else float("inf"),
                   (self.total - step) * per_step)
        self.bar.n = min(int(elapsed), int(self.budget)) if self.budget else step
        self.bar.set_postfix_str(f"loss={loss:.4f} lr={lr:.3g} img/s={ips:.0f} eta={_fmt(left)}",
                                 refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _fmt(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 60:d}:{seconds % 60:02d}"
