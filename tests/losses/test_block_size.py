"""The automatic tile size (block_size=None) follows the device of the inputs, for every tiled loss."""

import pytest
import torch

from simclip.losses import clip_loss, info_nce, nt_xent, siglip_loss
from simclip.losses import reductions
from simclip.losses.reductions import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_BLOCK_SIZES,
    DENSE_MAX_LOGITS,
    default_block_size,
    resolve_block_size,
)

N, DIM = 10, 4


def test_default_block_size_by_device_type():
    assert default_block_size("cpu") == default_block_size(torch.device("cpu")) == DEFAULT_BLOCK_SIZE == 1024
    # no GPU needed: only the device's type is read
    for cuda in ("cuda", "cuda:1", torch.device("cuda", 0)):
        assert default_block_size(cuda) == DEFAULT_BLOCK_SIZES["cuda"] == 4096
    assert default_block_size("meta") == DEFAULT_BLOCK_SIZE  # unmeasured types get the CPU value


@pytest.mark.parametrize("core", sorted(DENSE_MAX_LOGITS))
def test_resolve_block_size_by_device_type(core):
    big = DENSE_MAX_LOGITS[core] + 1
    assert resolve_block_size(None, big, 1, core, "cpu") == 1024
    assert resolve_block_size(None, big, 1, core, torch.device("cuda")) == 4096
    assert resolve_block_size(None, DENSE_MAX_LOGITS[core], 1, core, "cuda") is None  # dense either way
    assert resolve_block_size(96, big, 1, core, "cuda") == 96  # an explicit size wins


def _unit(*shape):
    return torch.nn.functional.normalize(torch.randn(*shape), dim=-1)


LOSSES = {
    "info_nce": lambda block_size: info_nce(_unit(N, DIM), _unit(N, DIM), temperature=0.1, block_size=block_size),
    "nt_xent": lambda block_size: nt_xent(torch.randn(2, N, DIM), 0.2, block_size=block_size),
    "clip": lambda block_size: clip_loss(_unit(N, DIM), _unit(N, DIM), 10.0, block_size=block_size),
    "siglip": lambda block_size: siglip_loss(_unit(N, DIM), _unit(N, DIM), 10.0, -10.0, block_size=block_size),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_tile_with_the_device_default(name, monkeypatch):
    """block_size=None reaches the tiled core with default_block_size(inputs' device); a size wins."""
    monkeypatch.setattr(reductions, "DENSE_MAX_LOGITS", dict.fromkeys(DENSE_MAX_LOGITS, 0))
    monkeypatch.setitem(reductions.DEFAULT_BLOCK_SIZES, "cpu", 3)
    tiles = []
    cores = ((reductions.TiledLogSumExp, 6), (reductions.TiledSymmetricLogSumExp, 2), (reductions.TiledSoftplusSum, 4))
    for core, tile_arg in cores:
        monkeypatch.setattr(core, "apply", lambda *a, _apply=core.apply, _i=tile_arg: tiles.append(a[_i]) or _apply(*a))
    torch.manual_seed(0)
    assert torch.isfinite(LOSSES[name](None))
    assert tiles and set(tiles) == {3}
    tiles.clear()
    LOSSES[name](5)
    assert tiles and set(tiles) == {5}
