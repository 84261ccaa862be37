"""Typographic attacks on zero-shot CLIP (Goh et al. 2021, "Multimodal Neurons in Artificial Neural
Networks"; Radford et al. 2021, sec. 7): write a wrong class name onto each image and measure how
often the zero-shot prediction follows the written word instead of the picture."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from simclip.attacks.render import render_text
from simclip.clip.preprocess import preprocess_tensor
from simclip.eval import extract_features, zero_shot_classifier
from simclip.eval._checks import check_labels

if TYPE_CHECKING:
    from simclip.clip.model import CLIP

Tokenizer = Callable[[list[str]], Tensor]


def choose_attack_labels(labels: Tensor, classnames: Sequence[str],
                         attack_labels: str | Sequence[int | str] | Tensor = "random-other",
                         seed: int = 0) -> Tensor:
    """The class index to write on each image, int64 ``[N]``, never the image's own label.

    ``"random-other"``: uniform over the other classes (seeded). A sequence or tensor: one class
    index or class name per image.
    """
    n, num_classes = labels.shape[0], len(classnames)
    if isinstance(attack_labels, str):
        if attack_labels != "random-other":
            raise ValueError(f"attack_labels must be 'random-other' or one label per image, "
                             f"got {attack_labels!r}")
        if num_classes < 2:
            raise ValueError("a typographic attack needs at least 2 classes to write a wrong one")
        generator = torch.Generator().manual_seed(seed)
        offset = torch.randint(1, num_classes, (n,), generator=generator)
        return (labels + offset) % num_classes
    if not isinstance(attack_labels, Tensor):
        index = {name: i for i, name in enumerate(classnames)}
        unknown = [a for a in attack_labels if isinstance(a, str) and a not in index]
        if unknown:
            raise ValueError(f"attack_labels name {unknown[0]!r}, which is not one of classnames")
        attack_labels = torch.tensor([index[a] if isinstance(a, str) else a for a in attack_labels],
                                     dtype=torch.int64)
    attack = check_labels("attack_labels", attack_labels, n, num_classes=num_classes)
    same = int((attack == labels).sum())
    if same:
        raise ValueError(f"attack_labels equal the true label for {same} image(s); the written label "
                         f"must be a wrong class")
    return attack


def typographic_attack_eval(model: CLIP, tokenizer: Tokenizer, images: Tensor, labels: Tensor,
                            classnames: Sequence[str], templates: Sequence[str] = ("a photo of a {}.",),
                            attack_labels: str | Sequence[int | str] | Tensor = "random-other", *,
                            seed: int = 0, batch_size: int = 256, device: str | torch.device = "cpu",
                            render_kwargs: dict[str, Any] | None = None,
                            control_text: str | None = None) -> dict[str, float]:
    """Zero-shot accuracy before and after writing a wrong class name onto every image.

    Args:
        model: a CLIP-interface model (``encode_image``/``encode_text`` with ``normalize=``,
            ``preprocess_cfg``).
        tokenizer: list of strings -> token ids ``[B, L]``.
        images: uint8 ``[N, C, H, W]``; the text is written at this resolution, before the
            model's preprocessing, as a label on a physical object would be.
        labels: int64 ``[N]`` indexing ``classnames``.
        templates: zero-shot prompt templates with ``{}`` (prompt-ensembled classifier).
        attack_labels: see :func:`choose_attack_labels`.
        render_kwargs: options of :func:`simclip.attacks.render_text` (size, position, colour, ...).
        control_text: also write this non-class text (e.g. ``"qwerty"``) the same way and report
            ``control_top1``: the accuracy lost to covering pixels alone, so that
            ``control_top1 - attacked_top1`` is what reading the written label costs.

    Returns (percentages): ``clean_top1``, ``attacked_top1``, ``accuracy_drop`` (points),
    ``attack_success_rate`` (of the images classified correctly when clean, the share now classified
    as the written label; NaN when none was correct), ``written_label_rate`` (share of all attacked
    images classified as their written label), and ``num_images``, ``num_clean_correct``.
    """
    if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
        got = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be uint8 [N, C, H, W], got {got}")
    labels = check_labels("labels", labels, images.shape[0], num_classes=len(classnames))
    attack = choose_attack_labels(labels, classnames, attack_labels, seed)
    attacked = render_text(images, [classnames[a] for a in attack.tolist()], **(render_kwargs or {}))
    classifier = zero_shot_classifier(lambda t: model.encode_text(t, normalize=True), tokenizer,
                                      classnames, templates, device)
    cfg = model.preprocess_cfg

    def predict(x: Tensor) -> Tensor:
        features = extract_features(lambda b: model.encode_image(b, normalize=True), x, batch_size,
                                    device, transform=lambda b: preprocess_tensor(b, cfg))
        return (features @ classifier.T).argmax(1)

    metrics = attack_metrics(labels, attack, predict(images), predict(attacked))
    if control_text is not None:
        if not isinstance(control_text, str) or not control_text.strip():
            raise ValueError(f"control_text must be a non-empty str, got {control_text!r}")
        control = render_text(images, control_text, **(render_kwargs or {}))
        metrics["control_top1"] = 100.0 * float((predict(control) == labels).double().mean())
    return metrics


def attack_metrics(labels: Tensor, attack: Tensor, clean_pred: Tensor, attacked_pred: Tensor
                   ) -> dict[str, float]:
    """The metrics of :func:`typographic_attack_eval` from int ``[N]`` labels, written labels and
    predictions on the clean and attacked images."""
    correct = clean_pred == labels
    followed = attacked_pred == attack
    n_correct = int(correct.sum())
    clean = 100.0 * float(correct.double().mean())
    attacked = 100.0 * float((attacked_pred == labels).double().mean())
    success = 100.0 * int((correct & followed).sum()) / n_correct if n_correct else float("nan")
    return {"clean_top1": clean, "attacked_top1": attacked, "accuracy_drop": clean - attacked,
            "attack_success_rate": success, "written_label_rate": 100.0 * float(followed.double().mean()),
            "num_images": float(labels.shape[0]), "num_clean_correct": float(n_correct)}
