"""Two real CPU processes (gloo): rank-local losses, with gradients averaged over ranks as DDP does
(all-reduce, then divide by the world size), equal one process on the concatenated batch."""

from __future__ import annotations

import copy
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from simclip.losses import CLIPLoss, InfoNCELoss, NTXentLoss, SigLIPLoss, all_gather_with_grad, rank_and_world

WORLD, LOCAL_N, IN_DIM, DIM = 2, 5, 6, 4


class TowersWithLoss(nn.Module):
    """Two linear towers, a learnable scale and bias, and the loss: every gradient path ends in a parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(IN_DIM, DIM).double()
        self.b = nn.Linear(IN_DIM, DIM).double()
        self.scale = nn.Parameter(torch.tensor(3.0, dtype=torch.float64))
        self.bias = nn.Parameter(torch.tensor(-1.5, dtype=torch.float64))
        self.case: tuple[str, int | None, bool] = ("clip", None, False)

    def forward(self, xa: torch.Tensor, xb: torch.Tensor, xc: torch.Tensor) -> torch.Tensor:
        name, block_size, distributed = self.case
        a, b = self.a(xa), self.b(xb)
        if name == "nt_xent":
            return NTXentLoss(0.3, block_size, distributed)(torch.stack([a, b, self.a(xc)]))
        if name == "nt_xent_2":
            return NTXentLoss(0.3, block_size, distributed)(a, b)
        if name == "clip":
            return CLIPLoss(block_size, distributed)(a, b, self.scale)
        if name == "info_nce":
            return InfoNCELoss(0.5, block_size=block_size, distributed=distributed)(a, b)
        return SigLIPLoss(block_size, distributed)(a, b, self.scale, self.bias)


def _check_case(rank: int, case: tuple[str, int | None], model: TowersWithLoss, inputs: list[torch.Tensor]) -> None:
    # one process on the concatenated batch
    single = copy.deepcopy(model)
    single.case = (*case, False)
    single_loss = single(*inputs)
    single_loss.backward()
    # each rank on its own rows, gradients then averaged over ranks as DDP averages them
    replica = copy.deepcopy(model)
    replica.case = (*case, True)
    local_loss = replica(*(x[rank * LOCAL_N : (rank + 1) * LOCAL_N] for x in inputs))
    local_loss.backward()
    for param in replica.parameters():
        if param.grad is not None:
            dist.all_reduce(param.grad)
            param.grad /= WORLD
    mean_loss = local_loss.detach().clone()
    dist.all_reduce(mean_loss)
    torch.testing.assert_close(mean_loss / WORLD, single_loss.detach(), atol=1e-6, rtol=0)
    for (name, got), want in zip(replica.named_parameters(), single.parameters()):
        expected = torch.zeros_like(want) if want.grad is None else want.grad
        actual = torch.zeros_like(got) if got.grad is None else got.grad
        torch.testing.assert_close(actual, expected, atol=1e-6, rtol=0, msg=lambda m: f"{case} {name}: {m}")


def _worker(rank: int, port: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        assert rank_and_world() == (rank, WORLD)
        torch.manual_seed(0)  # same model and global batch on both ranks
        model = TowersWithLoss()
        inputs = [torch.randn(WORLD * LOCAL_N, IN_DIM, dtype=torch.float64) for _ in range(3)]
        for name in ("nt_xent", "nt_xent_2", "clip", "info_nce", "siglip"):
            for block_size in (None, 3):
                _check_case(rank, (name, block_size), model, inputs)
        with pytest.raises(ValueError, match="same x shape on every rank"):
            all_gather_with_grad(torch.zeros(3 + rank, 2))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rank_local_losses_under_ddp_equal_single_process():
    mp.spawn(_worker, args=(_free_port(),), nprocs=WORLD, join=True)


def test_gather_is_identity_without_process_group():
    x = torch.randn(3, 2, requires_grad=True)
    assert rank_and_world() == (0, 1)
    assert all_gather_with_grad(x) is x
