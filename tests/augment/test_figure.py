"""The Figure 4 grid and reading image files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from simclip.augment import PANEL_LABELS, augmentation_grid, augmentation_panels, load_image


def test_grid_png_is_written_and_is_a_valid_image(tmp_path, rgb_batch):
    image = (rgb_batch[0] * 255).round().to(torch.uint8)
    path = augmentation_grid(image, tmp_path / "figs" / "grid.png", seed=1, size=32)
    assert path == tmp_path / "figs" / "grid.png"
    with Image.open(path) as png:
        png.verify()
    with Image.open(path) as png:
        assert png.format == "PNG" and png.width > png.height > 200
        pixels = np.asarray(png.convert("L"))
        assert pixels.std() > 10  # something was drawn


def test_grid_works_for_one_channel_float_images(tmp_path, gray_batch):
    path = augmentation_grid(gray_batch[0], tmp_path / "gray.png", seed=0)
    assert path.stat().st_size > 1000


def test_grid_rejects_a_non_png_path(tmp_path, gray_batch):
    with pytest.raises(ValueError, match="png"):
        augmentation_grid(gray_batch[0], tmp_path / "grid.jpg")


def test_panels_are_the_ten_operators_in_order(rgb_batch):
    panels = augmentation_panels(rgb_batch[0], seed=2, size=20)
    assert [label for label, _ in panels] == list(PANEL_LABELS)
    assert [label[:3] for label, _ in panels] == [f"({c})" for c in "abcdefghij"]
    original = panels[0][1]
    for label, panel in panels:
        assert panel.shape == (3, 20, 20), label
        assert panel.min() >= 0 and panel.max() <= 1, label
        if label != PANEL_LABELS[0]:
            assert not torch.allclose(panel, original), label
    drop = panels[3][1]
    assert torch.equal(drop[0], drop[1]) and torch.equal(drop[1], drop[2])


def test_panels_are_reproducible_from_the_seed(rgb_batch):
    first = augmentation_panels(rgb_batch[1], seed=3)
    again = augmentation_panels(rgb_batch[1], seed=3)
    other = augmentation_panels(rgb_batch[1], seed=4)
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(first, again))
    assert not all(torch.equal(a, b) for (_, a), (_, b) in zip(first, other))


def test_panels_crop_non_square_images_to_their_centre():
    image = torch.zeros(3, 10, 16, dtype=torch.uint8)
    image[:, :, 3:13] = 200
    original = augmentation_panels(image)[0][1]
    assert original.shape == (3, 10, 10)
    torch.testing.assert_close(original, torch.full((3, 10, 10), 200 / 255))


def test_panels_reject_images_that_are_not_gray_or_rgb():
    with pytest.raises(ValueError, match="C 1 or 3"):
        augmentation_panels(torch.zeros(4, 8, 8))


@pytest.mark.parametrize("mode, channels", [("RGB", 3), ("L", 1), ("RGBA", 3), ("P", 3)])
def test_load_image_reads_gray_and_colour_files(tmp_path, mode, channels):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    image = Image.fromarray(rgb).convert(mode)
    path = tmp_path / "image.png"
    image.save(path)
    loaded = load_image(path)
    assert loaded.dtype == torch.uint8 and loaded.shape == (channels, 9, 7)
    expected = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    assert np.array_equal(loaded.permute(1, 2, 0).numpy().squeeze(), expected)


def test_load_image_scales_sixteen_bit_gray(tmp_path):
    array = np.array([[0, 65535], [257 * 100, 257 * 7]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(array).save(path)
    assert load_image(path)[0].tolist() == [[0, 255], [100, 7]]


def test_load_image_names_the_missing_or_unreadable_file(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image(missing)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="junk.png"):
        load_image(junk)
