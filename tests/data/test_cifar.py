"""CIFAR-10/100 python pickles: tiny fake files, layouts, and the restricted unpickler."""
import os
import pickle

import numpy as np
import pytest
import torch

from simclip.data import CIFARFormatError, load_caption_dataset, load_dataset
from simclip.data.cifar import safe_unpickle


def fake_batch(rng, n, num_classes, label_key, protocol=2, bytes_keys=True):
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = rng.integers(0, num_classes, size=n).tolist()
    key = (lambda k: k.encode()) if bytes_keys else (lambda k: k)
    return pickle.dumps({key("data"): data, key(label_key): labels, key("batch_label"): b"x"},
                        protocol=protocol), data, labels


def write_cifar10(folder, rng, per_batch=4, protocol=2):
    folder.mkdir(parents=True, exist_ok=True)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps(
        {b"label_names": [n.encode() for n in names], b"num_vis": 3072}, protocol=protocol))
    stored = {"train": ([], []), "test": ([], [])}
    for i in range(1, 6):
        raw, data, labels = fake_batch(rng, per_batch, 10, "labels", protocol)
        (folder / f"data_batch_{i}").write_bytes(raw)
        stored["train"][0].append(data)
        stored["train"][1].extend(labels)
    raw, data, labels = fake_batch(rng, 3, 10, "labels", protocol)
    (folder / "test_batch").write_bytes(raw)
    stored["test"] = ([data], labels)
    return names, stored


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar10_tiny_pickles(tmp_path, protocol):
    names, stored = write_cifar10(tmp_path, np.random.default_rng(0), protocol=protocol)
    for split in ("train", "test"):
        data = load_dataset(f"cifar10:{tmp_path}", split)
        expected = np.concatenate(stored[split][0]).reshape(-1, 3, 32, 32)
        assert data.images.dtype == torch.uint8 and np.array_equal(data.images.numpy(), expected)
        assert data.labels.tolist() == stored[split][1]
        assert data.classes == names and data.channels == 3 and data.image_size == 32
    assert len(load_dataset(f"cifar10:{tmp_path}")) == 20
    # Red plane first: pixel (0, 0) of channel 0 is byte 0, of channel 1 byte 1024.
    first = np.concatenate(stored["train"][0])[0]
    image = load_dataset(f"cifar10:{tmp_path}").images[0]
    assert (int(image[0, 0, 0]), int(image[1, 0, 0]), int(image[2, 0, 1])) == \
        (first[0], first[1024], first[2049])


def test_cifar10_official_subfolder_and_resize(tmp_path):
    write_cifar10(tmp_path / "cifar-10-batches-py", np.random.default_rng(1))
    data = load_dataset(f"cifar10:{tmp_path}?size=16", "test")
    assert data.images.shape == (3, 3, 16, 16)
    captions = load_caption_dataset(f"cifar10:{tmp_path}", "test")
    cls = data.classes[int(data.labels[0])]
    article = "an" if cls[0] in "aeiou" else "a"
    assert f"a photo of {article} {cls}." in captions.captions[0]


def test_cifar100_fine_labels(tmp_path):
    rng = np.random.default_rng(2)
    names = [f"class_{i}" for i in range(99)] + ["maple_tree"]
    (tmp_path / "meta").write_bytes(pickle.dumps(
        {"fine_label_names": names, "coarse_label_names": ["c"] * 20}, protocol=4))
    data = rng.integers(0, 256, size=(6, 3072), dtype=np.uint8)
    labels = [99, 0, 5, 99, 42, 7]
    (tmp_path / "train").write_bytes(pickle.dumps({"data": data, "fine_labels": labels,
                                                   "coarse_labels": [0] * 6}, protocol=4))
    raw, _, test_labels = fake_batch(rng, 2, 100, "fine_labels", protocol=2)
    (tmp_path / "test").write_bytes(raw)
    train = load_dataset(f"cifar100:{tmp_path}")
    assert train.num_classes == 100 and train.classes[-1] == "maple_tree"
    assert train.labels.tolist() == labels
    assert np.array_equal(train.images.reshape(6, -1).numpy(), data)
    assert load_dataset(f"cifar100:{tmp_path}", "test").labels.tolist() == test_labels
    captions = load_caption_dataset(f"cifar100:{tmp_path}").captions
    assert "a photo of a maple tree." in captions[0] and "a photo of a class 0." in captions[1]


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_code(tmp_path):
    write_cifar10(tmp_path, np.random.default_rng(3))
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": Exploit(), b"labels": []}))
    with pytest.raises(CIFARFormatError, match=r"test_batch: not a readable CIFAR pickle "
                                               r"\(refusing global (posix|os)\.system"):
        load_dataset(f"cifar10:{tmp_path}", "test")
    with pytest.raises(CIFARFormatError, match="refusing global builtins.eval"):
        safe_unpickle(b"cbuiltins\neval\n(S'1+1'\ntR.", "evil")


def test_malformed_content_named(tmp_path):
    rng = np.random.default_rng(4)
    write_cifar10(tmp_path, rng)
    bad = {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(CIFARFormatError, match=r"test_batch: 'data' must be uint8 \[N, 3072\]"):
        load_dataset(f"cifar10:{tmp_path}", "test")
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}))
    with pytest.raises(CIFARFormatError, match="test_batch: missing key 'labels'"):
        load_dataset(f"cifar10:{tmp_path}", "test")
    bad = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(bad))
    with pytest.raises(CIFARFormatError, match=r"labels must lie in 0..9"):
        load_dataset(f"cifar10:{tmp_path}", "test")
    (tmp_path / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(CIFARFormatError, match="test_batch: not a readable CIFAR pickle"):
        load_dataset(f"cifar10:{tmp_path}", "test")


def test_missing_files_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="batches.meta"):
        load_dataset(f"cifar10:{tmp_path}")
    write_cifar10(tmp_path, np.random.default_rng(5))
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_dataset(f"cifar10:{tmp_path}")
