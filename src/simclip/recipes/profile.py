"""What a recipe rule reads before a run: the data's shape and size, the device and the run length."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Optimisation steps a run gets when the user names neither ``epochs`` nor a time budget.
DEFAULT_STEPS = 3000
MIN_EPOCHS, MAX_EPOCHS = 10, 1000


@dataclass(frozen=True)
class DataProfile:
    """The inputs of a recipe rule.

    Attributes:
        channels, image_size, n_images: of the training split (``image_size`` is the side of the
            square images the dataset yields).
        device: ``"cpu"`` or a CUDA device string; a rule may choose larger models and batches on
            an accelerator.
        epochs, time_budget, batch_size: what the user fixed (None: the rule chooses).
        caption_tokens: for caption data, the 95th percentile of caption lengths in CLIP BPE
            tokens (None for image-only data).
        mean, std: per-channel statistics of the images in [0, 1] (None when not measured).
        gray: one channel, or colour channels that are equal in every sampled image (grayscale
            content stored as RGB, as scans often are).
    """

    channels: int
    image_size: int
    n_images: int
    device: str = "cpu"
    epochs: int | None = None
    time_budget: float | None = None
    batch_size: int | None = None
    caption_tokens: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    gray: bool = False

    @property
    def accelerator(self) -> bool:
        return not str(self.device).startswith("cpu")

    def describe(self) -> str:
        run = (f"{self.time_budget:g} s budget" if self.time_budget is not None
               else f"{self.epochs} epochs" if self.epochs is not None else "run length by the rule")
        text = f"{self.n_images:,} images of {self.channels}x{self.image_size}x{self.image_size}"
        if self.gray and self.channels > 1:
            text += " (gray content)"
        if self.caption_tokens is not None:
            text += f" (captions up to ~{self.caption_tokens} tokens)"
        return f"{text}, {run}, {self.device}"

    def planned_epochs(self, batch_size: int, steps: int = DEFAULT_STEPS) -> int:
        """Epochs for about ``steps`` optimisation steps, within [MIN_EPOCHS, MAX_EPOCHS]."""
        per_epoch = max(1, self.n_images // batch_size)
        return int(min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(steps / per_epoch))))

    def planned_steps(self, batch_size: int) -> int | None:
        """Steps of the run when its length is given in epochs (None under a time budget)."""
        if self.time_budget is not None:
            return None
        epochs = self.epochs if self.epochs is not None else self.planned_epochs(batch_size)
        return epochs * max(1, self.n_images // batch_size)


def profile_dataset(dataset: Any, device: str = "cpu", epochs: int | None = None,
                    time_budget: float | None = None, batch_size: int | None = None) -> DataProfile:
    """The :class:`DataProfile` of a loaded training split (in memory or streamed)."""
    tokens = None
    captions = getattr(dataset, "captions", None)
    if captions is not None:
        tokens = caption_tokens(captions)
    mean, std = channel_stats(dataset)
    return DataProfile(channels=int(dataset.channels), image_size=int(dataset.image_size),
                       n_images=len(dataset), device=str(device), epochs=epochs, time_budget=time_budget,
                       batch_size=batch_size, caption_tokens=tokens, mean=mean, std=std,
                       gray=is_gray(dataset))


def is_gray(dataset: Any, sample: int = 2000) -> bool:
    """One channel, or three that are equal in each of the first ``sample`` images."""
    if int(dataset.channels) == 1:
        return True
    images = getattr(dataset, "images", None)
    if images is None:
        images = dataset.to_memory(sample).images
    x = images[:sample]
    return int(dataset.channels) == 3 and bool((x[:, 0] == x[:, 1]).all() and (x[:, 1] == x[:, 2]).all())


def channel_stats(dataset: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std in [0, 1] units of a dataset's images (the first 10k): from memory,
    or from a streamed dataset's shard index when it has them."""
    if getattr(dataset, "images", None) is None:
        if getattr(dataset, "mean", None) is not None:
            return tuple(dataset.mean), tuple(max(s, 1e-3) for s in dataset.std)
        dataset = dataset.to_memory(10_000)
    sample = dataset.images[: 10_000].float().div_(255)
    mean = sample.mean(dim=(0, 2, 3))
    std = sample.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(round(float(m), 4) for m in mean), tuple(round(float(s), 4) for s in std)


def caption_tokens(captions: list[list[str]], sample: int = 2000) -> int:
    """95th percentile of caption lengths in CLIP BPE tokens, start and end tokens included,
    over the captions of the first ``sample`` images."""
    from simclip.text import Tokenizer

    tok = Tokenizer()
    lengths = sorted(len(tok.encode(c)) + 2 for caps in captions[:sample] for c in caps)
    if not lengths:
        return 2
    return lengths[min(len(lengths) - 1, int(0.95 * len(lengths)))]
