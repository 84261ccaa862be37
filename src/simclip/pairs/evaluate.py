"""Evaluation of a paired model on held-out objects; returns ``dict[str, float]`` (percent).

- ``linear`` / ``knn``: each tower's frozen features classified by every label column (``shape``,
  ``color``, ...): CLIP's logistic-regression probe and InstDisc's weighted kNN (k=20, for
  datasets of a few thousand objects), fitted on the training split, scored on the test split.
  Keys ``MODALITY.LABEL.linear_top1`` /
  ``MODALITY.LABEL.knn_top1``, beside ``chance.LABEL`` (100 / classes).
- ``retrieval``: each non-anchor modality queries the anchor's test embeddings for its own object
  (and the reverse), recall@1 and @5: keys ``retrieval.audio_to_image_R@1``,
  ``retrieval.image_to_audio_R@1``, ...; ``retrieval.chance_R@k`` is ``100 k / N`` for N test objects.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from simclip.data.paired import PairedDataset
from simclip.eval import knn_classify, linear_probe, retrieval_recall
from simclip.pairs.model import PairModel
from simclip.train.config import ConfigError

PROTOCOLS = ("linear", "knn", "retrieval")
PROBE_C_GRID = tuple(10.0 ** k for k in range(-3, 4))  # a shorter sweep than the default: 7 fits + 1


@torch.no_grad()
def pair_features(model: PairModel, dataset: PairedDataset, batch_size: int = 256,
                  device: str = "cpu") -> dict[str, Tensor]:
    """``{modality: [N, embed_dim]}`` L2-normalised embeddings of every sample (float32, on the CPU)."""
    was_training = model.training
    model.eval().to(device)
    out: dict[str, list[Tensor]] = {m: [] for m in model.modalities}
    try:
        for start in range(0, len(dataset), batch_size):
            idx = torch.arange(start, min(start + batch_size, len(dataset)))
            entries = dataset.subset(model.modalities).take(idx)
            for m, raw in zip(model.modalities, entries):
                x = model.prepare(m, raw).to(device)
                out[m].append(model.encode(m, x).float().cpu())
    finally:
        model.train(was_training)
    return {m: torch.cat(v) for m, v in out.items()}


def evaluate_pairs(model: PairModel, train: PairedDataset | None, test: PairedDataset,
                   protocols: Sequence[str] = PROTOCOLS, labels: Sequence[str] | None = None,
                   device: str = "cpu") -> dict[str, float]:
    """The ``protocols`` (see the module doc) on ``test``; ``train`` (needed for ``linear`` and
    ``knn``) supplies the labelled features. ``labels``: label columns (default: all of ``test``)."""
    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad:
        raise ConfigError(f"unknown evaluation protocol(s) {', '.join(bad)}; choose from {', '.join(PROTOCOLS)}")
    labels = list(test.labels) if labels is None else list(labels)
    missing = [c for c in labels if c not in test.labels or (train is not None and c not in train.labels)]
    if missing:
        raise ConfigError(f"no label column {', '.join(missing)} in {test.name} (it has {', '.join(test.labels)})")
    result: dict[str, float] = {}
    test_f = pair_features(model, test, device=device)
    if "retrieval" in protocols:
        result.update(cross_modal_recall(test_f, model.anchor))
    probes = [p for p in protocols if p in ("linear", "knn")]
    if probes:
        if train is None:
            raise ConfigError("linear and knn evaluation need the training split")
        train_f = pair_features(model, train, device=device)
        for column in labels:
            classes = len(test.classes[column])
            result[f"chance.{column}"] = 100.0 / classes
            for m in model.modalities:
                result.update(_probe(m, column, probes, train_f[m], train.labels[column], test_f[m],
                                     test.labels[column], classes))
    return result


def cross_modal_recall(features: dict[str, Tensor], anchor: str, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Recall@k between the anchor's and every other modality's features ``[N, E]`` of the same N
    objects, both ways, and chance (``100 k / N``)."""
    n = len(features[anchor])
    own = torch.arange(n)
    result = {f"retrieval.chance_R@{k}": 100.0 * min(k, n) / n for k in ks}
    for m, f in features.items():
        if m == anchor:
            continue
        r = retrieval_recall(features[anchor], f, own, ks=ks)
        for k in ks:
            result[f"retrieval.{m}_to_{anchor}_R@{k}"] = r[f"text_to_image_R@{k}"]
            result[f"retrieval.{anchor}_to_{m}_R@{k}"] = r[f"image_to_text_R@{k}"]
    return result


def _probe(modality: str, column: str, probes: list[str], train_x: Tensor, train_y: Tensor,
           test_x: Tensor, test_y: Tensor, classes: int) -> dict[str, float]:
    out = {}
    if "linear" in probes and train_y.unique().numel() >= 2:
        r = linear_probe(train_x, train_y, test_x, test_y, c_grid=PROBE_C_GRID, refine_steps=1,
                         num_classes=classes)
        out[f"{modality}.{column}.linear_top1"] = r["linear_top1"]
    if "knn" in probes:
        r = knn_classify(train_x, train_y, test_x, test_y, k=min(20, len(train_x)), num_classes=classes)
        out[f"{modality}.{column}.knn_top1"] = r["knn_top1"]
    return out
