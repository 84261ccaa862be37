"""The before/after picture of a typographic attack: the image and its zero-shot top-k bars, then the
same image with a class name written on it and the new bars (Goh et al. 2021, the "iPod" apple)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from simclip.attacks.render import render_text  # noqa: E402
from simclip.clip.preprocess import preprocess_tensor  # noqa: E402
from simclip.eval import rank_labels, zero_shot_classifier  # noqa: E402
from simclip.plots.topk import draw_topk_bars  # noqa: E402

if TYPE_CHECKING:
    from simclip.clip.model import CLIP

Ranking = list[tuple[str, float]]


def attack_rankings(model: CLIP, tokenizer: Callable[[list[str]], Tensor], image: Tensor,
                    classnames: Sequence[str], written_label: str,
                    templates: Sequence[str] = ("a photo of a {}.",), top_k: int = 5,
                    render_kwargs: dict[str, Any] | None = None) -> tuple[Ranking, Ranking, Tensor]:
    """Top-``k`` ``(class name, probability)`` for uint8 ``image`` ``[C, H, W]`` before and after
    ``written_label`` is written on it, and the attacked image (uint8 ``[C, H, W]``).

    Probabilities are the softmax of ``exp(model.logit_scale) * cosine`` over ``classnames``.
    """
    if not isinstance(image, Tensor) or image.dtype != torch.uint8 or image.ndim != 3:
        got = f"{image.dtype} {tuple(image.shape)}" if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"image must be uint8 [C, H, W], got {got}")
    if not isinstance(written_label, str) or not written_label:
        raise ValueError(f"written_label must be a non-empty str, got {written_label!r}")
    attacked = render_text(image[None], written_label, **(render_kwargs or {}))
    scale = math.exp(float(torch.as_tensor(model.logit_scale).detach()))
    with torch.inference_mode():
        classifier = zero_shot_classifier(lambda t: model.encode_text(t, normalize=True), tokenizer,
                                          classnames, templates)
        batch = preprocess_tensor(torch.cat([image[None], attacked]), model.preprocess_cfg)
        features = model.encode_image(batch, normalize=True).float()
    ranked = [[(classnames[i], p) for i, p in rank_labels(f, classifier, scale, top_k)] for f in features]
    return ranked[0], ranked[1], attacked[0]


def _show(ax, image: Tensor, title: str) -> None:
    pixels = image.permute(1, 2, 0).cpu().numpy()
    if pixels.shape[2] == 1:
        ax.imshow(pixels[:, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(pixels, interpolation="nearest")
    ax.set_title(title)
    ax.axis("off")


def attack_figure(model: CLIP, tokenizer: Callable[[list[str]], Tensor], image: Tensor,
                  classnames: Sequence[str], written_label: str, out_path: str | Path, *,
                  true_label: str | None = None, templates: Sequence[str] = ("a photo of a {}.",),
                  top_k: int = 5, render_kwargs: dict[str, Any] | None = None) -> Path:
    """Write a PNG with two columns, clean and attacked: the image above its top-``k`` zero-shot
    bars. ``true_label`` (a class name) is drawn in green; ``image`` is uint8 ``[C, H, W]``."""
    if true_label is not None and true_label not in classnames:
        raise ValueError(f"true_label {true_label!r} is not one of classnames")
    clean, attacked, attacked_image = attack_rankings(model, tokenizer, image, classnames, written_label,
                                                      templates, top_k, render_kwargs)
    k = len(clean)
    fig, axes = plt.subplots(2, 2, figsize=(8.0, 4.0 + 0.4 * k),
                             gridspec_kw={"height_ratios": [3.0, 0.5 + 0.35 * k]})
    _show(axes[0, 0], image, "original")
    _show(axes[0, 1], attacked_image, f'with "{written_label}" written on it')
    for ax, ranking in zip(axes[1], (clean, attacked)):
        names, probs = zip(*ranking)
        draw_topk_bars(ax, names, probs, true_label)
    fig.tight_layout()
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path
