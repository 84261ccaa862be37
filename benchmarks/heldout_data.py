"""Held-out data sets for judging default recipes: never used to choose a default, only to report.

Each is written as an image folder (``train/CLASS/*.png``, ``test/CLASS/*.png``) and read back
through ``folder:PATH``, the spec a user points at their own images, so the recipe rule sees them
exactly as it sees a user's data. All are pure functions of the seed below; a checksum of every
file is recorded so that a later run can show it used the same frozen sets.

- ``mnist-inverted-32``: MNIST digits, inverted (white background) and resized to 32x32, stored
  as RGB PNGs: another size, polarity and channel count than the MNIST the rule was tuned on.
  10,000 training and 2,000 test images (the first of each split).
- ``digits-occluded``: scikit-learn's digits (1,437 / 360) at 28x28 with Gaussian noise (sigma 25
  of 255) and one to two random grey rectangles over each image.
- ``patterns-32``: ten classes of rendered RGB textures (horizontal, vertical and diagonal
  stripes, checkerboard, dots, concentric rings, one ring, plus sign, zigzag, grid), random
  foreground and background colours, scale, phase, placement and noise; 10,000 / 2,000 at 32x32.
  Also written as ``captions.csv`` ("a red and blue checkerboard", ...) for CLIP.

    python benchmarks/heldout_data.py --out runs/heldout       # ~1 min; prints the checksums
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

SEED = 20261204
HERE = Path(__file__).resolve().parent
MNIST = HERE.parent.parent / "shared" / "data" / "mnist"
PATTERNS = ("horizontal stripes", "vertical stripes", "diagonal stripes", "checkerboard", "dots",
            "concentric rings", "ring", "plus sign", "zigzag", "grid")
COLOURS = {"red": (210, 40, 40), "green": (40, 160, 60), "blue": (40, 80, 220), "yellow": (230, 210, 50),
           "purple": (140, 60, 190), "orange": (240, 130, 30), "white": (235, 235, 235),
           "black": (20, 20, 20), "cyan": (40, 200, 210), "pink": (240, 130, 180)}


def _write(root: Path, split: str, images: np.ndarray, labels: np.ndarray, classes) -> list[str]:
    names = []
    for i, (img, label) in enumerate(zip(images, labels)):
        folder = root / split / str(classes[label]).replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:05d}.png"
        Image.fromarray(img).save(path)
        names.append(str(path.relative_to(root)))
    return names


def mnist_inverted(out: Path) -> None:
    import torch

    from simclip.data import load_dataset

    for split, n in (("train", 10_000), ("test", 2_000)):
        ds = load_dataset(f"mnist:{MNIST}", split=split)
        x = 255 - ds.images[:n].float()
        x = torch.nn.functional.interpolate(x, size=32, mode="bilinear", antialias=True, align_corners=False)
        x = x.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1)
        _write(out, split, x.permute(0, 2, 3, 1).contiguous().numpy(), ds.labels[:n].numpy(), range(10))


def digits_occluded(out: Path) -> None:
    from simclip.data import load_dataset

    rng = np.random.default_rng(SEED + 1)
    for split in ("train", "test"):
        ds = load_dataset("digits", split=split)
        x = ds.images[:, 0].numpy().astype(np.float32)
        x += rng.normal(0, 25, x.shape)
        for img in x:
            for _ in range(rng.integers(1, 3)):
                h, w = rng.integers(4, 11, size=2)
                top, left = rng.integers(0, 28 - h), rng.integers(0, 28 - w)
                img[top:top + h, left:left + w] = rng.uniform(60, 200)
        _write(out, split, np.clip(x, 0, 255).round().astype(np.uint8), ds.labels.numpy(), range(10))


def _pattern(kind: int, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A boolean foreground mask [size, size] of pattern ``kind`` inside a random box."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(7, 14)
    phase = rng.uniform(0, period)
    angle = np.deg2rad(rng.uniform(-8, 8))
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    cx, cy = rng.uniform(0.35, 0.65, size=2) * size
    r = np.hypot(xx - cx, yy - cy)
    band = lambda t: ((t + phase) % period) < period / 2  # noqa: E731
    if kind == 0:
        mask = band(v)
    elif kind == 1:
        mask = band(u)
    elif kind == 2:
        mask = band((u + v) / np.sqrt(2)) if rng.random() < 0.5 else band((u - v) / np.sqrt(2))
    elif kind == 3:
        mask = band(u) ^ band(v)
    elif kind == 4:
        cu, cv = (u + phase) % period - period / 2, (v + phase) % period - period / 2
        mask = np.hypot(cu, cv) < period * 0.28
    elif kind == 5:
        mask = band(r)
    elif kind == 6:
        radius = rng.uniform(0.18, 0.32) * size
        mask = np.abs(r - radius) < rng.uniform(2.5, 5)
    elif kind == 7:
        arm, width = rng.uniform(0.2, 0.35) * size, rng.uniform(3, 7)
        mask = ((np.abs(xx - cx) < width) & (np.abs(yy - cy) < arm)) | \
               ((np.abs(yy - cy) < width) & (np.abs(xx - cx) < arm))
    elif kind == 8:
        tri = np.abs(((u + phase) % period) - period / 2) * 2
        mask = np.abs(v % period - tri * 0.8) < 2.2
    else:
        mask = ((u + phase) % period < 2.2) | ((v + phase) % period < 2.2)
    if kind not in (6, 7):  # textures fill a random box, not the whole image
        h, w = rng.uniform(0.55, 1.0, size=2) * size
        top, left = rng.uniform(0, size - h), rng.uniform(0, size - w)
        mask &= (yy >= top) & (yy < top + h) & (xx >= left) & (xx < left + w)
    return mask


def patterns(out: Path) -> None:
    import torch

    rng = np.random.default_rng(SEED + 2)
    names = list(COLOURS)
    rows = []
    for split, n in (("train", 10_000), ("test", 2_000)):
        drawn = []
        labels = rng.integers(0, len(PATTERNS), n)
        images = np.empty((n, 64, 64, 3), np.float32)
        for i, kind in enumerate(labels):
            fg, bg = rng.choice(len(names), size=2, replace=False)
            mask = _pattern(int(kind), rng)[..., None]
            img = np.where(mask, COLOURS[names[fg]], COLOURS[names[bg]]).astype(np.float32)
            img *= rng.uniform(0.75, 1.15)
            images[i] = img + rng.normal(0, 12, img.shape)
            drawn.append((names[fg], names[bg], PATTERNS[kind]))
        x = torch.from_numpy(images).permute(0, 3, 1, 2)
        x = torch.nn.functional.interpolate(x, size=32, mode="bilinear", antialias=True, align_corners=False)
        x = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
        files = _write(out, split, x, labels, PATTERNS)
        rows += [(split, path, fg, bg, kind) for (fg, bg, kind), path in zip(drawn, files)]
    with open(out / "captions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "caption", "split"])
        for split, path, fg, bg, kind in rows:
            w.writerow([path, f"{fg} {kind} on {bg}", split])


SETS = {"mnist-inverted-32": mnist_inverted, "digits-occluded": digits_occluded, "patterns-32": patterns}


def checksum(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build(out: Path, names=tuple(SETS)) -> dict[str, str]:
    """Write each named set under ``out/NAME`` (skipped when its checksum file matches); returns
    ``{name: sha256 of all its files}``."""
    sums = {}
    for name in names:
        root = out / name
        stamp = root / ".sha256"
        if not stamp.exists():
            root.mkdir(parents=True, exist_ok=True)
            SETS[name](root)
            stamp.write_text(checksum(root))
        sums[name] = stamp.read_text().strip()
    return sums


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/heldout")
    args = parser.parse_args()
    print(json.dumps(build(Path(args.out)), indent=2))


if __name__ == "__main__":
    main()
