"""PNG figures (matplotlib, Agg backend): training curves, zero-shot top-k bars, the image-text
similarity matrix and embedding maps.

The names load on first use, so that the command line can register ``simclip plot`` without
importing torch or matplotlib."""

from simclip.lazy import lazy_exports

_HOMES = {"plot_training_curves": "curves", "plot_embedding_map": "embedding_map",
            "plot_similarity_matrix": "similarity", "plot_topk_bars": "topk"}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
