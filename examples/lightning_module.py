"""SimCLR as a PyTorch Lightning ``LightningModule``, with simclip's augmentations and NT-Xent loss.

Lightning runs the loop (devices, precision, checkpoints, its loggers); simclip supplies the
batched augmentation policy and the loss. The views are drawn inside ``training_step``, on the
batch's device, from the module's own seeded CPU generator. Needs ``pip install
'simclip[lightning]'``.

The data is scikit-learn's 8x8 digits upsampled to 32x32, one fixed batch of 64 images, so that a
few steps show the loss going down; the loss is measured on fixed views before and after training
and printed last as JSON::

    python examples/lightning_module.py --steps 40
"""

from __future__ import annotations

import argparse
import json

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from simclip.augment import create_policy, two_views
from simclip.losses import nt_xent


class SimCLRModule(pl.LightningModule):
    """An encoder and projection head trained with NT-Xent on two augmented views per image."""

    def __init__(self, temperature: float = 0.2, lr: float = 2e-3, view_size: int = 28, seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.projection = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64))
        self.policy = create_policy("simclr-gray", size=view_size, channels=1)
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, x: Tensor) -> Tensor:
        """Features for downstream use: [B, 1, H, W] -> [B, 64] (before the projection head)."""
        return self.encoder(x)

    def contrastive_loss(self, views: Tensor) -> Tensor:
        """views: [2, B, 1, S, S] -> NT-Xent of their projections."""
        z = self.projection(self.encoder(views.flatten(0, 1)))
        return nt_xent(z.view(2, -1, z.shape[-1]), temperature=self.hparams.temperature)

    def training_step(self, batch: list[Tensor], batch_idx: int) -> Tensor:
        views = two_views(self.policy, batch[0], generator=self.generator)
        loss = self.contrastive_loss(views)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=1e-4)


def digits_images(n: int = 64) -> Tensor:
    """The first ``n`` digits as images [n, 1, 32, 32] in [0, 1]."""
    images = torch.tensor(load_digits().images[:n], dtype=torch.float32).unsqueeze(1) / 16
    return F.interpolate(images, size=32, mode="bilinear", align_corners=False).clamp(0, 1)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="optimiser steps on the fixed batch")
    parser.add_argument("--accelerator", default="auto", help="Lightning's accelerator: auto, cpu, gpu")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and augmentations")
    args = parser.parse_args(argv)

    pl.seed_everything(args.seed, verbose=False)
    images = digits_images()
    module = SimCLRModule(seed=args.seed)
    fixed_views = two_views(module.policy, images, generator=torch.Generator().manual_seed(12345))
    with torch.no_grad():
        first = float(module.contrastive_loss(fixed_views))
    loader = DataLoader(TensorDataset(images), batch_size=len(images))  # one batch: one step an epoch
    trainer = pl.Trainer(max_steps=args.steps, accelerator=args.accelerator, devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         log_every_n_steps=1)
    trainer.fit(module, loader)
    module.cpu()
    with torch.no_grad():
        last = float(module.contrastive_loss(fixed_views))
    result = {"first_loss": first, "last_loss": last}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
