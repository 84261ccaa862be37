"""Semi-supervised evaluation: fine-tune the whole encoder on a few labels (Chen et al. 2020b,
"Big Self-Supervised Models are Strong Semi-Supervised Learners", sec. 2.2 and Table 1).

A class-balanced labelled subset (``1%`` of the training split, or N images per class; seeded, the
chosen indices reproducible) trains the encoder with a fresh linear classifier end to end; the
test split is then classified with the fine-tuned network. Run the same on the same architecture at
its random initialisation (``simclip eval --random-init``) to see what pretraining buys.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simclip.augment import create_policy
from simclip.errors import UsageError
from simclip.train.schedule import warmup_cosine


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning settings; the defaults are the same for a pretrained and a random network.

    ``labels``: ``"1%"`` (a fraction of the training split) or ``"60"`` (images per class).
    ``steps`` of AdamW (``lr``, ``weight_decay``) at ``batch_size``, 5% warm-up then cosine decay;
    each batch is augmented with crops of at least ``crop_min`` of the image and, for colour
    images, horizontal flips. ``probe_init``: the classifier starts as a linear probe fitted on the
    frozen features of the labelled images (LP-FT, Kumar et al. 2022, "Fine-Tuning can Distort
    Pretrained Features"), so that the first steps do not push a random head's gradients through a
    good encoder. ``simclip eval`` turns it off with ``--random-init``: a probe of random features
    is no starting point, and the from-scratch baseline trains best without it.
    """

    labels: str = "1%"
    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    crop_min: float = 0.6
    probe_init: bool = True
    seed: int = 0


def parse_labels(text: str) -> tuple[float | None, int | None]:
    """``"1%"`` -> (0.01, None); ``"60"`` -> (None, 60); anything else raises :class:`UsageError`."""
    text = str(text).strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%", text)
    if m and 0 < float(m.group(1)) <= 100:
        return float(m.group(1)) / 100, None
    if text.isdigit() and int(text) > 0:
        return None, int(text)
    raise UsageError(f"--labels must be a percentage such as 1% or a count per class such as 60, got {text!r}")


def balanced_subset(labels: Tensor, fraction: float | None = None, per_class: int | None = None,
                    seed: int = 0) -> Tensor:
    """Sorted indices of a class-balanced subset of ``labels`` ``[N]``: ``per_class`` images of each
    class (or ``round(fraction * N / classes)``, at least 1), drawn without replacement under
    ``seed``. A class with fewer images gives all it has."""
    if (fraction is None) == (per_class is None):
        raise ValueError("give exactly one of fraction and per_class")
    classes = torch.unique(labels)
    if per_class is None:
        assert fraction is not None  # checked above: exactly one is given
        per_class = max(1, round(fraction * len(labels) / len(classes)))
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for c in classes:
        members = torch.nonzero(labels == c).flatten()
        chosen.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    return torch.sort(torch.cat(chosen)).values


def finetune(model: nn.Module, encode: Callable[[Tensor], Tensor], train_images: Tensor, train_labels: Tensor,
             test_images: Tensor, test_labels: Tensor, config: FinetuneConfig = FinetuneConfig(),
             transform: Callable[[Tensor], Tensor] | None = None, device: str = "cpu") -> dict[str, float]:
    """Fine-tune ``model`` (through ``encode``: float images ``[B, C, H, W]`` in [0, 1] ->
    features ``[B, F]``) with a new linear classifier on a balanced subset of the training split,
    then classify the test split.

    Args:
        model: the module whose trainable parameters ``encode`` uses; changed in place.
        train_images, test_images: uint8 ``[N, C, H, W]``; train_labels, test_labels: int ``[N]``.
        transform: applied to float batches before ``encode`` (a CLIP tower's preprocessing).

    Returns:
        ``finetune_top1`` (test accuracy, %), ``finetune_labels`` (labelled images used),
        ``finetune_steps``.
    """
    fraction, per_class = parse_labels(config.labels)
    idx = balanced_subset(train_labels, fraction, per_class, config.seed)
    x, y = train_images[idx], train_labels[idx].long()
    n_classes = int(max(train_labels.max(), test_labels.max())) + 1
    g = torch.Generator().manual_seed(config.seed)  # which images each step
    g_aug = torch.Generator(device=torch.device(device)).manual_seed(config.seed + 1)  # their views
    torch.manual_seed(config.seed)  # the classifier's initial weights
    model.to(device).train()
    prep = transform or (lambda t: t)
    with torch.no_grad():
        features = encode(prep(x[:2].to(device).float().div(255))).shape[-1]
    head = nn.Linear(features, n_classes).to(device)
    if config.probe_init:
        _fit_probe(head, model, encode, prep, x, y, device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    channels, size = x.shape[1], x.shape[-1]
    augment = create_policy("simclr-gray", size=size, channels=channels, crop_scale=(config.crop_min, 1.0),
                            flip_p=0.5 if channels == 3 else 0.0)
    batch = min(config.batch_size, len(x))
    for step in range(config.steps):
        lr = warmup_cosine(step / config.steps, config.lr, 0.05)
        for group in opt.param_groups:
            group["lr"] = lr
        pick = torch.randint(len(x), (batch,), generator=g)
        views = augment(x[pick].to(device), generator=g_aug)
        loss = F.cross_entropy(head(encode(prep(views))), y[pick].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"fine-tuning diverged at step {step} (loss {loss.item()})")
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(test_images), 512):
            xb = test_images[start:start + 512].to(device).float().div(255)
            pred = head(encode(prep(xb))).argmax(-1).cpu()
            correct += int((pred == test_labels[start:start + 512]).sum())
    return {"finetune_top1": 100.0 * correct / len(test_images), "finetune_labels": float(len(idx)),
            "finetune_steps": float(config.steps)}


def _fit_probe(head: nn.Linear, model: nn.Module, encode: Callable[[Tensor], Tensor],
               prep: Callable[[Tensor], Tensor], x: Tensor, y: Tensor, device: str, steps: int = 300) -> None:
    """Fit ``head`` on the frozen features of ``x`` (whole images, eval-mode statistics)."""
    model.eval()
    with torch.no_grad():
        feats = torch.cat([encode(prep(x[i:i + 512].to(device).float().div(255))) for i in range(0, len(x), 512)])
    targets = y.to(device)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(steps):
        loss = F.cross_entropy(head(feats), targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
