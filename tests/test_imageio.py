"""One image decoder: a corpus of awkward files (EXIF-rotated JPEG, 16-bit PNG, CMYK JPEG, palette
PNG with transparency) gives the same tensor through every way an image enters simclip: datasets
(folders, caption files), shards, ``augment``/``zeroshot``/``plot topk``'s ``load_image``, the
index builder and the service's uploads."""

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from simclip import imageio
from simclip.augment import load_image
from simclip.data import load_caption_dataset, load_dataset
from simclip.data.shards.decode import SampleFormat
from simclip.data.shards.tar_samples import RawSample
from simclip.errors import SimclipError
from simclip.serve.images import decode_image_bytes, open_image_file

SIDE = 16


def _pattern() -> np.ndarray:
    """RGB ``[SIDE, SIDE, 3]`` with no symmetry: a wrong rotation or flip changes it."""
    rgb = np.zeros((SIDE, SIDE, 3), np.uint8)
    rgb[:, :, 0] = np.arange(SIDE)[None, :] * 15
    rgb[:, :, 1] = np.arange(SIDE)[:, None] * 15
    rgb[:4, :8, 2] = 255
    return rgb


def write_corpus(folder):
    folder.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(_pattern()).save(folder / "rotated.jpg", exif=exif, quality=95)
    wide = (np.arange(SIDE * SIDE, dtype=np.uint16).reshape(SIDE, SIDE) * 257)  # up to 65535
    Image.fromarray(wide).save(folder / "sixteen.png")
    Image.fromarray(_pattern()).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    palette = Image.fromarray(_pattern()).quantize(16)
    palette.info["transparency"] = 0  # palette entry 0 is transparent
    palette.save(folder / "palette.png", transparency=0)
    return ["cmyk.jpg", "palette.png", "rotated.jpg", "sixteen.png"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus") / "images"
    names = write_corpus(folder)
    expected = {name: imageio.decode_image(folder / name) for name in names}  # [3, H, W]
    return folder, names, expected


def test_the_corpus_decodes_as_documented(corpus):
    folder, _, expected = corpus
    stored = np.asarray(Image.open(folder / "rotated.jpg").convert("RGB"))
    # EXIF orientation 6: the stored image turned 90 degrees clockwise.
    shown = expected["rotated.jpg"].permute(1, 2, 0).numpy().astype(int)
    assert np.abs(shown - np.rot90(stored, k=-1).astype(int)).max() == 0
    assert np.abs(shown - stored.astype(int)).max() > 100
    sixteen = expected["sixteen.png"]
    assert torch.equal(sixteen[0], sixteen[1]) and int(sixteen.max()) == 255  # scaled, not clipped
    assert int(sixteen[0, 0, 0]) == 0 and int(sixteen[0, SIDE - 1, SIDE - 1]) == 255
    assert len(torch.unique(sixteen[0])) > 200  # PIL's convert("L") would make nearly all of it 255
    palette = expected["palette.png"]
    transparent = np.asarray(Image.open(folder / "palette.png")) == 0
    assert transparent.any() and bool((palette.permute(1, 2, 0).numpy()[transparent] == 255).all())
    assert expected["cmyk.jpg"].shape == (3, SIDE, SIDE)


def test_every_path_gives_the_same_tensor(corpus, tmp_path):
    folder, names, expected = corpus
    for name in names:
        path, data = folder / name, (folder / name).read_bytes()
        ways = {
            "bytes": imageio.decode_image(data),
            "load_image": load_image(path).expand(3, -1, -1),  # gray files keep one channel there
            "serve file": torch.from_numpy(np.array(open_image_file(path))).permute(2, 0, 1),
            "serve upload": torch.from_numpy(np.array(decode_image_bytes(data))).permute(2, 0, 1),
            "shard sample": torch.from_numpy(SampleFormat((), 3, SIDE, False, False).pixels(
                RawSample("shard.tar", "0", {name.rsplit(".", 1)[1]: data}))).permute(2, 0, 1),
        }
        for way, tensor in ways.items():
            assert torch.equal(tensor, expected[name]), (name, way)
    folder_data = load_dataset(f"folder:{folder}")
    assert folder_data.bad_files == [] and folder_data.images.shape == (4, 3, SIDE, SIDE)
    for i, name in enumerate(names):  # files are read in sorted order
        assert torch.equal(folder_data.images[i], expected[name]), ("folder", name)
    captions = tmp_path / "captions.jsonl"
    captions.write_text("".join(json.dumps({"image": str(folder / n), "caption": n}) + "\n" for n in names))
    caption_data = load_caption_dataset(f"captions:{captions}")
    for i, name in enumerate(names):
        assert torch.equal(caption_data.images[i], expected[name]), ("captions", name)
    assert caption_data.files == [str(folder / n) for n in names]


def test_gray_channel_and_auto_channels(corpus):
    folder, _, expected = corpus
    gray = imageio.decode_image(folder / "sixteen.png", channels=None)
    assert gray.shape == (1, SIDE, SIDE) and torch.equal(gray[0], expected["sixteen.png"][0])
    assert imageio.decode_image(folder / "cmyk.jpg", channels=None).shape[0] == 3


def test_errors_are_one_class_naming_the_source(tmp_path):
    from simclip.data import ImageDecodeError as DataError
    from simclip.serve import ImageDecodeError as ServeError

    assert DataError is ServeError is imageio.ImageDecodeError
    assert issubclass(imageio.ImageDecodeError, SimclipError) and issubclass(imageio.ImageDecodeError, ValueError)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(imageio.ImageDecodeError, match=r"junk.png: not a decodable image"):
        imageio.decode_array(junk)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
    with pytest.raises(imageio.ImageDecodeError, match="upload: not a decodable image"):
        imageio.decode_array(eps)
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "PNG")
    with pytest.raises(imageio.ImageDecodeError, match=r"upload: 10x10 pixels exceeds the limit of 99 pixels"):
        imageio.decode_array(buffer.getvalue(), max_pixels=99)
    with pytest.raises(imageio.ImageDecodeError, match=r"not one of JPEG\)"):
        imageio.decode_array(buffer.getvalue(), formats={"JPEG"})
    with pytest.raises(FileNotFoundError):
        imageio.decode_array(tmp_path / "missing.png")
