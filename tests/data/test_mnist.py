"""MNIST IDX files: the real data, gz and raw files, header errors, checksums, missing files."""
import gzip
import hashlib
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from simclip.data import ChecksumError, IDXFormatError, load_caption_dataset, load_dataset
from simclip.data.idx import parse_idx

REAL_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = struct.pack(">HBB", 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist(folder: Path, n_train: int = 12, n_test: int = 5, gz: bool = True) -> dict:
    rng = np.random.default_rng(1)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        arrays[prefix] = (images, labels)
        for part, array in (("images-idx3", images), ("labels-idx1", labels)):
            data = idx_bytes(array)
            name = f"{prefix}-{part}-ubyte"
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return arrays


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="real MNIST not available")
def test_real_mnist_loads_with_checksums():
    assert (REAL_MNIST / "SHA256SUMS").is_file()
    train = load_dataset(f"mnist:{REAL_MNIST}", "train")
    test = load_dataset(f"mnist:{REAL_MNIST}", "test")
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.images.shape == (60_000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.classes == [str(d) for d in range(10)]
    # Published per-class counts of the training set.
    assert train.labels.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                                5851, 5949]
    assert test.labels.bincount().sum() == 10_000 and int(train.images.max()) == 255


@pytest.mark.parametrize("gz", [True, False])
def test_gz_and_raw_files_give_the_stored_arrays(tmp_path, gz):
    arrays = write_mnist(tmp_path, gz=gz)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        data = load_dataset(f"mnist:{tmp_path}", split)
        images, labels = arrays[prefix]
        assert np.array_equal(data.images[:, 0].numpy(), images)
        assert np.array_equal(data.labels.numpy(), labels.astype(np.int64))
        assert data.split == split


def test_resize_and_digit_captions(tmp_path):
    arrays = write_mnist(tmp_path)
    assert load_dataset(f"mnist:{tmp_path}?size=14").images.shape == (12, 1, 14, 14)
    captions = load_caption_dataset(f"mnist:{tmp_path}")
    label = int(arrays["train"][1][0])
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    assert f"a photo of the digit {label}" in captions.captions[0]
    assert f"a handwritten {words[label]}" in captions.captions[0]


def test_wrong_magic_truncated_and_trailing_bytes(tmp_path):
    write_mnist(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    good = path.read_bytes()
    path.write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(IDXFormatError, match=r"train-images-idx3-ubyte: bad IDX magic number 0x12340803"):
        load_dataset(f"mnist:{tmp_path}")
    path.write_bytes(good[:-100])
    with pytest.raises(IDXFormatError, match=r"train-images-idx3-ubyte: truncated: header says dims \(12, 28, 28\)"):
        load_dataset(f"mnist:{tmp_path}")
    path.write_bytes(good + b"\0")
    with pytest.raises(IDXFormatError, match="has trailing bytes"):
        load_dataset(f"mnist:{tmp_path}")
    path.write_bytes(good[:10])
    with pytest.raises(IDXFormatError, match="truncated IDX header"):
        load_dataset(f"mnist:{tmp_path}")


def test_labels_as_images_and_count_mismatch(tmp_path):
    arrays = write_mnist(tmp_path, gz=False)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(arrays["train"][1]))
    with pytest.raises(IDXFormatError, match=r"expected ubyte images \[N, H, W\] \(magic 2051\)"):
        load_dataset(f"mnist:{tmp_path}")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(arrays["t10k"][0]))
    with pytest.raises(IDXFormatError, match="has 5 images but .* has 12 labels"):
        load_dataset(f"mnist:{tmp_path}")


def test_corrupt_gzip_named(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(IDXFormatError, match="train-labels-idx1-ubyte.gz: corrupt gzip data"):
        load_dataset(f"mnist:{tmp_path}")


def test_parse_other_types_big_endian():
    values = np.array([[1, -2, 300], [4, 5, -70000]], dtype=np.int32)
    parsed = parse_idx(idx_bytes(values, 0x0C))
    assert parsed.dtype == np.int32 and np.array_equal(parsed, values)


def test_missing_file_named(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    assert len(load_dataset(f"mnist:{tmp_path}", "train")) == 12
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_dataset(f"mnist:{tmp_path}", "test")


def test_checksum_mismatch_names_file(tmp_path):
    write_mnist(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    lines = [f"{hashlib.sha256((tmp_path / n).read_bytes()).hexdigest()}  {n}" for n in names]
    (tmp_path / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    assert len(load_dataset(f"mnist:{tmp_path}", "test")) == 5  # verified and fine
    target = tmp_path / "train-images-idx3-ubyte.gz"
    data = bytearray(target.read_bytes())
    data[-12] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="checksum mismatch for .*train-images-idx3-ubyte.gz"):
        load_dataset(f"mnist:{tmp_path}", "train")


def test_unlisted_file_warns_and_bad_sums_line_errors(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "SHA256SUMS").write_text("")
    with pytest.warns(UserWarning, match="not listed in .*SHA256SUMS"):
        load_dataset(f"mnist:{tmp_path}", "test")
    (tmp_path / "SHA256SUMS").write_text("abc  t10k-labels-idx1-ubyte.gz\n")
    with pytest.raises(ChecksumError, match="SHA256SUMS line 1"):
        load_dataset(f"mnist:{tmp_path}", "test")


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="real MNIST not available")
def test_real_checksums_detect_a_swapped_file(tmp_path):
    for name in ("SHA256SUMS", "t10k-images-idx3-ubyte.gz"):
        shutil.copy(REAL_MNIST / name, tmp_path / name)
    shutil.copy(REAL_MNIST / "train-labels-idx1-ubyte.gz", tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        load_dataset(f"mnist:{tmp_path}", "test")
