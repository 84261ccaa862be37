"""Process-group set-up for ``torchrun`` (one process per device) and the few control-flow
collectives the loop needs. The all-gather of features for the losses lives in
``simclip.losses.gather`` and nowhere else."""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def launched_rank() -> int:
    """This process's rank as torchrun numbers it (``RANK``), known before the process group is
    joined; 0 for a single process."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def setup(device: str = "cpu") -> DistInfo:
    """Join the process group that ``torchrun`` describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``/``MASTER_PORT``): NCCL for CUDA, gloo for CPU. A plain single process — no
    ``WORLD_SIZE`` or ``WORLD_SIZE=1`` — gets ``DistInfo()``. Safe to call more than once; the
    group is destroyed when the process exits (a gloo group left to the interpreter's teardown can
    abort the process after a finished run, which torchrun counts as a failure)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
    store, rank, world = next(dist.rendezvous("env://"))
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        # torchrun's agent keeps one store for all attempts of a job: a restarted worker must not
        # read the addresses the workers of the failed attempt published there (it would connect to
        # a dead process); every worker of one agent counts the same restarts
        store = dist.PrefixStore(f"simclip/attempt-{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)
    dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo", store=store,
                            rank=rank, world_size=world)
    atexit.register(_destroy)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank)


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def device_for(info: DistInfo, device: str) -> torch.device:
    """``cuda`` becomes ``cuda:LOCAL_RANK`` under torchrun; anything else is kept."""
    if device == "cuda" and info.enabled:
        return torch.device("cuda", info.local_rank)
    return torch.device(device)


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on at least one (so all ranks stop together)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` without a process group)."""
    if not info.enabled:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def average_gradients(model: torch.nn.Module, info: DistInfo) -> None:
    """Average every parameter gradient over the ranks (one flattened all-reduce per dtype)."""
    if not info.enabled:
        return
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    for dtype in {g.dtype for g in grads}:
        group = [g for g in grads if g.dtype == dtype]
        flat = torch.cat([g.reshape(-1) for g in group])
        dist.all_reduce(flat)
        flat /= info.world_size
        offset = 0
        for g in group:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
