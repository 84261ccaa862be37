"""The error a run raises when it cannot go on (its own module: the loop and the run-folder
helpers both raise it, and neither may import the other for it)."""

from __future__ import annotations

from simclip.errors import SimclipError


class TrainingError(SimclipError, RuntimeError):
    """The run cannot go on; the message says why and what was kept."""


__all__ = ["TrainingError"]
