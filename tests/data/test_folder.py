"""Image folders: layouts, every PIL colour mode, bad files, strictness and decompression bombs."""
import numpy as np
import pytest
import torch
from PIL import Image

from simclip.data import FolderLayoutError, ImageDecodeError, load_caption_dataset, load_dataset
from simclip.imageio import decode_array, image_size

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def solid(mode, size, colour):
    return Image.new(mode, size, colour)


def write_modes(folder):
    """One 16x16 file per colour mode; returns name -> expected RGB of the centre pixel."""
    folder.mkdir(parents=True, exist_ok=True)
    solid("RGB", (16, 16), RED).save(folder / "rgb.png")
    solid("CMYK", (16, 16), (0, 255, 255, 0)).save(folder / "cmyk.jpg", quality=95)
    palette = solid("RGB", (16, 16), BLUE).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    palette.save(folder / "palette.png")
    wide = Image.fromarray(np.full((16, 16), 32896, dtype=np.uint16))  # 0.502 of 65535
    assert wide.mode == "I;16"
    wide.save(folder / "gray16.png")
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[:, :8] = (0, 255, 0, 255)  # left half opaque green, right half transparent black
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    solid("L", (16, 16), 77).save(folder / "gray.jpg", quality=95)
    solid("1", (16, 16), 1).save(folder / "bilevel.png")
    keyed = Image.new("P", (16, 16), 0)
    keyed.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    keyed.paste(1, (0, 0, 16, 8))  # top half index 1 (red), bottom half index 0 (transparent)
    keyed.save(folder / "palette_alpha.png", transparency=0)
    return {"rgb.png": RED, "cmyk.jpg": RED, "palette.png": BLUE, "gray16.png": (128, 128, 128),
            "rgba.png": GREEN, "gray.jpg": (77, 77, 77), "bilevel.png": (255, 255, 255),
            "palette_alpha.png": RED}


def write_bad(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.png").write_bytes(b"")
    solid("RGB", (16, 16), RED).save(folder / "whole.png")
    data = (folder / "whole.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "whole.png").unlink()
    (folder / "notes.txt").write_text("not an image")
    return ["empty.png", "notes.txt", "truncated.png"]


def test_every_colour_mode_decodes_right(tmp_path):
    expected = write_modes(tmp_path / "modes")
    for name, colour in expected.items():
        pixels = decode_array(tmp_path / "modes" / name)
        assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint8
        assert np.abs(pixels[5, 3].astype(int) - colour).max() <= 3, name
    # Transparent pixels become white, not the black stored under them.
    assert tuple(decode_array(tmp_path / "modes" / "rgba.png")[5, 12]) == (255, 255, 255)
    assert tuple(decode_array(tmp_path / "modes" / "palette_alpha.png")[12, 5]) == (255, 255, 255)
    gray = decode_array(tmp_path / "modes" / "rgb.png", channels=1)
    assert gray.shape == (16, 16, 1) and int(gray[0, 0, 0]) == 76  # ITU-R 601 luma of red


def test_labelled_folder_with_modes_and_bad_files(tmp_path):
    expected = write_modes(tmp_path / "cats")
    bad = write_bad(tmp_path / "dogs")
    solid("RGB", (16, 16), GREEN).save(tmp_path / "dogs" / "green.png")
    (tmp_path / "dogs" / ".DS_Store").write_bytes(b"\0\1")  # hidden: ignored, not bad
    with pytest.warns(UserWarning, match=r"skipped 3 of 12 files") as record:
        data = load_dataset(f"folder:{tmp_path}")
    assert "empty.png: not a decodable image (empty file)" in str(record[0].message)
    assert data.classes == ["cats", "dogs"] and len(data) == len(expected) + 1
    assert data.images.shape == (9, 3, 16, 16)  # all files share 16x16, so it is kept
    assert data.labels.tolist() == [0] * 8 + [1]
    assert sorted(p.rsplit("/", 1)[1] for p in data.bad_files) == bad
    order = sorted(expected)  # files are read in sorted order
    for i, name in enumerate(order):
        got = data.images[i, :, 5, 3].numpy().astype(int)
        assert np.abs(got - expected[name]).max() <= 3, name
    with pytest.raises(ImageDecodeError, match=r"dogs/empty.png: not a decodable image"):
        load_dataset(f"folder:{tmp_path}", strict=True)
    with pytest.raises(ImageDecodeError, match=r"dogs/empty.png"):
        load_dataset(f"folder:{tmp_path}?strict=1")


def test_truncated_file_named_when_strict(tmp_path):
    solid("RGB", (16, 16), RED).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes((tmp_path / "a.png").read_bytes()[:40])
    with pytest.raises(ImageDecodeError, match=r"b.png: not a decodable image"):
        load_dataset(f"folder:{tmp_path}", strict=True)


def test_flat_folder_is_unlabelled_and_mixed_sizes_fit_32(tmp_path):
    stripes = np.zeros((20, 60, 3), np.uint8)
    stripes[:, :20], stripes[:, 20:40], stripes[:, 40:] = BLUE, GREEN, RED
    Image.fromarray(stripes).save(tmp_path / "wide.png")
    solid("L", (50, 50), 200).save(tmp_path / "square.png")
    data = load_dataset(f"folder:{tmp_path}")
    assert data.labels is None and data.classes == [] and data.num_classes == 0
    assert data.images.shape == (2, 3, 32, 32)
    wide = data.images[1].permute(1, 2, 0).numpy().astype(int)
    # Shorter side to 32 and centre crop keep only the middle (green) third, up to edge blur.
    assert np.abs(wide[:, 4:28] - GREEN).max() <= 2
    assert torch.all(data.images[0] == 200)
    assert load_dataset(f"folder:{tmp_path}?size=8&channels=1").images.shape == (2, 1, 8, 8)
    with pytest.raises(FolderLayoutError, match="has no test split"):
        load_dataset(f"folder:{tmp_path}", "test")
    with pytest.raises(ValueError, match="unlabelled"):
        load_caption_dataset(f"folder:{tmp_path}")


def test_train_test_layout_shares_classes(tmp_path):
    for split, classes in (("train", ["ant", "bee", "cow"]), ("val", ["bee", "cow", "dog"])):
        for cls in classes:
            (tmp_path / split / cls).mkdir(parents=True)
            solid("RGB", (8, 8), RED).save(tmp_path / split / cls / "x.png")
    train = load_dataset(f"folder:{tmp_path}", "train")
    test = load_dataset(f"folder:{tmp_path}", "test")
    assert train.classes == test.classes == ["ant", "bee", "cow", "dog"]
    assert train.labels.tolist() == [0, 1, 2] and test.labels.tolist() == [1, 2, 3]
    assert train.image_size == 8
    captions = load_caption_dataset(f"folder:{tmp_path}", "test")
    assert "a photo of a dog." in captions.captions[2] and captions.labels.tolist() == [1, 2, 3]


def test_nested_files_and_files_outside_classes(tmp_path):
    (tmp_path / "cls" / "deeper").mkdir(parents=True)
    solid("RGB", (8, 8), RED).save(tmp_path / "cls" / "deeper" / "a.png")
    solid("RGB", (8, 8), RED).save(tmp_path / "loose.png")
    with pytest.warns(UserWarning, match="outside the class folders"):
        data = load_dataset(f"folder:{tmp_path}")
    assert len(data) == 1 and data.bad_files == [str(tmp_path / "loose.png")]
    with pytest.raises(FolderLayoutError, match="loose.png: lies outside the class folders"):
        load_dataset(f"folder:{tmp_path}", strict=True)


def test_empty_folder_errors(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.warns(UserWarning), pytest.raises(FolderLayoutError, match="no decodable images"):
        load_dataset(f"folder:{tmp_path}")


@pytest.mark.parametrize("limit", [100, 200])
def test_images_above_the_pixel_limit_rejected(tmp_path, monkeypatch, limit):
    solid("RGB", (16, 16), RED).save(tmp_path / "bomb.png")  # 256 pixels
    solid("RGB", (8, 8), RED).save(tmp_path / "fine.png")  # 64 pixels
    monkeypatch.setattr("simclip.imageio.DEFAULT_MAX_PIXELS", limit)
    with pytest.warns(UserWarning, match="exceeds the limit"):
        data = load_dataset(f"folder:{tmp_path}")
    assert len(data) == 1 and data.bad_files == [str(tmp_path / "bomb.png")]
    with pytest.raises(ImageDecodeError, match=rf"bomb.png: 16x16 pixels exceeds the limit of {limit} "):
        load_dataset(f"folder:{tmp_path}", strict=True)


def test_pil_decompression_bomb_error_becomes_a_decode_error(tmp_path, monkeypatch):
    solid("RGB", (16, 16), RED).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # PIL itself refuses above twice this
    with pytest.raises(ImageDecodeError, match=r"bomb.png: more than 200 pixels exceeds the limit"):
        load_dataset(f"folder:{tmp_path}", strict=True)


def test_exif_orientation_applied(tmp_path):
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[:, :10] = RED  # stored: left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", exif=exif, quality=95)
    assert image_size(tmp_path / "photo.jpg") == (10, 20)
    shown = decode_array(tmp_path / "photo.jpg")
    assert shown.shape == (20, 10, 3)
    assert shown[3, 5, 0] > 200 and shown[16, 5, 0] < 50  # red moved to the top
