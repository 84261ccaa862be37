"""Training the generator: a VAE on an image dataset, by Adam on the negative ELBO.

    loss = sum over pixels of (x - G(z))^2 / (2 sigma^2)
         + edge_weight * sum over pixels of |sobel(x) - sobel(G(z))|^2 / (2 sigma_edge^2)
         + beta * KL(q(z|x) || N(0, I)),

averaged over the batch, with ``sigma = 0.1`` (a Gaussian likelihood whose scale keeps flat
colours sharp on the built-in shapes), ``sigma_edge = 0.2`` and ``z`` drawn by the
reparameterisation trick. The edge term (horizontal and vertical Sobel gradients per channel)
penalises blurred outlines, which the squared pixel error alone barely sees.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.generate.checkpoint import save_generator
from simclip.generate.config import ConfigError, GeneratorTrainConfig
from simclip.generate.model import Generator

PIXEL_SIGMA = 0.1
EDGE_SIGMA = 0.2


def sobel(images: Tensor) -> Tensor:
    """``[B, C, S, S]`` -> ``[B, 2C, S, S]``: each channel's horizontal and vertical Sobel gradient
    (borders replicated)."""
    k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=images.dtype,
                     device=images.device)
    weight = torch.stack([k, k.T])[:, None].repeat(images.shape[1], 1, 1, 1)
    padded = F.pad(images, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, weight, groups=images.shape[1])


def vae_loss(images: Tensor, recon: Tensor, mean: Tensor, log_var: Tensor,
             beta: float, edge_weight: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
    """``(loss, reconstruction term, KL term)`` per image; ``images``, ``recon`` ``[B, C, S, S]`` in
    [0, 1], ``mean``, ``log_var`` ``[B, D]``. The reconstruction term holds the edge term."""
    rec = ((images - recon) ** 2).flatten(1).sum(1).mean() / (2 * PIXEL_SIGMA ** 2)
    if edge_weight:
        edge = ((sobel(images) - sobel(recon)) ** 2).flatten(1).sum(1).mean() / (2 * EDGE_SIGMA ** 2)
        rec = rec + edge_weight * edge
    kl = 0.5 * (mean ** 2 + log_var.exp() - 1 - log_var).sum(1).mean()
    return rec + beta * kl, rec, kl


def training_images(data: str, split: str = "train", image_size: int | None = None) -> Tensor:
    """The images ``simclip generator train`` trains on: split ``split`` (``"train"``, ``"test"``
    or ``"all"``, both in that order) of the dataset spec ``data``, resized (bilinear,
    antialiased) to ``image_size`` or else to the data's side rounded up to a power of two (at
    least 16).

    Returns:
        uint8 ``Tensor[N, C, S, S]``.

    Raises:
        ConfigError: ``split`` is not one of ``GENERATOR_SPLITS``.
    """
    from simclip.data import images_in_memory, load_dataset
    from simclip.generate.config import GENERATOR_SPLITS

    if split not in GENERATOR_SPLITS:
        raise ConfigError(f"split must be one of {', '.join(GENERATOR_SPLITS)}, got {split!r}")
    parts = ("train", "test") if split == "all" else (split,)
    images = torch.cat([images_in_memory(load_dataset(data, split=part)).images for part in parts])
    size = image_size or 1 << (max(16, images.shape[-1]) - 1).bit_length()
    if images.shape[-2:] != (size, size):
        images = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True,
                               align_corners=False).round().clamp(0, 255).byte()
    return images


def train_generator(cfg: GeneratorTrainConfig, images: Tensor,
                    log: Callable[[str], None] | None = print) -> tuple[Generator, dict[str, float]]:
    """Train a generator on uint8 ``images`` ``[N, C, S, S]`` and save it into ``cfg.out``.

    Returns the model (eval mode) and its final metrics: per-pixel mean squared reconstruction
    error, KL per image, steps, seconds. Deterministic under ``cfg.seed`` on one thread.
    """
    g = cfg.generator
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ConfigError(f"{cfg.data}: the generator trains on uint8 images [N, C, S, S], got "
                          f"{images.dtype} {tuple(images.shape)}")
    if tuple(images.shape[1:]) != (g.channels, g.image_size, g.image_size):
        raise ConfigError(f"{cfg.data} has images {tuple(images.shape[1:])}; generator.channels and "
                          f"generator.image_size ask for ({g.channels}, {g.image_size}, {g.image_size})")
    torch.manual_seed(cfg.seed)
    model = Generator(g).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps_per_epoch = max(1, len(images) // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    order = torch.Generator().manual_seed(cfg.seed)
    start, step, history = time.perf_counter(), 0, []
    metrics: dict[str, float] = {}
    for epoch in range(cfg.epochs):
        perm = torch.randperm(len(images), generator=order)
        sums = torch.zeros(3)
        for i in range(steps_per_epoch):
            x = images[perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]].float() / 255
            recon, mean, log_var = model(x)
            loss, rec, kl = vae_loss(x, recon, mean, log_var, cfg.beta, cfg.edge_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            step += 1
            sums += torch.tensor([loss.item(), ((x - recon) ** 2).mean().item(), kl.item()])
        mean_loss, mse, kl_mean = (sums / steps_per_epoch).tolist()
        metrics = {"epoch": epoch + 1, "step": step, "loss": mean_loss, "mse": mse, "kl": kl_mean,
                   "seconds": time.perf_counter() - start}
        history.append(metrics)
        if log:
            log(f"epoch {epoch + 1}/{cfg.epochs}: loss {mean_loss:.1f}  mse {mse:.5f}  kl {kl_mean:.2f}  "
                f"[{metrics['seconds']:.0f} s]")
        if cfg.time_budget is not None and time.perf_counter() - start > cfg.time_budget:
            break
    model.eval()
    model.fill_latent_bank(images[torch.randperm(len(images), generator=order)])
    out = save_generator(model, cfg, cfg.out)
    with open(Path(out) / "metrics.jsonl", "w") as f:
        f.writelines(json.dumps(m) + "\n" for m in history)
    return model, metrics
