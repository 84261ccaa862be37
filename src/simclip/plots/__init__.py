"""PNG figures (matplotlib, Agg backend): training curves, zero-shot top-k bars, the image-text
similarity matrix and embedding maps."""

from simclip.plots.curves import plot_training_curves
from simclip.plots.embedding_map import plot_embedding_map
from simclip.plots.similarity import plot_similarity_matrix
from simclip.plots.topk import plot_topk_bars

__all__ = ["plot_embedding_map", "plot_similarity_matrix", "plot_topk_bars", "plot_training_curves"]
