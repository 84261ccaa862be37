"""The base class of the errors a user causes: a bad flag, config value, path, file or dataset.

The command line shows a :class:`SimclipError` as one line (``simclip: error: ...``, exit code 2)
and anything else as a traceback to report, so an error class derives from it exactly when its
message, not a stack, is what the user needs. Each subclass also derives from the built-in error
that code outside simclip would expect (``ValueError`` for a bad value, ...), so ``except
ValueError`` keeps working.

This module imports nothing: every layer of simclip may use it.
"""

from __future__ import annotations


class SimclipError(Exception):
    """Something the user asked for or gave is wrong; the message says what and where."""


class UsageError(SimclipError, ValueError):
    """An argument — a command-line flag, or the function argument a flag maps to — or a
    combination of them that cannot work; the message names it."""


class UnknownNameError(SimclipError, ValueError):
    """A name that nothing is registered under (an encoder, a policy, a model, a template set);
    the message lists the valid names."""


class MissingDependencyError(SimclipError, ImportError):
    """An optional dependency that is not installed; the message says what to install."""


__all__ = ["MissingDependencyError", "SimclipError", "UnknownNameError", "UsageError"]
