"""Colour adjustments and SimCLR's colour distortion, against colorsys, torchvision and a
per-sample sequential reference."""

from __future__ import annotations

import colorsys

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from simclip.augment import ColorJitter, RandomGrayscale
from simclip.augment.colour import (
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    to_grayscale,
)
from tests.augment.conftest import seeded

# torchvision's grayscale weights are (0.2989, 0.587, 0.114), ours PIL's (0.299, 0.587, 0.114)
TORCHVISION_ATOL = 2e-4


def colorsys_hue_shift(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Naive float64 reference: per pixel RGB -> HSV, hue + shift (mod 1), HSV -> RGB."""
    out = torch.empty_like(x, dtype=torch.float64)
    for i in range(x.shape[0]):
        for u in range(x.shape[2]):
            for v in range(x.shape[3]):
                h, s, val = colorsys.rgb_to_hsv(*(float(c) for c in x[i, :, u, v]))
                out[i, :, u, v] = torch.tensor(colorsys.hsv_to_rgb((h + float(shifts[i])) % 1.0, s, val))
    return out


def test_grayscale_has_equal_channels_with_luma_weights(rgb_batch):
    out = to_grayscale(rgb_batch)
    assert out.shape == rgb_batch.shape
    torch.testing.assert_close(out[:, 0], out[:, 1], rtol=0, atol=0)
    torch.testing.assert_close(out[:, 0], out[:, 2], rtol=0, atol=0)
    x = rgb_batch.double()
    expected = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    torch.testing.assert_close(out[:, 0].double(), expected, atol=1e-6, rtol=0)


def test_random_grayscale_op_converts_with_p_one_and_keeps_gray_images(rgb_batch, gray_batch):
    out = RandomGrayscale(p=1.0)(rgb_batch, generator=seeded(0))
    torch.testing.assert_close(out, to_grayscale(rgb_batch), rtol=0, atol=0)
    torch.testing.assert_close(RandomGrayscale(p=1.0)(gray_batch), gray_batch, rtol=0, atol=0)


@pytest.mark.parametrize(
    "ours, theirs, low, high",
    [
        (adjust_brightness, TF.adjust_brightness, 0.2, 1.8),
        (adjust_contrast, TF.adjust_contrast, 0.2, 1.8),
        (adjust_saturation, TF.adjust_saturation, 0.0, 1.8),
        (adjust_hue, TF.adjust_hue, -0.5, 0.5),
    ],
)
def test_adjustments_match_torchvision_sample_by_sample(rgb_batch, ours, theirs, low, high):
    factors = torch.rand(6, generator=seeded(1)) * (high - low) + low
    out = ours(rgb_batch, factors)
    reference = torch.stack([theirs(rgb_batch[i], float(factors[i])) for i in range(6)])
    torch.testing.assert_close(out, reference, atol=TORCHVISION_ATOL, rtol=0)
    assert out.min() >= 0 and out.max() <= 1


def test_hue_matches_colorsys_in_float64(rgb_batch):
    x = rgb_batch[:3, :, :6, :6].clone()
    x[0, :, 0, 0] = 0.4  # a gray pixel: hue undefined, must stay gray
    x[1, :, 0, 0] = torch.tensor([0.9, 0.9, 0.1])  # tie between red and green maxima
    special = [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.9]]
    for j, rgb in enumerate(special):  # ties with blue, black, white, primaries
        x[2, :, 1, j] = torch.tensor(rgb)
    shifts = torch.tensor([0.13, -0.41, 0.5])
    torch.testing.assert_close(adjust_hue(x, shifts).double(), colorsys_hue_shift(x, shifts), atol=2e-6, rtol=0)


def test_hue_shift_of_zero_is_identity_and_shifts_compose(rgb_batch):
    zero = torch.zeros(6)
    torch.testing.assert_close(adjust_hue(rgb_batch, zero), rgb_batch, atol=2e-6, rtol=0)
    third = torch.full((6,), 1 / 3)
    twice = adjust_hue(adjust_hue(rgb_batch, third), third)
    torch.testing.assert_close(twice, adjust_hue(rgb_batch, 2 * third), atol=5e-6, rtol=0)


def test_colour_only_adjustments_are_identity_on_one_channel(gray_batch):
    factors = torch.full((6,), 1.7)
    torch.testing.assert_close(adjust_saturation(gray_batch, factors), gray_batch, rtol=0, atol=0)
    torch.testing.assert_close(adjust_hue(gray_batch, factors * 0.1), gray_batch, rtol=0, atol=0)
    torch.testing.assert_close(to_grayscale(gray_batch), gray_batch, rtol=0, atol=0)
    # brightness and contrast still act on gray images
    assert not torch.equal(adjust_contrast(gray_batch, factors), gray_batch)


def test_colour_ops_reject_two_channel_images():
    x = torch.rand(2, 2, 5, 5)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        ColorJitter()(x)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        RandomGrayscale()(x)
    # brightness and contrast alone are defined for any channel count
    out = ColorJitter(saturation=0.0, hue=0.0, p=1.0)(x, generator=seeded(0))
    assert out.shape == x.shape


def test_jitter_matches_sequential_per_sample_reference(rgb_batch):
    jitter = ColorJitter(brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2, p=1.0)
    out = jitter(rgb_batch, generator=seeded(4))
    params = jitter.sample(rgb_batch.shape, seeded(4))  # p = 1 draws no gate: same stream
    functions = {"brightness": TF.adjust_brightness, "contrast": TF.adjust_contrast,
                 "saturation": TF.adjust_saturation, "hue": TF.adjust_hue}
    names = ["brightness", "contrast", "saturation", "hue"]
    assert len({tuple(row) for row in params["order"].tolist()}) > 1  # orders differ per sample
    for i in range(6):
        expected = rgb_batch[i]
        for k in params["order"][i].tolist():
            expected = functions[names[k]](expected, float(params[names[k]][i]))
        torch.testing.assert_close(out[i], expected, atol=5 * TORCHVISION_ATOL, rtol=0)


def test_jitter_in_fixed_order_matches_reference(rgb_batch):
    jitter = ColorJitter(brightness=0.5, contrast=0.0, saturation=0.5, hue=0.1, p=1.0, random_order=False)
    out = jitter(rgb_batch, generator=seeded(5))
    params = jitter.sample(rgb_batch.shape, seeded(5))
    expected = adjust_hue(adjust_saturation(adjust_brightness(rgb_batch, params["brightness"]),
                                            params["saturation"]), params["hue"])
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_jitter_per_sample_and_grouped_stages_give_the_same_values(rgb_batch):
    # The CPU adjusts sample by sample; accelerators regroup the batch at every stage.
    for jitter in (ColorJitter(p=0.5), ColorJitter(contrast=0.0, hue=0.1, p=0.7)):
        gate, params = jitter.draw(rgb_batch.shape, seeded(9))
        assert 0 < int(gate.sum()) < len(gate)
        per_sample = jitter.run(rgb_batch, gate, params)
        grouped = jitter._run_stages(rgb_batch, params, gate)
        torch.testing.assert_close(per_sample, grouped, rtol=0, atol=0)
        assert not torch.equal(per_sample, rgb_batch)


def test_jitter_factors_lie_in_their_ranges():
    params = ColorJitter.from_strength(0.5).sample(torch.Size([4000, 3, 1, 1]), seeded(6))
    for name in ("brightness", "contrast", "saturation"):
        assert params[name].min() >= 0.6 and params[name].max() <= 1.4
        assert params[name].min() < 0.62 and params[name].max() > 1.38
    assert params["hue"].abs().max() <= 0.1 and params["hue"].abs().max() > 0.098


def test_jitter_probability_gates_whole_samples():
    x = torch.rand(64, 3, 4, 4, generator=seeded(7))
    out = ColorJitter(p=0.5)(x, generator=seeded(8))
    kept = torch.tensor([torch.equal(out[i], x[i]) for i in range(64)])
    assert 16 < int(kept.sum()) < 48


def test_from_strength_uses_simclr_amplitudes():
    jitter = ColorJitter.from_strength(0.5, p=0.8)
    assert (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue, jitter.p) == pytest.approx(
        (0.4, 0.4, 0.4, 0.1, 0.8)
    )
    with pytest.raises(ValueError, match="hue"):
        ColorJitter(hue=0.7)
