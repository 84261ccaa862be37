"""The IDX file format of MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/).

Header: two zero bytes, a type code (0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64), the number of dimensions, then one big-endian uint32 per dimension; the data
follows in C order, big-endian. MNIST images are magic 2051 (ubyte, 3 dims), labels 2049
(ubyte, 1 dim).
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from simclip.data.checksums import read_verified
from simclip.errors import SimclipError

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IDXFormatError(SimclipError, ValueError):
    """A file that is not a well-formed IDX file."""


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes into an array of the header's type and shape (native byte order).

    Raises ``IDXFormatError`` naming ``name`` for a wrong magic number or a size that does not
    match the header (truncated or trailing bytes).
    """
    if len(data) < 4:
        raise IDXFormatError(f"{name}: {len(data)} bytes is too short for an IDX header")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    magic = int.from_bytes(data[:4], "big")
    if zero != 0 or type_code not in _TYPES or ndim == 0:
        raise IDXFormatError(f"{name}: bad IDX magic number 0x{magic:08x} (expected 0x0000TTDD "
                             "with a known type TT and DD >= 1 dims; e.g. 2051 for MNIST images)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXFormatError(f"{name}: truncated IDX header ({len(data)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_TYPES[type_code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        state = "truncated" if len(data) - header < expected else "has trailing bytes"
        raise IDXFormatError(f"{name}: {state}: header says dims {dims} ({expected} data bytes), "
                             f"file has {len(data) - header}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed when it ends in ``.gz``; checksum-verified (SHA256SUMS)."""
    path = Path(path)
    data = read_verified(path)
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise IDXFormatError(f"{path}: corrupt gzip data ({err})") from None
    return parse_idx(data, str(path))
