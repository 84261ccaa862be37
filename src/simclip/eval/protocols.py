"""One evaluation interface: ``evaluate(model, protocols, test=..., train=...) -> dict[str, float]``.

``model`` is anything with the shared model interface: ``encode_image(images) -> [B, F]`` (a
:class:`~simclip.models.SimCLRModel`, a :class:`~simclip.clip.CLIP`), plus
``encode_text(tokens, normalize=True)`` for the protocols that read text. A model with a
``preprocess_cfg`` (CLIP) has its images preprocessed accordingly; SimCLR models normalise
internally. Each split's images are encoded once, whichever protocols read them.

Protocols (:data:`PROTOCOLS`), and what they need of the data:

- ``linear``: logistic-regression probe (:func:`~simclip.eval.linear_probe`); ``train`` and ``test``
  with ``.images`` and ``.labels``.
- ``knn``: weighted kNN (:func:`~simclip.eval.knn_classify`); the same.
- ``zeroshot``: prompt-ensembled zero-shot accuracy (:func:`~simclip.eval.zero_shot_eval`); ``test``
  with ``.images``, ``.labels`` and ``.classes`` (skipped when ``test.labels`` is None, as for
  captions without classes). Templates: ``options["zeroshot"]["templates"]``, else those of
  ``test.name``.
- ``retrieval``: image<->text recall@k (:func:`~simclip.eval.retrieval_recall`); ``test`` with
  ``.images`` and ``.captions`` (a list of captions per image).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.eval.features import extract_features, extract_text_features
from simclip.eval.knn import knn_classify
from simclip.eval.linear import linear_probe
from simclip.eval.retrieval import retrieval_recall
from simclip.eval.templates import get_templates
from simclip.eval.zeroshot import zero_shot_classifier, zero_shot_eval

#: Protocols on features ``(train_features, train_labels, test_features, test_labels, **options)``.
CLASSIFICATION_PROTOCOLS: dict[str, Callable[..., dict[str, float]]] = {
    "knn": knn_classify,
    "linear": linear_probe,
}
TEXT_PROTOCOLS = ("zeroshot", "retrieval")
PROTOCOLS = (*CLASSIFICATION_PROTOCOLS, *TEXT_PROTOCOLS)


class ImageModel(Protocol):
    """What every protocol needs of a model."""

    def encode_image(self, images: Tensor, /) -> Tensor: ...


def evaluate(
    model: ImageModel,
    protocols: str | Sequence[str],
    *,
    test: Any,
    train: Any = None,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    transform: Callable[[Tensor], Tensor] | None = None,
    tokenizer: Callable[[list[str]], Tensor] | None = None,
    progress: bool = False,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, float]:
    """Run ``protocols`` (names from :data:`PROTOCOLS`) on ``model``; see the module doc.

    Args:
        model: has ``encode_image``; ``zeroshot`` and ``retrieval`` also use ``encode_text``.
        protocols: one name or several.
        test, train: the splits (``train`` only for ``linear`` and ``knn``).
        batch_size, device: of the image encoding (:func:`~simclip.eval.extract_features`).
        transform: applied to each float batch in [0, 1] before ``encode_image``; default: the
            model's ``preprocess_cfg`` when it has one, else none.
        tokenizer: list of str -> token ids; default :func:`simclip.clip.get_tokenizer` of the model.
        progress: report the encoding and the linear probe's fits on stderr.
        options: keyword arguments per protocol, e.g. ``{"knn": {"k": 20}, "linear": {"c_grid":
            [1.0]}, "zeroshot": {"templates": ["a photo of a {}."]}, "retrieval": {"ks": (1, 5)}}``.

    Returns:
        The protocols' results merged into one dict (``linear_top1``, ``knn_top1``,
        ``zeroshot_top1``, ``image_to_text_R@1``, ...), in percent.
    """
    protocols = (protocols,) if isinstance(protocols, str) else tuple(protocols)
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown or not protocols:
        raise ValueError(f"protocols must name some of {sorted(PROTOCOLS)}, got {list(protocols)}")
    options = dict(options or {})
    extra = sorted(set(options) - set(protocols))
    if extra:
        raise ValueError(f"options given for protocols not requested: {extra}")
    if transform is None and getattr(model, "preprocess_cfg", None) is not None:
        transform = _preprocess(model)
    kwargs: dict[str, Any] = dict(batch_size=batch_size, device=device, transform=transform)
    classify = [p for p in protocols if p in CLASSIFICATION_PROTOCOLS]
    text = [p for p in protocols if p in TEXT_PROTOCOLS]
    if text and not callable(getattr(model, "encode_text", None)):
        raise TypeError(f"protocol(s) {', '.join(text)} need a model with encode_text; "
                        f"{type(model).__name__} has none")
    results: dict[str, float] = {}
    if classify:
        train_images, train_labels = _split("train", train, ("images", "labels"))
        test_images, test_labels = _split("test", test, ("images", "labels"))
        train_features = extract_features(model.encode_image, train_images,
                                          progress=progress and "features (train)", **kwargs)
    else:
        (test_images,) = _split("test", test, ("images",))
    features = extract_features(model.encode_image, test_images, progress=progress and "features (test)",
                                **kwargs)
    for name in classify:
        kw: dict[str, Any] = {"progress": progress} if name == "linear" else {}  # many L-BFGS fits
        kw.update(options.get(name, {}))
        results.update(CLASSIFICATION_PROTOCOLS[name](train_features, train_labels, features, test_labels, **kw))
    if text:
        results.update(_text_protocols(model, text, test, F.normalize(features, dim=1), tokenizer, device,
                                       options))
    return results


def _text_protocols(model: Any, protocols: list[str], test: Any, features: Tensor,
                    tokenizer: Callable[[list[str]], Tensor] | None, device: str | torch.device,
                    options: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Zero-shot and retrieval on unit-length image ``features`` of ``test``."""
    if tokenizer is None:
        from simclip.clip import get_tokenizer

        tokenizer = get_tokenizer(model)
    # a partial of the method, so that extraction puts the model in eval mode
    encode_text = functools.partial(model.encode_text, normalize=True)
    out: dict[str, float] = {}
    if "zeroshot" in protocols and getattr(test, "labels", None) is not None:
        opts = dict(options.get("zeroshot", {}))
        templates = opts.pop("templates", None) or get_templates(getattr(test, "name", None))
        (classes,) = _split("test", test, ("classes",))
        classifier = zero_shot_classifier(encode_text, tokenizer, classes, templates, device)
        out.update(zero_shot_eval(features, test.labels, classifier, **opts))
    if "retrieval" in protocols:
        (captions,) = _split("test", test, ("captions",))
        texts = [c for caps in captions for c in caps]
        owner = torch.tensor([i for i, caps in enumerate(captions) for _ in caps])
        text_features = extract_text_features(encode_text, tokenizer, texts, device=device)
        out.update(retrieval_recall(features, text_features, owner, **options.get("retrieval", {})))
    return out


def _preprocess(model: Any) -> Callable[[Tensor], Tensor]:
    from simclip.clip import preprocess_tensor

    def transform(x: Tensor) -> Tensor:
        return preprocess_tensor(x, model.preprocess_cfg)

    return transform


def _split(name: str, dataset: object, attrs: tuple[str, ...]) -> tuple[Any, ...]:
    missing = [attr for attr in attrs if getattr(dataset, attr, None) is None]
    if missing:
        have = "got None" if dataset is None else f"{type(dataset).__name__} has no .{missing[0]}"
        raise TypeError(f"{name} must have {' and '.join('.' + a for a in attrs)}; {have}")
    return tuple(getattr(dataset, attr) for attr in attrs)
