"""The fast path into a dataset (reduced-size JPEG decoding, centre square resampled alone) against
PIL's full decode followed by resize-then-crop.

Tolerances, on photos (scikit-image's samples) saved as JPEG quality 90:
- no reduction possible (the size is more than half the shorter side): at most 1 grey level
  anywhere (the crop box's fractional coordinates round differently);
- reduced decoding: mean absolute difference at most 3 grey levels and PSNR at least 34 dB, which
  is less than bilinear and bicubic resizing of the same full decode differ on these photos.
"""
import io

import numpy as np
import pytest
import skimage.data
from PIL import Image

from simclip import imageio
from simclip.data.decode import decode_square, fit_square

MEAN_TOLERANCE, PSNR_TOLERANCE = 3.0, 34.0


def resize_then_crop(image, size):
    """The former fit_square: the whole image resized (bicubic), then the centre square cut."""
    height, width, channels = image.shape
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    pil = Image.fromarray(image[:, :, 0] if channels == 1 else image)
    pil = pil.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return np.asarray(pil.crop((left, top, left + size, top + size))).reshape(size, size, channels)


def photo_jpeg(name, width=500, height=375, exif=None):
    image = Image.fromarray(getattr(skimage.data, name)()).resize((width, height), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90, **({"exif": exif} if exif else {}))
    return buf.getvalue()


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-12))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
@pytest.mark.parametrize(("width", "height"), [(500, 375), (375, 500), (1024, 768)])
@pytest.mark.parametrize("size", [32, 64, 96, 160])
def test_reduced_decode_is_within_tolerance_of_full_decode_then_resize(name, width, height, size):
    data = photo_jpeg(name, width, height)
    reference = resize_then_crop(imageio.decode_array(data), size).astype(np.int16)
    reduced = imageio.decode_reduced(data, min_side=size)
    assert reduced.scale > 1, "the case must exercise DCT scaling"
    assert min(reduced.pixels.shape[:2]) >= size
    assert reduced.full_size == (width, height)
    fast = decode_square(data, size)
    assert fast.shape == (size, size, 3) and fast.dtype == np.uint8
    assert np.abs(fast - reference).mean() <= MEAN_TOLERANCE
    assert psnr(fast, reference) >= PSNR_TOLERANCE


@pytest.mark.parametrize("size", [200, 224, 375])
def test_without_a_possible_reduction_the_pixels_are_those_of_the_full_path(size):
    data = photo_jpeg("astronaut")
    assert imageio.decode_reduced(data, min_side=size).scale == 1
    reference = resize_then_crop(imageio.decode_array(data), size).astype(np.int16)
    assert np.abs(decode_square(data, size) - reference).max() <= 1


@pytest.mark.parametrize("shape", [(375, 500, 3), (500, 375, 1), (40, 30, 3), (30, 40, 1), (64, 64, 3)])
@pytest.mark.parametrize("size", [16, 32, 48])
def test_resampling_the_centre_square_alone_equals_resize_then_crop(shape, size):
    image = np.asarray(Image.fromarray(skimage.data.astronaut()).resize(shape[1::-1]))
    image = image[:, :, :1] if shape[2] == 1 else image
    got = fit_square(image, size).astype(np.int16)
    assert got.shape == (size, size, shape[2])
    assert np.abs(got - resize_then_crop(image, size)).max() <= 1


def test_exif_rotated_jpeg_is_reduced_and_turned_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    data = photo_jpeg("coffee", 500, 375, exif=exif)
    reduced = imageio.decode_reduced(data, min_side=64)
    assert reduced.full_size == (375, 500)
    assert reduced.scale == 4 and reduced.pixels.shape == (125, 94, 3)
    full = imageio.decode_array(data)
    assert full.shape == (500, 375, 3)
    fast = decode_square(data, 64)
    assert np.abs(fast - resize_then_crop(full, 64).astype(np.int16)).mean() <= MEAN_TOLERANCE


def test_other_formats_are_decoded_at_full_size(tmp_path):
    Image.fromarray(skimage.data.coffee()).save(tmp_path / "coffee.png")
    reduced = imageio.decode_reduced(tmp_path / "coffee.png", min_side=32)
    assert reduced.scale == 1 and reduced.pixels.shape == (400, 600, 3)
    assert np.array_equal(decode_square(tmp_path / "coffee.png", 32),
                          fit_square(imageio.decode_array(tmp_path / "coffee.png"), 32))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_min_side_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="min_side"):
        imageio.decode_array(photo_jpeg("coffee"), min_side=bad)


@pytest.mark.parametrize(("name", "channels"), [("astronaut", 3), ("camera", 1), ("coffee", None)])
def test_fast_jpeg_decode_gives_pils_pixels(name, channels):
    image = getattr(skimage.data, name)()
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=88)
    data = buf.getvalue()
    fast = imageio.decode_reduced(data, channels, fast_jpeg=True)
    slow = imageio.decode_reduced(data, channels)
    assert fast.pixels.dtype == np.uint8 and fast.pixels.flags.c_contiguous
    assert fast.scale == slow.scale == 1 and fast.full_size == slow.full_size
    assert np.array_equal(fast.pixels, slow.pixels)


def test_fast_jpeg_decode_leaves_conversions_rotations_and_bad_files_to_pil(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = photo_jpeg("coffee", 500, 375, exif=exif)
    assert np.array_equal(imageio.decode_reduced(rotated, fast_jpeg=True).pixels, imageio.decode_array(rotated))
    colour = photo_jpeg("coffee", 120, 90)
    assert np.array_equal(imageio.decode_reduced(colour, 1, fast_jpeg=True).pixels, imageio.decode_array(colour, 1))
    path = tmp_path / "cut.jpg"
    path.write_bytes(colour[: len(colour) // 2])
    with pytest.raises(imageio.ImageDecodeError, match="cut.jpg"):
        imageio.decode_reduced(path, fast_jpeg=True)
