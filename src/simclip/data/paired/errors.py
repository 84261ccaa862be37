"""The error of a paired dataset whose table or files cannot be used."""
from __future__ import annotations

from simclip.errors import SimclipError


class PairFileError(SimclipError, ValueError):
    """A ``pairs:`` table or one of the files it names cannot be used; the message names the file
    and, for a file of one sample, the table's row."""
