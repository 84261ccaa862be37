"""Top-k bars, similarity matrix, embedding map: files written, panel and legend counts, t-SNE clusters."""


import numpy as np
import pytest
import torch
from PIL import Image

from simclip.plots.embedding_map import embed_2d, embedding_figure, plot_embedding_map
from simclip.plots.similarity import plot_similarity_matrix, similarity_figure
from simclip.plots.topk import plot_topk_bars


def _png(path, min_bytes=5_000):
    assert path.stat().st_size > min_bytes
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_topk_bars(tmp_path):
    out = plot_topk_bars(["apple", "ipod", "pear", "plum", "fig"], [0.6, 0.2, 0.1, 0.06, 0.04],
                         tmp_path / "top5.png", true_label="apple", title="zero-shot")
    width, height = _png(out)
    assert width > 300 and height > 200
    with pytest.raises(ValueError, match="equal length"):
        plot_topk_bars(["a", "b"], [0.5], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        plot_topk_bars(["a"], [1.5], tmp_path / "x.png")


def _clustered(n_per_class=50, classes=4, dim=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g) * 4
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    return centres[labels] + torch.randn(len(labels), dim, generator=g), labels


def test_similarity_matrix_has_one_thumbnail_per_image(tmp_path):
    images = torch.randint(0, 256, (4, 3, 24, 24), dtype=torch.uint8)
    image_features, text_features = torch.randn(4, 8), torch.randn(3, 8)
    captions = ["a red square", "a blue circle", "a green star on a long caption"]
    fig = similarity_figure(image_features, text_features, images, captions)
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and len(ax.images) == 4 + 1  # the matrix and four thumbnails
    matrix = ax.images[0].get_array()
    expected = torch.nn.functional.normalize(text_features, dim=1) @ \
        torch.nn.functional.normalize(image_features, dim=1).T
    assert np.allclose(matrix, expected.numpy(), atol=1e-6)
    assert [t.get_text() for t in ax.get_yticklabels()] == captions
    _png(plot_similarity_matrix(image_features, text_features, images[:, :1], captions,
                                tmp_path / "sim.png"))


def test_similarity_matrix_rejects_mismatches(tmp_path):
    images = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="one per image feature"):
        plot_similarity_matrix(torch.randn(3, 4), torch.randn(2, 4), images, ["a", "b"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="captions"):
        plot_similarity_matrix(torch.randn(2, 4), torch.randn(2, 4), images, ["a"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="feature width"):
        plot_similarity_matrix(torch.randn(2, 4), torch.randn(2, 5), images, ["a", "b"], tmp_path / "x.png")


def _knn_accuracy(coords, labels):
    d = ((coords[:, None] - coords[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float((labels[d.argmin(1)] == labels).mean())


def test_tsne_of_200_points_keeps_clusters():
    # no time bound here: CPU seconds of an OpenMP fit grow with the load of a shared machine
    features, labels = _clustered()
    coords = embed_2d(features, "tsne")
    assert coords.shape == (200, 2)
    assert _knn_accuracy(coords, labels.numpy()) > 0.95


def test_pca_matches_the_leading_components():
    features, _ = _clustered()
    coords = embed_2d(features, "pca")
    x = torch.nn.functional.normalize(features, dim=1).double()
    x = x - x.mean(0)
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    reference = (x @ v[:2].T).numpy()
    assert np.allclose(np.abs(coords), np.abs(reference), atol=1e-8)  # components up to sign


def test_embedding_map_file_and_legend(tmp_path):
    features, labels = _clustered(n_per_class=20, classes=3)
    out = plot_embedding_map(features, labels, ["cat", "dog", "car"], tmp_path / "map.png", method="pca")
    _png(out)
    fig = embedding_figure(np.random.default_rng(0).normal(size=(60, 2)), labels, ["cat", "dog", "car"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["cat", "dog", "car"]
    many = embedding_figure(np.zeros((60, 2)), labels, [f"c{i}" for i in range(30)])
    assert many.axes[0].get_legend() is None and len(many.axes) == 2  # a colour bar instead


def test_embedding_map_errors(tmp_path):
    with pytest.raises(ValueError, match="method"):
        embed_2d(torch.randn(10, 4), "umap")
    with pytest.raises(ValueError, match="labels"):
        plot_embedding_map(torch.randn(10, 4), torch.zeros(9, dtype=torch.long), ["a"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="at least 3"):
        embed_2d(torch.randn(2, 4))


def test_similarity_thumbnails_are_the_right_way_up(tmp_path):
    """A thumbnail whose top half is red and bottom half blue keeps them so in the PNG."""
    images = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    images[:, 0, :8] = 255  # red above
    images[:, 2, 8:] = 255  # blue below
    path = plot_similarity_matrix(torch.randn(2, 4), torch.randn(2, 4), images, ["a", "b"],
                                  tmp_path / "sim.png", title="")
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    # pure red and pure blue occur only in the thumbnails (the matrix is viridis, text black/white)
    red_rows = np.flatnonzero((pixels == (255, 0, 0)).all(-1).sum(1) > 10)
    blue_rows = np.flatnonzero((pixels == (0, 0, 255)).all(-1).sum(1) > 10)
    assert red_rows.size > 5 and blue_rows.size > 5
    assert red_rows.max() < blue_rows.min(), "the thumbnail is drawn upside down"
