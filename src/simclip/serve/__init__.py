"""Image search over a CLIP embedding space: an on-disk FAISS index and a web service.

``build_index`` / ``add_to_index`` / ``index_info`` manage an index folder, :class:`ImageIndex`
searches one, ``create_app`` / ``serve`` put it behind a JSON API and a web page. Everything model
specific goes through the small :class:`Embedder` protocol.

Names are imported on first use (PEP 562), so that the command line can register ``simclip index``
and ``simclip serve`` without loading FAISS, FastAPI or torch.
"""

from __future__ import annotations

from simclip.lazy import lazy_exports

_HOMES = {
    "create_app": "app", "serve": "app",
    "ClipEmbedder": "embedder", "Embedder": "embedder", "load_embedder": "embedder",
    "ImageDecodeError": "images",
    "ImageIndex": "index", "IndexMismatchError": "index", "add_to_index": "index",
    "build_index": "index", "index_info": "index",
}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
