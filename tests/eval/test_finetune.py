"""Semi-supervised fine-tuning: the label subset and end-to-end training on few labels."""

import pytest
import torch
from torch import nn

from simclip.errors import UsageError
from simclip.eval.finetune import FinetuneConfig, balanced_subset, finetune, parse_labels


def test_labels_parse_as_fraction_or_count_per_class():
    assert parse_labels("1%") == (0.01, None) and parse_labels("10%") == (0.1, None)
    assert parse_labels("60") == (None, 60)
    for bad in ("0%", "abc", "-3", "150%", ""):
        with pytest.raises(UsageError, match="--labels"):
            parse_labels(bad)


def test_subset_is_class_balanced_and_reproducible():
    labels = torch.arange(10).repeat_interleave(100)[torch.randperm(1000, generator=torch.Generator().manual_seed(1))]
    idx = balanced_subset(labels, fraction=0.05, seed=3)
    assert len(idx) == 50 and torch.equal(torch.bincount(labels[idx], minlength=10), torch.full((10,), 5))
    assert torch.equal(idx, balanced_subset(labels, fraction=0.05, seed=3))
    assert not torch.equal(idx, balanced_subset(labels, fraction=0.05, seed=4))
    assert torch.equal(torch.bincount(labels[balanced_subset(labels, per_class=7)]), torch.full((10,), 7))


def _separable(n: int, seed: int):
    """Class k: a bright square in quadrant k of an otherwise dark 16x16 image, with noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    images = torch.randint(0, 40, (n, 1, 16, 16), generator=g, dtype=torch.uint8)
    for i, k in enumerate(labels.tolist()):
        r, c = divmod(k, 2)
        images[i, 0, 8 * r + 2:8 * r + 6, 8 * c + 2:8 * c + 6] = 220
    return images, labels


def test_finetuning_on_few_labels_beats_chance():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1),
                          nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 16))
    train_x, train_y = _separable(400, 0)
    test_x, test_y = _separable(200, 1)
    out = finetune(model, model, train_x, train_y, test_x, test_y,
                   FinetuneConfig(labels="10", steps=150, batch_size=32, lr=3e-3, crop_min=0.9))
    assert out["finetune_labels"] == 40 and out["finetune_steps"] == 150
    assert out["finetune_top1"] > 80  # chance is 25%
