"""How the command line reports a failure: one line for what the user can fix, a traceback for a bug.

A :class:`~simclip.errors.SimclipError` (a bad flag, config value, dataset, checkpoint, image), a
path the user named that is missing, unreadable or a folder, and an argparse error are the user's
to fix: ``simclip: error: MESSAGE``, exit code 2. Anything else is a bug in simclip or in a library
it calls: the traceback and a request to report it, exit code 1. ``--debug`` shows the traceback
of every error. Warnings print as ``simclip: warning: MESSAGE`` (with ``--debug``, as Python
prints them: file, line and source).
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from simclip.errors import MissingDependencyError, SimclipError

USER_ERRORS: tuple[type[BaseException], ...] = (SimclipError, FileNotFoundError, PermissionError,
                                                 IsADirectoryError, NotADirectoryError,
                                                 argparse.ArgumentError, argparse.ArgumentTypeError)
USER_ERROR_EXIT, BUG_EXIT = 2, 1

__all__ = ["USER_ERRORS", "MissingDependencyError", "clean_warnings", "format_error", "report_error"]


def format_error(err: BaseException) -> str:
    """The one line that reports ``err`` (a missing file's name is added when the message lacks it)."""
    if isinstance(err, OSError) and err.filename and str(err.filename) not in str(err):
        return f"{err} ({err.filename})"
    return str(err) or type(err).__name__


def report_error(err: BaseException, debug: bool = False) -> int:
    """Print ``err`` for the terminal and return the exit code (see the module docstring)."""
    if isinstance(err, USER_ERRORS):
        if debug:
            traceback.print_exception(err, file=sys.stderr)
        print(f"simclip: error: {format_error(err)}", file=sys.stderr)
        return USER_ERROR_EXIT
    traceback.print_exception(err, file=sys.stderr)
    print(f"simclip: internal error: {type(err).__name__}: {format_error(err)}\n"
          f"This is a bug in simclip, not a mistake in what you asked for; please report it with "
          f"the command line and the traceback above.", file=sys.stderr)
    return BUG_EXIT


@contextmanager
def clean_warnings(debug: bool = False) -> Iterator[None]:
    """Within the block, print each warning as one ``simclip: warning: ...`` line on stderr, not as
    ``path/to/file.py:50: UserWarning: ...`` plus a source line; the previous format is restored
    after. With ``debug``, warnings print as Python prints them.

    ``warnings.formatwarning`` is replaced rather than ``showwarning``: Python's own printer uses
    it, while code that records warnings (``warnings.catch_warnings(record=True)``, ``pytest.warns``)
    keeps receiving them instead of seeing them printed past it.
    """
    if debug:
        yield
        return
    previous = warnings.formatwarning

    def one_line(message, category, filename, lineno, line=None) -> str:
        return f"simclip: warning: {message}\n"

    warnings.formatwarning = one_line
    try:
        yield
    finally:
        warnings.formatwarning = previous
