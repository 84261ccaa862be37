"""PNG figures (matplotlib, Agg backend): training curves, zero-shot top-k bars, the image-text
similarity matrix and embedding maps.

The names load on first use, so that the command line can register ``simclip plot`` without
importing torch or matplotlib."""

from importlib import import_module

_EXPORTS = {"plot_training_curves": "curves", "plot_embedding_map": "embedding_map",
            "plot_similarity_matrix": "similarity", "plot_topk_bars": "topk"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"simclip.plots.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'simclip.plots' has no attribute {name!r}")
