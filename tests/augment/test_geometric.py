"""Crop+resize, flip and rotation: defining properties and a float64 reference for the crop."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms import RandomResizedCrop as TorchvisionRandomResizedCrop

from simclip.augment import (
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomRotation90,
    resized_crop,
    sample_crop_boxes,
)
from simclip.augment.geometric import resized_crop_uint8
from tests.augment.conftest import seeded


def reference_resized_crop(x: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Naive float64 bilinear crop+resize: output pixel centres mapped onto the box, clamped to
    the box (the crop resized on its own, as torchvision's ``resized_crop``)."""
    b, c, height, width = x.shape
    out = torch.zeros(b, c, *size, dtype=torch.float64)
    x = x.double()
    for i in range(b):
        top, left, h, w = (float(v) for v in boxes[i])
        for u in range(size[0]):
            sy = min(max(top + (u + 0.5) * h / size[0] - 0.5, top), top + h - 1)
            y0 = int(math.floor(sy))
            y1, wy = min(y0 + 1, height - 1), sy - y0
            for v in range(size[1]):
                sx = min(max(left + (v + 0.5) * w / size[1] - 0.5, left), left + w - 1)
                x0 = int(math.floor(sx))
                x1, wx = min(x0 + 1, width - 1), sx - x0
                out[i, :, u, v] = (
                    x[i, :, y0, x0] * (1 - wy) * (1 - wx)
                    + x[i, :, y0, x1] * (1 - wy) * wx
                    + x[i, :, y1, x0] * wy * (1 - wx)
                    + x[i, :, y1, x1] * wy * wx
                )
    return out


def test_full_square_crop_at_input_size_is_identity(rgb_batch):
    crop = RandomResizedCrop(16, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    out = crop(rgb_batch, generator=seeded(0))
    torch.testing.assert_close(out, rgb_batch, atol=1e-6, rtol=0)


def test_resized_crop_matches_float64_reference(rgb_batch):
    boxes = sample_crop_boxes(6, 16, 16, (0.08, 1.0), (3 / 4, 4 / 3), seeded(1))
    for size in [(16, 16), (7, 11)]:
        out = resized_crop(rgb_batch, boxes, size)
        ref = reference_resized_crop(rgb_batch, boxes, size)
        torch.testing.assert_close(out.double(), ref, atol=2e-6, rtol=0)


def test_uint8_crop_is_the_float_crop_within_one_gray_level():
    images = torch.randint(0, 256, (40, 3, 30, 26), dtype=torch.uint8, generator=seeded(11))
    boxes = sample_crop_boxes(40, 30, 26, (0.08, 1.0), (3 / 4, 4 / 3), seeded(12))
    mirror = torch.rand(40, generator=seeded(13)) < 0.5
    for size in [(16, 16), (40, 36), (7, 11)]:  # down- and upsampling
        exact = resized_crop(images.float() / 255, boxes, size, mirror)
        eight_bit = resized_crop_uint8(images, boxes, size, mirror)
        assert eight_bit.dtype == torch.float32 and eight_bit.shape == exact.shape
        assert float((eight_bit - exact).abs().max()) * 255 <= 1.0 + 1e-3, size
    # sources: sample k crops image sources[k], as the views of a tiled batch do
    sources = torch.arange(40).remainder_(10)
    tiled = resized_crop_uint8(images[:10], boxes, (16, 16), mirror, sources)
    assert torch.equal(tiled, resized_crop_uint8(images[sources], boxes, (16, 16), mirror))


def test_crop_boxes_fit_and_follow_scale_and_ratio():
    boxes = sample_crop_boxes(2000, 40, 30, (0.2, 0.6), (3 / 4, 4 / 3), seeded(2))
    top, left, h, w = boxes.unbind(1)
    assert bool((h >= 1).all() and (w >= 1).all())
    assert bool((top >= 0).all() and (left >= 0).all())
    assert bool((top + h <= 40).all() and (left + w <= 30).all())
    area = (h * w).double() / (40 * 30)
    # rounding w and h to pixels moves the area and the ratio a little past the sampled ranges
    assert area.min() > 0.2 - 0.05 and area.max() < 0.6 + 0.05
    ratio = w.double() / h.double()
    assert ratio.min() > 0.75 - 0.1 and ratio.max() < 4 / 3 + 0.1


def test_crop_box_statistics_match_torchvision():
    boxes = sample_crop_boxes(4000, 32, 32, (0.08, 1.0), (3 / 4, 4 / 3), seeded(3))
    torch.manual_seed(3)
    image = torch.empty(1, 32, 32)
    get_params = TorchvisionRandomResizedCrop.get_params
    reference = torch.tensor([get_params(image, [0.08, 1.0], [3 / 4, 4 / 3]) for _ in range(4000)])
    for column in range(4):  # top, left, height, width; same order in both
        mine, theirs = boxes[:, column].double(), reference[:, column].double()
        assert abs(mine.mean() - theirs.mean()) < 0.6, column
        assert abs(mine.std() - theirs.std()) < 0.6, column


def test_crop_falls_back_to_central_crop_when_no_try_fits():
    # aspect 10..20 never fits a 16x16 image at 90-100% area: torchvision's fallback clamps the
    # aspect to 10, giving a full-width 2-row band in the middle
    boxes = sample_crop_boxes(5, 16, 16, (0.9, 1.0), (10.0, 20.0), seeded(4))
    assert boxes.tolist() == [[7, 0, 2, 16]] * 5


def test_crops_differ_across_samples_of_one_call(rgb_batch):
    same_image = rgb_batch[:1].expand(8, -1, -1, -1)
    out = RandomResizedCrop(16)(same_image, generator=seeded(5))
    distinct = {tuple(out[i].flatten()[:50].tolist()) for i in range(8)}
    assert len(distinct) == 8


def test_crop_changes_the_size(gray_batch):
    out = RandomResizedCrop((5, 9))(gray_batch, generator=seeded(6))
    assert out.shape == (6, 1, 5, 9)


@pytest.mark.parametrize("bad", [dict(size=0), dict(size=8, scale=(0.5, 0.1)), dict(size=8, ratio=(0.0, 1.0))])
def test_crop_rejects_bad_arguments(bad):
    with pytest.raises(ValueError):
        RandomResizedCrop(**bad)


def test_flip_twice_is_identity(rgb_batch):
    flip = RandomHorizontalFlip(p=1.0)
    once = flip(rgb_batch, generator=seeded(0))
    torch.testing.assert_close(once, rgb_batch.flip(-1), rtol=0, atol=0)
    torch.testing.assert_close(flip(once, generator=seeded(1)), rgb_batch, rtol=0, atol=0)


def test_flip_with_p_half_flips_some_samples_and_keeps_the_rest():
    x = torch.rand(64, 1, 4, 5, generator=seeded(8))
    out = RandomHorizontalFlip(p=0.5)(x, generator=seeded(9))
    flipped = torch.tensor([torch.equal(out[i], x[i].flip(-1)) for i in range(64)])
    kept = torch.tensor([torch.equal(out[i], x[i]) for i in range(64)])
    assert bool((flipped ^ kept).all())
    assert 16 < int(flipped.sum()) < 48


def test_four_quarter_turns_are_identity(rgb_batch):
    turn = RandomRotation90(angles=(90,))
    out = rgb_batch
    for step in range(4):
        out = turn(out, generator=seeded(step))
        if step == 0:
            torch.testing.assert_close(out, torch.rot90(rgb_batch, 1, dims=(2, 3)), rtol=0, atol=0)
    torch.testing.assert_close(out, rgb_batch, rtol=0, atol=0)


def test_each_random_rotation_is_90_180_or_270_and_all_occur():
    x = torch.rand(60, 2, 6, 6, generator=seeded(10))
    out = RandomRotation90()(x, generator=seeded(11))
    seen = set()
    for i in range(60):
        matches = [k for k in (1, 2, 3) if torch.equal(out[i], torch.rot90(x[i], k, dims=(1, 2)))]
        assert len(matches) == 1, i
        seen.add(matches[0])
    assert seen == {1, 2, 3}


def test_rotation_by_90_needs_square_images():
    x = torch.rand(2, 3, 4, 6)
    with pytest.raises(ValueError, match="square"):
        RandomRotation90()(x)
    out = RandomRotation90(angles=(180,))(x)
    torch.testing.assert_close(out, torch.rot90(x, 2, dims=(2, 3)), rtol=0, atol=0)


def test_rotation_rejects_other_angles():
    with pytest.raises(ValueError, match="angles"):
        RandomRotation90(angles=(45,))


@pytest.mark.parametrize("height, width", [(28, 28), (20, 32)])
def test_small_rotation_matches_torchvision_per_sample(height, width):
    import torchvision.transforms.v2.functional as TF

    x = torch.rand(3, 2, height, width, generator=seeded(3))
    angles = torch.tensor([25.0, -10.0, 0.0])
    out = RandomRotation(30).apply(x, {"angles": angles})
    for image, rotated, angle in zip(x, out, angles.tolist()):
        want = TF.rotate(image, angle, interpolation=TF.InterpolationMode.BILINEAR)
        torch.testing.assert_close(rotated, want, atol=1e-5, rtol=0)
    torch.testing.assert_close(out[2], x[2], atol=1e-5, rtol=0)  # 0 degrees: the identity


def test_small_rotation_draws_an_angle_per_sample_in_range_and_repeats_under_a_seed():
    op = RandomRotation((-20, 5))
    angles = op.sample(torch.Size([500, 1, 8, 8]), seeded(0))["angles"]
    assert angles.min() >= -20 and angles.max() <= 5 and angles.unique().numel() == 500
    x = torch.rand(4, 1, 16, 16, generator=seeded(1))
    torch.testing.assert_close(op(x, seeded(9)), op(x, seeded(9)))
    with pytest.raises(ValueError, match="degrees"):
        RandomRotation(-3)


def test_uint8_crop_without_8_bit_resampling_falls_back_to_rounded_floats(monkeypatch):
    import torch.nn.functional as F

    from simclip.augment import geometric

    images = torch.randint(0, 256, (6, 3, 20, 18), dtype=torch.uint8, generator=seeded(14))
    boxes = sample_crop_boxes(6, 20, 18, (0.08, 1.0), (3 / 4, 4 / 3), seeded(15))
    native = resized_crop_uint8(images, boxes, (12, 12))
    real = F.interpolate

    def float_only(x, *args, **kwargs):
        if x.dtype == torch.uint8:
            raise RuntimeError("upsample_bilinear2d_out_frame not implemented for 'Byte'")
        return real(x, *args, **kwargs)

    monkeypatch.setattr(geometric.F, "interpolate", float_only)
    fallback = resized_crop_uint8(images, boxes, (12, 12))
    assert float((fallback - native).abs().max()) * 255 <= 1.0 + 1e-3
    assert torch.equal(fallback * 255, (fallback * 255).round())  # still 8-bit values
