"""Bad inputs as users produce them: image folders with broken and unusual files, and caption
files with structural mistakes. Shared by the tests and ``benchmarks/reliability.py``."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header for a ``width`` x ``height`` RGB image with almost no pixel data: the
    shape of a decompression bomb, which must be refused from its header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def write_unusual_images(folder: Path) -> list[str]:
    """Decodable files in every awkward colour mode; returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(folder / "cmyk.jpg", quality=95)
    Image.new("RGB", (16, 16), (0, 0, 255)).convert("P", palette=Image.Palette.ADAPTIVE,
                                                      colors=4).save(folder / "palette.png")
    Image.fromarray(np.full((16, 16), 40000, dtype=np.uint16)).save(folder / "gray16.png")
    Image.new("L", (16, 16), 77).save(folder / "gray.png")
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[:, :8] = (0, 255, 0, 255)
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    Image.new("LA", (16, 16), (90, 128)).save(folder / "gray_alpha.png")
    Image.new("1", (16, 16), 1).save(folder / "bilevel.png")
    Image.new("RGB", (40, 12), (200, 100, 0)).save(folder / "wide.webp")
    return ["cmyk.jpg", "palette.png", "gray16.png", "gray.png", "rgba.png", "gray_alpha.png",
            "bilevel.png", "wide.webp"]


def write_bad_images(folder: Path) -> list[str]:
    """Files no decoder can use, including a pipe (opening it would block) and a broken link;
    returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), (255, 0, 0)).save(folder / "whole.png")
    whole = (folder / "whole.png").read_bytes()
    (folder / "whole.png").unlink()
    (folder / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (folder / "empty.png").write_bytes(b"")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (folder / "notes.jpg").write_text("this is a text file with an image name\n")
    (folder / "bomb.png").write_bytes(png_claiming(60_000, 60_000))  # 3.6 gigapixels
    (folder / "bomb_small.png").write_bytes(png_claiming(10_000, 10_000))  # 1-2x the PIL limit
    names = ["truncated.png", "empty.png", "corrupt.png", "notes.jpg", "bomb.png", "bomb_small.png"]
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.png")
        names.append("pipe.png")
    os.symlink(folder / "nowhere.png", folder / "dangling.png")
    return names + ["dangling.png"]


def write_plain_images(folder: Path, n: int, seed: int = 0) -> None:
    """``n`` small random RGB PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")


def write_caption_images(folder: Path, n: int = 16) -> list[str]:
    """``n`` 28x28 gray PNGs for caption files, and ``img/notes.png``, a text file; returns the
    images' names relative to ``folder``."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    (folder / "img" / "notes.png").write_text("not an image\n")
    for i in range(n):
        Image.new("L", (28, 28), 10 + 15 * i).save(folder / "img" / f"{i}.png")
    return [f"img/{i}.png" for i in range(n)]


def _csv(rows: list[tuple[str, str]], header: str = "image,caption") -> bytes:
    return (header + "\n" + "".join(f"{image},{caption}\n" for image, caption in rows)).encode()


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def caption_file_cases(images: list[str]) -> list[tuple[str, str, bytes, str]]:
    """``(name, suffix, content, expected message fragment)`` of malformed caption files; the
    fragment names the line where there is one. ``images`` exist (at least 4)."""
    good = [(im, f"a gray square number {i}") for i, im in enumerate(images)]
    rows = [{"image": im, "caption": c} for im, c in good]
    return [
        ("missing image file", ".csv", _csv(good[:3] + [("img/nope.png", "gone")]), "line 5"),
        ("missing column", ".csv", _csv(good, header="image,text"), "missing column 'caption'"),
        ("empty caption", ".csv", _csv(good[:2] + [(images[2], "  ")]), "line 4: empty caption"),
        ("non-UTF-8 bytes", ".csv", _csv(good[:2]) + b"img/0.png,caf\xe9 au lait\n", "line 4: not UTF-8"),
        ("short row", ".csv", _csv(good[:2]) + b"img/0.png\n", "line 4: row has fewer fields"),
        ("image that is not an image", ".csv", _csv(good[:2] + [("img/notes.png", "text")]), "line 4"),
        ("invalid JSON", ".jsonl", _jsonl(rows[:2]) + b"{oops\n", "line 3: invalid JSON"),
        ("missing field", ".jsonl", _jsonl(rows[:2] + [{"image": images[0]}]), "line 3: missing field"),
        ("caption not text", ".jsonl", _jsonl(rows[:1] + [{"image": images[0], "caption": 7}]), "line 2"),
        ("not an object", ".jsonl", _jsonl(rows[:1]) + b'["img/0.png", "x"]\n', "line 2: expected a JSON object"),
        ("empty caption list", ".jsonl", _jsonl([{"image": images[0], "caption": []}]), "line 1"),
        ("empty file", ".jsonl", b"", "no captions"),
        ("non-UTF-8 JSON", ".jsonl", _jsonl(rows[:1]) + b'{"image": "img/0.png", "caption": "\xff"}\n',
         "line 2: not UTF-8"),
    ]


def long_caption_rows(images: list[str], length: int = 10_000) -> bytes:
    """A CSV whose captions are ``length`` characters long, in several scripts."""
    pieces = ["a gray square ", "ünïcödé ", "漢字かな ", "😀🎉 ", "x" * 50 + " "]
    rows = []
    for i, image in enumerate(images):
        text = "".join(pieces[(i + k) % len(pieces)] for k in range(length))[:length]
        rows.append((image, '"' + text.replace('"', '""') + '"'))
    return _csv(rows)


def corrupt_shard_images(shards: list[Path], every: int) -> int:
    """Replace the image of every ``every``-th sample in the tar ``shards`` by garbage bytes (the
    index stays as it was); returns how many samples were spoiled."""
    import io
    import tarfile

    spoiled = 0
    for shard in shards:
        with tarfile.open(shard) as tar:
            members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
        with tarfile.open(shard, "w") as tar:
            images = 0
            for member, data in members:
                if member.name.endswith(".png"):
                    images += 1
                    if images % every == 0:
                        data, spoiled = b"\x89PNG garbage", spoiled + 1
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
    return spoiled
