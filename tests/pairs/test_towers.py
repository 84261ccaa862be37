"""Every registered tower: output shape, what ``prepare`` accepts, and PointNet's order invariance."""

import pytest
import torch

from simclip.errors import UnknownNameError
from simclip.pairs import DEFAULT_TOWERS, PairModel, PairModelConfig, PairObjectiveConfig, create_tower, list_towers
from simclip.train.config import ConfigError

B, E = 4, 24
RAW = {"image": lambda: torch.randint(0, 256, (B, 3, 32, 32), dtype=torch.uint8),
       "depth": lambda: 2 - torch.rand(B, 1, 32, 32),
       "audio": lambda: torch.randn(B, 1, 40, 63),
       "points": lambda: torch.rand(B, 100, 3),
       "text": lambda: ["a red circle", "a blue star on the left", "an orange cross", "a square"]}


@pytest.mark.parametrize("modality", list(DEFAULT_TOWERS))
def test_default_tower_maps_a_batch_to_embeddings(modality):
    torch.manual_seed(0)
    tower = create_tower(modality, E)
    x = tower.prepare(RAW[modality]())
    assert x.dtype in (torch.float32, torch.int64) and x.shape[0] == B
    z = tower(x)
    assert z.shape == (B, E) and z.isfinite().all()
    z.sum().backward()
    assert all(p.grad is not None for p in tower.parameters() if p.requires_grad)


def test_pointnet_ignores_the_order_of_points():
    torch.manual_seed(1)
    tower = create_tower("points", E).eval()
    pts = torch.rand(B, 50, 3)
    shuffled = pts[:, torch.randperm(50)]
    torch.testing.assert_close(tower(pts), tower(shuffled))


def test_registry_names_towers_and_rejects_mismatches():
    assert list_towers("audio") == ["audio-cnn"] and "pointnet" in list_towers()
    with pytest.raises(UnknownNameError, match="unknown tower 'nope'"):
        create_tower("image", E, "nope")
    with pytest.raises(ConfigError, match="reads points, not image"):
        create_tower("image", E, "pointnet")
    with pytest.raises(ConfigError, match="bad option for tower 'audio-cnn'"):
        create_tower("audio", E, depthwise=True)


def test_model_gives_normalised_embeddings_and_a_temperature_per_pair():
    model = PairModel(PairModelConfig(embed_dim=E), PairObjectiveConfig(["audio", "image", "points"], "image"))
    inputs = [model.prepare(m, RAW[m]()) for m in model.modalities]
    out = model(*inputs)
    assert [o.shape for o in out] == [(B, E)] * 3
    torch.testing.assert_close(out[0].norm(dim=1), torch.ones(B))
    assert set(model.scales()) == {"audio", "points"}
    assert model.scales()["audio"].item() == pytest.approx(1 / 0.07)
