"""Two gloo processes with DDP reproduce the single-process gradients on the concatenated batch,
for NT-Xent and CLIP, dense and tiled, with and without the gradient cache."""

import contextlib
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from simclip.train import forward_backward
from simclip.train.distributed import DistInfo, average_gradients
from tests.train.toy import ToyCLIPObjective, ToyDual, ToyNTXentObjective

WORLD, PER_RANK = 2, 6
CASES = [(obj, block, micro) for obj in ("clip", "ntxent") for block in (None, 4) for micro in (None, 4)]


def _objective(kind, distributed, block):
    cls = ToyCLIPObjective if kind == "clip" else ToyNTXentObjective
    return cls(distributed=distributed, block_size=block)


def _batch():
    return torch.randn(WORLD * PER_RANK, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(5))


def _single(kind, block, micro):
    torch.manual_seed(0)
    model = ToyDual().double()
    forward_backward(_objective(kind, False, block), model, (_batch(),), autocast=contextlib.nullcontext,
                     micro_batch=micro)
    return {k: p.grad for k, p in model.named_parameters() if p.grad is not None}


def _worker(rank, port, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        for kind, block, micro in CASES:
            torch.manual_seed(0)
            model = ToyDual().double()
            ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=kind == "ntxent")
            local = _batch()[rank * PER_RANK:(rank + 1) * PER_RANK]
            # the loop's wiring: DDP for whole-batch steps, one explicit average after a cached step
            forward_backward(_objective(kind, True, block), ddp, (local,), autocast=contextlib.nullcontext,
                             micro_batch=micro, raw_model=model, no_sync=ddp.no_sync,
                             sync_gradients=lambda: average_gradients(model, DistInfo(rank, WORLD)))
            if rank == 0:
                queue.put(((kind, block, micro),
                           {k: p.grad.numpy().copy() for k, p in model.named_parameters()
                            if p.grad is not None}))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def distributed_grads():
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(r, PORT, queue)) for r in range(WORLD)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in CASES)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


PORT = _free_port()


@pytest.mark.parametrize("case", CASES, ids=[f"{k}-block{b}-micro{m}" for k, b, m in CASES])
def test_two_processes_equal_one(distributed_grads, case):
    expected = _single(*case)
    got = {k: torch.from_numpy(v) for k, v in distributed_grads[case].items()}
    assert got.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-6, atol=1e-9, msg=name)
