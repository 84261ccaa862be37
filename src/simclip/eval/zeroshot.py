"""Zero-shot classification with a text encoder (Radford et al. 2021, CLIP, sec. 3.1.4).

Each class is represented by the text embedding of prompts such as "a photo of a {}."; with several
templates, the classifier row is the mean of the L2-normalised prompt embeddings, renormalised
(prompt ensembling). An image is assigned to the class of highest cosine similarity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.eval._checks import check_features, check_labels, check_positive_int
from simclip.eval.features import extract_text_features
from simclip.eval.metrics import mean_per_class_recall, percent, topk_correct

EncodeText = Callable[[Tensor], Tensor]
Tokenizer = Callable[[list[str]], Tensor]


def _check_strings(name: str, items: object) -> list[str]:
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise TypeError(f"{name} must be a list of str, got {type(items).__name__}")
    if not items:
        raise ValueError(f"{name} is empty")
    bad = [item for item in items if not isinstance(item, str)]
    if bad:
        raise TypeError(f"{name} must contain only str, got {type(bad[0]).__name__}")
    return list(items)


def zero_shot_classifier(
    encode_text: EncodeText,
    tokenizer: Tokenizer,
    classnames: Sequence[str],
    templates: Sequence[str],
    device: str | torch.device = "cpu",
) -> Tensor:
    """Class embeddings ``[C, E]``: per class, the renormalised mean of the normalised prompts.

    Args:
        encode_text: token ids ``[B, L]`` -> embeddings ``[B, E]`` (``model.encode_text``).
        tokenizer: list of strings -> token ids ``[B, L]``.
        classnames: the ``C`` class names, in label order; underscores are read as spaces.
        templates: prompts with one ``{}`` for the class name (see ``get_templates``).
        device: where the token ids are sent.
    """
    classnames = _check_strings("classnames", classnames)
    templates = _check_strings("templates", templates)
    missing = [t for t in templates if "{}" not in t]
    if missing:
        raise ValueError(f"templates must contain '{{}}' for the class name, got {missing[0]!r}")
    rows = []
    for name in classnames:
        # folder and CIFAR-100 class names use underscores for spaces ("maple_tree")
        prompts = [template.replace("{}", name.replace("_", " ")) for template in templates]
        embeddings = extract_text_features(encode_text, tokenizer, prompts, len(prompts), device)
        rows.append(F.normalize(F.normalize(embeddings, dim=1).mean(0), dim=0))
    return torch.stack(rows)


def zero_shot_eval(
    image_features: Tensor, labels: Tensor, classifier: Tensor, batch_size: int = 4096
) -> dict[str, float]:
    """Zero-shot accuracy of ``image_features`` ``[N, E]`` against ``classifier`` ``[C, E]``.

    Both are L2-normalised, so the scores are cosine similarities. ``labels`` is int ``[N]`` in
    ``[0, C)``. Returns CLIP_benchmark's metrics in percent: ``zeroshot_top1``, ``zeroshot_top5``
    (top-``min(5, C)``) and ``zeroshot_mean_per_class_recall``.
    """
    images = check_features("image_features", image_features)
    classes = check_features("classifier", classifier, dim=images.shape[1])
    labels = check_labels("labels", labels, images.shape[0], num_classes=classes.shape[0])
    check_positive_int("batch_size", batch_size)
    classes = F.normalize(classes, dim=1)
    top1, top5, predictions = [], [], []
    for rows, y in zip(F.normalize(images, dim=1).split(batch_size), labels.split(batch_size)):
        scores = rows @ classes.T
        top1.append(topk_correct(scores, y, 1))
        top5.append(topk_correct(scores, y, 5))
        predictions.append(scores.argmax(1))
    return {
        "zeroshot_top1": percent(torch.cat(top1)),
        "zeroshot_top5": percent(torch.cat(top5)),
        "zeroshot_mean_per_class_recall": mean_per_class_recall(torch.cat(predictions), labels),
    }


def rank_labels(
    image_feature: Tensor, classifier: Tensor, logit_scale: float = 100.0, top_k: int | None = None
) -> list[tuple[int, float]]:
    """Classes ranked for one image: ``[(class_index, probability), ...]``, most probable first.

    ``image_feature`` is ``[E]`` (or ``[1, E]``); probabilities are the softmax of
    ``logit_scale * cosine`` over the ``C`` rows of ``classifier`` (CLIP's trained scale is 100).
    ``top_k`` keeps only the first ``top_k`` entries; ``None`` returns all ``C``.
    """
    if isinstance(image_feature, Tensor) and image_feature.ndim == 1:
        image_feature = image_feature[None]
    image = check_features("image_feature", image_feature)
    if image.shape[0] != 1:
        shape = tuple(image_feature.shape)
        raise ValueError(f"image_feature must be one vector [E], got shape {shape}")
    classes = check_features("classifier", classifier, dim=image.shape[1])
    if top_k is not None:
        check_positive_int("top_k", top_k)
    scores = F.normalize(image, dim=1) @ F.normalize(classes, dim=1).T
    probs = (logit_scale * scores[0].double()).softmax(0)
    order = probs.argsort(descending=True)[:top_k]
    return [(int(i), float(probs[i])) for i in order]

