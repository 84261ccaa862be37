"""Decoding in worker processes that hand pixels over through shared memory gives exactly what
decoding in this process gives: a folder's pixels, files kept and reasons, hence its batches; a
shard stream's batches."""
import io
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from simclip.data import ImageDecodeError, batches, load_dataset
from simclip.data.folder import load_folder
from simclip.data.parallel_decode import decode_squares, default_workers
from simclip.data.shards.stream import plan_epoch, slot_batches


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """70 JPEGs of two sizes in two classes, one broken file and one PNG."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(70):
        folder = root / f"class{i % 2}"
        folder.mkdir(exist_ok=True)
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        side = (200, 150) if i % 3 else (150, 200)
        Image.fromarray(small).resize(side, Image.Resampling.BICUBIC).save(folder / f"{i:03d}.jpg", quality=90)
    (root / "class1" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(root / "class0" / "x.png")
    return root


def test_workers_write_the_same_pixels_as_this_process(photos):
    files = sorted(photos.rglob("*.*"))
    serial = decode_squares(files, 48, workers=0)
    forked = decode_squares(files, 48, workers=2)
    assert len(serial.kept) == len(files) - 1 and len(serial.bad) == 1
    assert "broken.jpg" in serial.bad[0][0] and "not a decodable image" in serial.bad[0][1]
    assert serial.kept == forked.kept and serial.bad == forked.bad
    assert serial.images.shape == (len(files) - 1, 48, 48, 3)
    assert np.array_equal(serial.images, forked.images)
    assert serial.images.std() > 10  # not an array of zeros on both sides


def test_a_folder_gives_the_same_batches_with_and_without_workers(photos):
    with pytest.warns(UserWarning, match="skipped 1"):
        serial = load_folder(photos, image_size=40, workers=0)
    with pytest.warns(UserWarning, match="skipped 1"):
        forked = load_folder(photos, image_size=40, workers=3)
    assert torch.equal(serial.images, forked.images) and torch.equal(serial.labels, forked.labels)
    assert serial.bad_files == forked.bad_files
    pairs = zip(batches(serial, 16, seed=3), batches(forked, 16, seed=3), strict=True)
    for (a, la), (b, lb) in pairs:
        assert torch.equal(a, b) and torch.equal(la, lb)


def test_strict_raises_for_the_first_bad_file_from_workers(photos):
    files = sorted(photos.rglob("*.jpg"))
    with pytest.raises(ImageDecodeError, match="broken.jpg"):
        decode_squares(files, 32, workers=2, strict=True)


def test_default_workers_leave_small_folders_to_this_process():
    assert default_workers(10) == 0
    assert default_workers(100_000) in (0, 2, 3, 4)
    with pytest.raises(ValueError, match="workers"):
        decode_squares([], 32, workers=-1)


def test_shard_workers_hand_over_the_batches_their_slots_make_here(photos, tmp_path):
    """DataLoader workers pass batches through shared memory (pinned with a GPU): what arrives is
    what the same slots make in this process, reduced-size JPEG decoding included."""
    jpegs = sorted(photos.rglob("[0-9]*.jpg"))  # not broken.jpg
    for shard in range(2):
        with tarfile.open(tmp_path / f"{shard:06d}.tar", "w") as tar:
            for i, path in enumerate(jpegs[shard::2]):
                for suffix, payload in (("jpg", path.read_bytes()), ("cls", path.parent.name[-1].encode())):
                    member = tarfile.TarInfo(f"{shard}{i:05d}.{suffix}")
                    member.size = len(payload)
                    tar.addfile(member, io.BytesIO(payload))
    data = load_dataset(f"wds:{tmp_path}?workers=2&shuffle_buffer=20", image_size=48)
    got = list(batches(data, 8, seed=1))
    slots = [iter(slot_batches(plan_epoch(data, 8, seed=1), w, 2)) for w in range(2)]
    expected = [next(slots[j % 2]) for j in range(len(got))]
    assert len(got) == 8
    for (images, labels), (want_images, want_labels, _) in zip(got, expected, strict=True):
        assert images.shape == (8, 3, 48, 48)
        assert torch.equal(images, want_images) and torch.equal(labels, want_labels)
