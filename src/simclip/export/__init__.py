"""Using simclip models outside simclip: image embeddings as ``.npy``/``.parquet`` files with their
ids (:func:`export_embeddings`), and both CLIP towers as ONNX graphs (:func:`export_onnx`).

Names are imported on first use (PEP 562), so that the command line can register ``simclip export``
without loading torch or ONNX.
"""

from __future__ import annotations

from simclip.lazy import lazy_exports

_HOMES = {
    "export_embeddings": "embeddings", "read_embeddings": "embeddings",
    "ImageTower": "onnx", "TextTower": "onnx", "example_inputs": "onnx", "export_onnx": "onnx",
    "onnx_max_abs_diff": "onnx", "onnx_session": "onnx",
}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
