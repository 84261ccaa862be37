"""Image search over a CLIP embedding space: an on-disk FAISS index and a web service.

``build_index`` / ``add_to_index`` / ``index_info`` manage an index folder, :class:`ImageIndex`
searches one, ``create_app`` / ``serve`` put it behind a JSON API and a web page. Everything model
specific goes through the small :class:`Embedder` protocol.
"""

from simclip.serve.app import create_app, serve
from simclip.serve.embedder import ClipEmbedder, Embedder, load_embedder
from simclip.serve.images import ImageDecodeError
from simclip.serve.index import ImageIndex, IndexMismatchError, add_to_index, build_index, index_info

__all__ = ["ClipEmbedder", "Embedder", "ImageDecodeError", "ImageIndex", "IndexMismatchError",
           "add_to_index", "build_index", "create_app", "index_info", "load_embedder", "serve"]
