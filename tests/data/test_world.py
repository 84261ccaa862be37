"""The built-in multimodal world: files that decode, attributes that the files really carry, seeded."""

import csv
import hashlib
import wave

import numpy as np
import pytest
from PIL import Image

from simclip.data.shapes import COLORS, SHAPES
from simclip.data.world import make_world
from simclip.data.world.sound import FUNDAMENTALS, SAMPLE_RATE
from simclip.errors import UsageError

N = 30


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    table = make_world(tmp_path_factory.mktemp("world"), N, seed=3, videos=0)  # clips: tests/data/videos
    with open(table, newline="") as f:
        return table.parent, list(csv.DictReader(f))


def test_table_lists_every_object_with_its_files_and_labels(world):
    root, rows = world
    assert len(rows) == N
    assert list(rows[0]) == ["id", "image", "depth", "audio", "points", "text", "shape", "color", "size",
                             "position", "height", "split"]
    assert {r["split"] for r in rows} == {"train", "test"}
    for r in rows:
        assert all((root / r[m]).is_file() for m in ("image", "depth", "audio", "points"))
        assert r["shape"] in r["text"] and r["color"] in r["text"]


def test_image_shows_the_colour_and_depth_the_height(world):
    root, rows = world
    for r in rows[:10]:
        rgb = np.asarray(Image.open(root / r["image"]))
        assert rgb.shape == (32, 32, 3)
        assert (rgb == COLORS[r["color"]]).all(axis=2).sum() > 5  # the shape's own colour is drawn
        with Image.open(root / r["depth"]) as img:
            assert img.mode.startswith("I;16")
            depth = np.asarray(img, dtype=np.float64) / 1000
        # the top of the object is its height closer to the camera than the floor
        assert depth.max() - depth.min() == pytest.approx(float(r["height"]), abs=0.03)


def test_sound_pitch_is_the_shape(world):
    root, rows = world
    for r in rows[:10]:
        with wave.open(str(root / r["audio"])) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SAMPLE_RATE, 1, 2)
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
        f0 = FUNDAMENTALS[SHAPES.index(r["shape"])]
        # the strongest partial is a harmonic of the shape's note (purple's is the second)
        peak = freqs[spectrum.argmax()]
        assert min(abs(peak / f0 - k) for k in (1, 2, 3, 4)) < 0.05


def test_points_lie_on_the_extrusion(world):
    root, rows = world
    for r in rows[:10]:
        pts = np.load(root / r["points"])
        assert pts.shape == (256, 3) and pts.dtype == np.float32
        assert (pts[:, :2] >= 0).all() and (pts[:, :2] <= 1).all()
        assert pts[:, 2].min() == 0 and pts[:, 2].max() == pytest.approx(float(r["height"]), abs=1e-3)


def _digest(folder):
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())).hexdigest()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a, b, c = (make_world(tmp_path / name, 12, seed=s, videos=10).parent for name, s in (("a", 5), ("b", 5), ("c", 6)))
    assert _digest(a) == _digest(b) != _digest(c)


def test_refuses_to_overwrite_and_bad_counts(tmp_path):
    make_world(tmp_path, 10, videos=0)
    with pytest.raises(UsageError, match="already exists"):
        make_world(tmp_path, 10, videos=0)
    make_world(tmp_path, 10, overwrite=True, videos=0)
    with pytest.raises(UsageError, match="--objects"):
        make_world(tmp_path / "x", 3)
