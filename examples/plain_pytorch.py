"""simclip's losses and batched augmentations inside your own PyTorch training loop.

Nothing here uses simclip's trainer: the model, the data, the optimiser and the loop are yours;
simclip supplies the augmentation policy (per-sample random parameters, one call per batch) and
the contrastive loss. Two objectives on the same small image encoder:

- ``--objective simclr``: two augmented views of each image, NT-Xent between them
  (:func:`simclip.losses.nt_xent`, Chen et al. 2020);
- ``--objective clip``: images against a caption of each ("a handwritten seven"), CLIP's
  symmetric cross-entropy (:func:`simclip.losses.clip_loss`, Radford et al. 2021) with a
  learnable temperature, and a bag-of-words text encoder of your own.

The data is scikit-learn's 8x8 digits upsampled to 32x32: one fixed batch of 64 images, so that a
few steps show the loss going down. The loss is measured on fixed views before and after training
and printed last as JSON::

    python examples/plain_pytorch.py --steps 40
    python examples/plain_pytorch.py --steps 40 --objective clip
"""

from __future__ import annotations

import argparse
import json
import math

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import Tensor, nn

from simclip.augment import create_policy, two_views
from simclip.losses import clip_loss, nt_xent

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
VOCAB = {w: i for i, w in enumerate(["a", "handwritten", *WORDS])}


class SmallEncoder(nn.Module):
    """Your image model: [B, 1, 32, 32] in [0, 1] -> [B, dim] embeddings."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, dim))  # projection

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class BagOfWords(nn.Module):
    """Your text model: word ids [B, L] -> [B, dim] (the mean of learned word vectors)."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__()
        self.words = nn.EmbeddingBag(len(VOCAB), dim, mode="mean")

    def forward(self, ids: Tensor) -> Tensor:
        return self.words(ids)


def digits_batch(n: int = 64) -> tuple[Tensor, Tensor]:
    """The first ``n`` digits as images [n, 1, 32, 32] in [0, 1] and their labels [n]."""
    digits = load_digits()
    images = torch.tensor(digits.images[:n], dtype=torch.float32).unsqueeze(1) / 16
    return F.interpolate(images, size=32, mode="bilinear", align_corners=False).clamp(0, 1), \
        torch.tensor(digits.target[:n])


def captions(labels: Tensor) -> Tensor:
    """'a handwritten <digit>' as word ids [B, 3]."""
    return torch.tensor([[VOCAB["a"], VOCAB["handwritten"], VOCAB[WORDS[int(y)]]] for y in labels])


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="optimiser steps on the fixed batch")
    parser.add_argument("--objective", choices=("simclr", "clip"), default="simclr",
                        help="NT-Xent between two views, or CLIP's loss between images and captions")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where the model and the augmentations run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and augmentations")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    images, labels = (t.to(device) for t in digits_batch())
    # SimCLR's grayscale policy (random resized crop + flip), drawn per sample on the whole batch;
    # randomness comes from a CPU generator, also for CUDA tensors
    policy = create_policy("simclr-gray", size=28, channels=1)
    generator = torch.Generator().manual_seed(args.seed)
    image_model = SmallEncoder().to(device)
    text_model = BagOfWords().to(device)
    log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07), device=device))  # CLIP's temperature
    params = [*image_model.parameters(), *text_model.parameters(), log_scale]
    optimizer = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)
    texts = captions(labels).to(device)
    fixed_views = two_views(policy, images, generator=torch.Generator().manual_seed(12345))

    def loss_of(views: Tensor) -> Tensor:
        """views: [2, B, 1, 28, 28] augmented images."""
        if args.objective == "simclr":
            z = image_model(views.flatten(0, 1))  # [2B, D]; nt_xent normalises
            return nt_xent(z.view(2, -1, z.shape[-1]), temperature=0.2)
        image = F.normalize(image_model(views[0]), dim=-1)  # one view per image: [B, D]
        text = F.normalize(text_model(texts), dim=-1)
        return clip_loss(image, text, log_scale.exp().clamp(max=100))

    with torch.no_grad():
        first = float(loss_of(fixed_views))
    for step in range(1, args.steps + 1):
        loss = loss_of(two_views(policy, images, generator=generator))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 10 == 0 or step == args.steps:
            print(f"step {step:4d}  loss {loss.item():.4f}", flush=True)
    with torch.no_grad():
        last = float(loss_of(fixed_views))
    result = {"first_loss": first, "last_loss": last}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
