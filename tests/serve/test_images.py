import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from simclip.serve.images import (ImageDecodeError, decode_image_bytes, find_images, open_image_file,
                                  resolve_image_files)
from simclip.serve.app import upload_decode_side
from simclip.serve.batcher import BatchingEmbedder
from tests.serve.conftest import FakeEmbedder, draw_shape, png_bytes


def _png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width x height`` pixels (a decompression-bomb header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def test_find_images_walks_recursively_skips_hidden_and_non_images(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for rel in ("x.png", "a/y.JPG", "a/b/z.webp", ".hidden/h.png", "a/.dot.png", "a/readme.txt"):
        (tmp_path / rel).write_bytes(b"")
    assert find_images(tmp_path) == ["a/b/z.webp", "a/y.JPG", "x.png"]


def test_find_images_drops_symlinks_leading_outside_the_root(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"")
    (root / "inside.png").write_bytes(b"")
    os.symlink(outside / "secret.png", root / "escape.png")
    os.symlink(root / "inside.png", root / "alias.png")
    os.symlink(outside, root / "linked_dir")
    assert find_images(root) == ["alias.png", "inside.png"]


def test_find_images_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_images(tmp_path / "nowhere")


def test_resolve_image_files_refuses_paths_outside_root(tmp_path):
    (tmp_path / "root" / "sub").mkdir(parents=True)
    (tmp_path / "root" / "sub" / "a.png").write_bytes(b"")
    (tmp_path / "other.png").write_bytes(b"")
    assert resolve_image_files(tmp_path / "root", [tmp_path / "root" / "sub"]) == ["sub/a.png"]
    with pytest.raises(ValueError, match="outside"):
        resolve_image_files(tmp_path / "root", [tmp_path / "other.png"])


def test_decode_roundtrips_a_png():
    image = draw_shape("circle", (255, 0, 0), 8, image_size=20)
    decoded = decode_image_bytes(png_bytes(image))
    assert decoded.mode == "RGB" and decoded.size == (20, 20)
    assert np.array_equal(np.asarray(decoded), np.asarray(image))


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"definitely not an image", "not a decodable image"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not"),
])
def test_decode_refuses_garbage_with_a_reason(data, message):
    with pytest.raises(ImageDecodeError, match=message):
        decode_image_bytes(data)


def test_decode_refuses_truncated_png():
    data = png_bytes(draw_shape("square", (0, 0, 255), 8))
    with pytest.raises(ImageDecodeError, match="not a decodable image .corrupt or truncated"):
        decode_image_bytes(data[: len(data) // 2])


def test_decode_refuses_decompression_bomb_before_decoding():
    with pytest.raises(ImageDecodeError, match="exceeds the limit"):
        decode_image_bytes(_png_claiming_size(30_000, 30_000))
    with pytest.raises(ImageDecodeError, match="exceeds the limit"):
        decode_image_bytes(png_bytes(Image.new("RGB", (50, 50))), max_pixels=49 * 50)


def test_open_image_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    with pytest.raises(ImageDecodeError, match="bad.png"):
        open_image_file(bad)
    good = tmp_path / "good.png"
    Image.new("L", (5, 4)).save(good)
    assert open_image_file(good).mode == "RGB"


def _photo_jpeg(width: int = 640, height: int = 480) -> bytes:
    """A photo-like JPEG: smooth colour fields, a few discs, sensor-like noise."""
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8))
    pixels = np.asarray(image.resize((width, height), Image.BICUBIC), np.float64)
    pixels += rng.normal(0, 8, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def test_large_jpeg_uploads_are_decoded_at_a_reduced_size_close_to_the_full_decode(clip_embedder):
    """The service decodes uploads at twice the model's input side (32 for the tiny CLIP): a 640x480
    JPEG at 1/4 (libjpeg's DCT scaling), and its embedding stays within cosine 0.999 of the full decode."""
    data = _photo_jpeg()
    side = upload_decode_side(clip_embedder)
    assert side == 2 * clip_embedder.preprocess.cfg.image_size == 64
    batching = BatchingEmbedder(clip_embedder, max_batch=2)
    assert upload_decode_side(batching) == side
    batching.close()
    assert upload_decode_side(FakeEmbedder()) is None  # no input side known: full size
    reduced, full = decode_image_bytes(data, min_side=side), decode_image_bytes(data)
    assert (reduced.size, full.size) == ((160, 120), (640, 480))
    cosine = float((clip_embedder.embed_images([reduced]) * clip_embedder.embed_images([full])).sum())
    assert cosine > 0.999
    png = png_bytes(draw_shape("circle", (1, 2, 3), 9, image_size=200))
    assert decode_image_bytes(png, min_side=side).size == (200, 200)  # only JPEG has a reduced decode
