"""A 2-D map of an embedding space, one dot per sample coloured by its class: t-SNE (van der Maaten &
Hinton 2008) as in the CLIP paper's representation figures, or PCA."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import Tensor  # noqa: E402

from simclip.eval._checks import check_features, check_labels  # noqa: E402

METHODS = ("tsne", "pca")
_METHOD_NAMES = {"tsne": "t-SNE", "pca": "PCA"}
MAX_LEGEND_CLASSES = 20  # beyond this a legend hides the map; a colour bar gives the class index


def embed_2d(features: Tensor, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """``[N, E]`` features -> ``float[N, 2]`` coordinates.

    Features are L2-normalised first, so Euclidean distances rank pairs as cosine similarity does.
    t-SNE uses perplexity ``min(30, (N - 1) / 3)`` (scikit-learn needs it below ``N``) and PCA
    initialisation, which keeps the global layout stable across seeds (Kobak & Berens 2019).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    x = F.normalize(check_features("features", features), dim=1).double().numpy()
    if x.shape[0] < 3:
        raise ValueError(f"an embedding map needs at least 3 samples, got {x.shape[0]}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(x)
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (x.shape[0] - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def embedding_figure(coords: np.ndarray, labels: Tensor, classnames: Sequence[str],
                     title: str = "") -> Figure:
    """Scatter of ``[N, 2]`` ``coords`` coloured by ``labels``; one legend entry per class present."""
    label_ids = check_labels("labels", labels, coords.shape[0], num_classes=len(classnames)).numpy()
    many = len(classnames) > MAX_LEGEND_CLASSES
    cmap = plt.get_cmap("tab10" if len(classnames) <= 10 else "tab20" if not many else "turbo")
    fig, ax = plt.subplots(figsize=(7.5 if not many else 6.5, 6.0))
    for k in np.unique(label_ids):
        at = label_ids == k
        colour = cmap(k / max(len(classnames) - 1, 1)) if many else cmap(k)
        ax.scatter(coords[at, 0], coords[at, 1], s=8, color=colour, label=classnames[k], alpha=0.8)
    if many:
        mapper = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, len(classnames) - 1))
        fig.colorbar(mapper, ax=ax, label="class index")
    else:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=2, frameon=False)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_embedding_map(features: Tensor, labels: Tensor, classnames: Sequence[str], out: str | Path,
                       method: str = "tsne", seed: int = 0, title: str = "") -> Path:
    """Write a PNG map of ``[N, E]`` ``features`` in 2-D (:func:`embed_2d`), dots coloured by int
    ``labels`` ``[N]`` indexing ``classnames``."""
    features = check_features("features", features)
    labels = check_labels("labels", labels, features.shape[0], num_classes=len(classnames))
    title = title or f"{_METHOD_NAMES.get(method, method)} of {features.shape[0]} embeddings"
    fig = embedding_figure(embed_2d(features, method, seed), labels, classnames, title)
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
