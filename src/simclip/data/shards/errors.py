"""The errors of reading shards: a shard or index that cannot be used, a location that cannot be
opened. Both are user-caused (:class:`simclip.errors.SimclipError`) and name the file or URL."""
from __future__ import annotations

from simclip.errors import SimclipError


class ShardError(SimclipError, ValueError):
    """A shard or shard index that cannot be read; the message names the file (and sample key)."""


class ShardSourceError(ShardError):
    """A shard location that cannot be opened or read: unreachable, missing, a failed command,
    an unknown URL scheme or a missing fsspec. The message names the location."""
