"""The errors that mean "the user asked for something wrong" — shown as one line, not a traceback."""

from __future__ import annotations

from simclip.train.checkpoint import CheckpointError
from simclip.train.loop import TrainingError

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, FileNotFoundError,
                                                 PermissionError, IsADirectoryError, NotADirectoryError,
                                                 CheckpointError, TrainingError, OSError)


def format_error(err: BaseException) -> str:
    if isinstance(err, FileNotFoundError) and err.filename and str(err.filename) not in str(err):
        return f"{err} ({err.filename})"
    return str(err)
