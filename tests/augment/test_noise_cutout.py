"""Gaussian noise and cutout: configured spread, and only one square changed."""

from __future__ import annotations

import pytest
import torch

from simclip.augment import Cutout, GaussianNoise
from tests.augment.conftest import seeded


def test_noise_has_the_configured_std_and_zero_mean():
    x = torch.full((16, 3, 32, 32), 0.5)  # far from 0 and 1: clamping does not bite at std 0.05
    out = GaussianNoise(std=0.05)(x, generator=seeded(0))
    delta = out - x
    assert abs(float(delta.std()) - 0.05) < 1e-3
    assert abs(float(delta.mean())) < 1e-3


def test_noise_is_independent_across_samples_and_clamped():
    x = torch.rand(4, 1, 32, 32, generator=seeded(1))
    out = GaussianNoise(std=0.3)(x, generator=seeded(2))
    assert out.min() >= 0 and out.max() <= 1
    same = x[:1].expand(4, -1, -1, -1)
    noise = GaussianNoise(std=0.01)(same, generator=seeded(3)) - same
    flat = noise.flatten(1)
    correlation = torch.corrcoef(flat)
    assert float((correlation - torch.eye(4)).abs().max()) < 0.15


def test_noise_rejects_negative_std():
    with pytest.raises(ValueError, match="std"):
        GaussianNoise(std=-0.1)


@pytest.mark.parametrize("fill", [0.0, 0.5])
def test_cutout_changes_exactly_one_square(fill):
    x = torch.rand(20, 3, 24, 24, generator=seeded(4)) * 0.4 + 0.55  # never equal to the fill
    out = Cutout(side=(0.2, 0.5), fill=fill)(x, generator=seeded(5))
    tops = set()
    for i in range(20):
        changed = (out[i] != x[i]).any(dim=0)
        rows = changed.any(dim=1).nonzero().flatten()
        cols = changed.any(dim=0).nonzero().flatten()
        top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        assert bottom - top == right - left  # a square
        assert 0.2 * 24 - 1 <= bottom - top <= 0.5 * 24 + 1
        assert bool(changed[top:bottom, left:right].all())  # the box is filled completely
        assert bool((out[i][:, top:bottom, left:right] == fill).all())
        assert int(changed.sum()) == (bottom - top) ** 2  # nothing outside the box changed
        tops.add(top)
    assert len(tops) > 5  # positions differ across samples


def test_cutout_rejects_out_of_range_arguments():
    with pytest.raises(ValueError, match="side"):
        Cutout(side=(0.2, 1.5))
    with pytest.raises(ValueError, match="fill"):
        Cutout(fill=2.0)
