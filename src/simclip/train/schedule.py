"""Learning-rate schedule: linear warm-up then cosine decay, as a function of run progress.

Progress is a fraction in [0, 1] — steps done over total steps, or seconds spent over the time
budget — so the same schedule fits a step-bounded and a time-bounded run.
"""

from __future__ import annotations

import math


def warmup_cosine(progress: float, peak: float, warmup: float = 0.1, floor: float = 0.0) -> float:
    """Learning rate at ``progress`` in [0, 1]: linear from 0 to ``peak`` over the first ``warmup``
    fraction, then cosine from ``peak`` to ``peak * floor`` (Loshchilov & Hutter 2017)."""
    progress = min(max(progress, 0.0), 1.0)
    if warmup > 0 and progress < warmup:
        return peak * progress / warmup
    t = (progress - warmup) / max(1.0 - warmup, 1e-12)
    return peak * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t)))
