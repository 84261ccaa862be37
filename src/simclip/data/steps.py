"""How many batches an epoch has: shared by the in-memory loader and the shard stream."""
from __future__ import annotations

import math


def steps_per_epoch(n: int, batch_size: int, drop_last: bool = True, world_size: int = 1) -> int:
    """Batches per epoch (on every rank) for ``n`` items and a per-rank ``batch_size``."""
    check_positive(batch_size=batch_size, world_size=world_size)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    global_batch = batch_size * world_size
    return n // global_batch if drop_last else math.ceil(n / global_batch)


def check_positive(**values: int) -> None:
    """Raise ``ValueError`` naming the first value that is not a positive int."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
