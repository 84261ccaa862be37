"""The built-in digits: counts, shapes, labels, pixels, and the resize behind them."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sklearn_digits

from simclip.data import load_dataset
from simclip.data.resize import resize_square


@pytest.fixture(scope="module")
def splits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


def test_counts_shapes_and_classes(splits):
    train, test = splits
    assert (len(train), len(test)) == (1437, 360)
    assert train.images.shape == (1437, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.labels.dtype == torch.int64 and test.labels.shape == (360,)
    assert train.classes == [str(d) for d in range(10)] and train.num_classes == 10
    assert (train.channels, train.image_size, train.split, test.split) == (1, 28, "train", "test")
    assert int(train.images.max()) == 255 and int(train.images.min()) == 0


def test_split_is_stratified_disjoint_and_real(splits):
    train, test = splits
    reference = sklearn_digits()
    counts = np.bincount(reference.target, minlength=10)
    got = train.labels.bincount(minlength=10) + test.labels.bincount(minlength=10)
    assert got.tolist() == counts.tolist()
    # Every class is split about 80/20 (stratified).
    share = test.labels.bincount(minlength=10).numpy() / counts
    assert np.all(np.abs(share - 0.2) < 0.02)
    # Native-size images match scikit-learn's pixels scaled 0..16 -> 0..255, label for label.
    native = load_dataset("digits", "test", image_size=8)
    expected = np.rint(reference.images * 255 / 16).astype(np.uint8)
    flat = {(img.tobytes(), int(lab)) for img, lab in zip(expected, reference.target)}
    assert all((img[0].numpy().tobytes(), int(lab)) in flat
               for img, lab in zip(native.images, native.labels))
    train8 = {img.numpy().tobytes() for img in load_dataset("digits", image_size=8).images}
    test8 = {img.numpy().tobytes() for img in native.images}
    assert len(train8 & test8) <= 5  # a few digits are pixel-identical duplicates in the UCI data


def test_deterministic(splits):
    again = load_dataset("digits", "train")
    assert torch.equal(again.images, splits[0].images) and torch.equal(again.labels, splits[0].labels)


def _naive_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """float64 bilinear upsampling with half-pixel centres (align_corners=False), edge clamped."""
    h, w = image.shape
    out = np.empty((size, size))
    for i in range(size):
        for j in range(size):
            y = min(max((i + 0.5) * h / size - 0.5, 0), h - 1)
            x = min(max((j + 0.5) * w / size - 0.5, 0), w - 1)
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            dy, dx = y - y0, x - x0
            out[i, j] = ((1 - dy) * (1 - dx) * image[y0, x0] + (1 - dy) * dx * image[y0, x1]
                         + dy * (1 - dx) * image[y1, x0] + dy * dx * image[y1, x1])
    return out


def test_upsampling_matches_naive_bilinear():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, size=(3, 1, 8, 8), dtype=np.uint8)
    got = resize_square(torch.from_numpy(small), 28).numpy()
    for k in range(3):
        expected = _naive_bilinear(small[k, 0].astype(np.float64), 28)
        assert np.abs(got[k, 0].astype(np.float64) - expected).max() <= 0.5 + 1e-9


def test_downsampling_averages_and_checks_arguments():
    stripes = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    stripes[..., ::2] = 200  # one-pixel stripes alias to all-0 or all-200 without antialiasing
    small = resize_square(stripes, 8)
    assert small.shape == (1, 1, 8, 8) and abs(float(small.float().mean()) - 100) < 2
    assert resize_square(stripes, 32) is stripes
    with pytest.raises(ValueError, match="size must be a positive int"):
        resize_square(stripes, 0)
    with pytest.raises(ValueError, match="images must be uint8"):
        resize_square(stripes.float(), 8)
