"""What every experiment-tracking backend of a run implements (:class:`Logger`), and the value
conversions they share. One backend a file: ``jsonl``, ``tensorboard``, ``wandb``, ``mlflow``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

from simclip.errors import SimclipError


class TrackerError(SimclipError, RuntimeError):
    """An experiment tracker could not start its run or write to it; the message names the tracker."""


class Logger(Protocol):
    """One backend that records a run (only rank 0 of a distributed run has any).

    ``run_id`` is the backend's own id of the run it records, or None where it has none; the run
    folder keeps it (``tracking.json``) so that a resumed run goes on recording into the same run.
    A resumed run trains the steps after its checkpoint again: a backend records each step once,
    dropping the earlier attempt's rows of those steps where its format allows it, else skipping
    the steps it already holds.
    """

    name: str

    @property
    def run_id(self) -> str | None:
        """The backend's id of the run it records (None: it has none)."""

    def log_params(self, params: dict[str, Any]) -> None:
        """The run's resolved configuration, nested as in ``config.json``."""

    def log_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        """One row of metrics at ``step``: numbers, and ``"nan"``/``"inf"`` strings for non-finite ones."""

    def log_image(self, key: str, path: Path, step: int) -> None:
        """A PNG the run wrote (its training curves), under ``key``."""

    def log_summary(self, metrics: dict[str, Any], step: int) -> None:
        """The run's final metrics (what :func:`simclip.train.train` returns), at its last ``step``."""

    def close(self, failed: bool = False) -> None:
        """Flush and end the backend's run; ``failed``: an error ended the training."""


def flat_params(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 0.3}}`` -> ``{"optim.lr": 0.3}`` for trackers whose parameters are flat;
    lists and tuples become their JSON-like text, None the text ``"None"``."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flat_params(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = "[" + ", ".join(str(v) for v in value) + "]"
        else:
            out[name] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return out


def finite_numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The finite numeric entries of ``metrics`` as floats (no bools, no ``"nan"`` strings, no step)."""
    return {k: float(v) for k, v in metrics.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
