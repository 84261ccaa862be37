from types import SimpleNamespace

import pytest
import torch

from simclip.eval.classification import evaluate_classification
from simclip.eval.knn import knn_classify
from simclip.eval.linear import linear_probe


def dataset(n_per_class: int, seed: int) -> SimpleNamespace:
    """4 classes of 4x4 RGB images: class c is bright in a different quadrant."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(4).repeat_interleave(n_per_class)
    images = torch.randint(0, 80, (labels.shape[0], 3, 4, 4), dtype=torch.uint8, generator=generator)
    for c in range(4):
        row, col = divmod(c, 2)
        images[labels == c, :, 2 * row : 2 * row + 2, 2 * col : 2 * col + 2] += 150
    return SimpleNamespace(images=images, labels=labels, classes=["a", "b", "c", "d"])


class CountingEncoder:
    def __init__(self):
        self.rows = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.rows += x.shape[0]
        return x.flatten(1) - 0.5


def test_features_extracted_once_per_split_and_results_merged():
    train, test = dataset(25, seed=0), dataset(10, seed=1)
    encode = CountingEncoder()
    result = evaluate_classification(
        encode, train, test, ("linear", "knn"), batch_size=32, options={"knn": {"k": 10}, "linear": {"c_grid": [1.0]}}
    )
    assert encode.rows == 100 + 40  # one pass over each split, shared by both protocols
    assert set(result) == {"linear_top1", "linear_top5", "linear_c", "knn_top1", "knn_top5"}
    assert result["linear_top1"] == 100.0 and result["knn_top1"] == 100.0
    # Same numbers as calling the protocols on the features directly.
    train_f = train.images.flatten(1).float() / 255.0 - 0.5
    test_f = test.images.flatten(1).float() / 255.0 - 0.5
    assert result["knn_top5"] == knn_classify(train_f, train.labels, test_f, test.labels, k=10)["knn_top5"]
    assert result["linear_c"] == linear_probe(train_f, train.labels, test_f, test.labels, c_grid=[1.0])["linear_c"]


def test_single_protocol_by_name():
    result = evaluate_classification(CountingEncoder(), dataset(10, 0), dataset(5, 1), "knn", options={"knn": {"k": 5}})
    assert set(result) == {"knn_top1", "knn_top5"}


def test_bad_arguments():
    train, test = dataset(5, 0), dataset(5, 1)
    with pytest.raises(ValueError, match="protocols must name some of"):
        evaluate_classification(CountingEncoder(), train, test, ("svm",))
    with pytest.raises(ValueError, match="options given for protocols not requested"):
        evaluate_classification(CountingEncoder(), train, test, ("knn",), options={"linear": {}})
    with pytest.raises(TypeError, match="test must have .images and .labels; SimpleNamespace has no .labels"):
        evaluate_classification(CountingEncoder(), train, SimpleNamespace(images=test.images), ("knn",))
