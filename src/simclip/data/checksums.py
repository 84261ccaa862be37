"""Reading data files verified against a ``SHA256SUMS`` file in the same folder.

A ``SHA256SUMS`` file (the output of ``sha256sum``: ``<hex digest>  <file name>`` per line) next to
the data is a promise about its bytes; when present, every listed file read is checked, so a
partial download or a swapped file fails loudly instead of training on wrong data.
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

from simclip.errors import SimclipError

SUMS_NAME = "SHA256SUMS"


class ChecksumError(SimclipError, ValueError):
    """A file whose SHA-256 differs from the one its folder's SHA256SUMS lists."""


def read_sums(folder: Path) -> dict[str, str] | None:
    """Map file name -> lowercase hex digest from ``folder/SHA256SUMS``, or None if absent."""
    sums_path = Path(folder) / SUMS_NAME
    if not sums_path.is_file():
        return None
    sums: dict[str, str] = {}
    for number, line in enumerate(sums_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.strip().partition(" ")
        name = name.lstrip(" ").removeprefix("*")  # "*" marks binary mode in sha256sum output
        if len(digest) != 64 or not name or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise ChecksumError(f"{sums_path} line {number}: expected '<sha256 hex>  <file name>', "
                                f"got {line!r}")
        sums[name] = digest.lower()
    return sums


def read_verified(path: Path) -> bytes:
    """Read ``path``; if its folder has a SHA256SUMS file, check the bytes against it.

    Raises ``FileNotFoundError`` naming a missing file and ``ChecksumError`` naming a file whose
    digest differs. A file that SHA256SUMS does not list is read with a warning.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing data file: {path}")
    data = path.read_bytes()
    sums = read_sums(path.parent)
    if sums is None:
        return data
    expected = sums.get(path.name)
    if expected is None:
        warnings.warn(f"{path.name} is not listed in {path.parent / SUMS_NAME}; not verified",
                      stacklevel=2)
        return data
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumError(f"checksum mismatch for {path}: SHA-256 is {actual}, "
                            f"{SUMS_NAME} lists {expected} (corrupt or partial download?)")
    return data
