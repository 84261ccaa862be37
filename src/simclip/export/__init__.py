"""Using simclip models outside simclip: image embeddings as ``.npy``/``.parquet`` files with their
ids (:func:`export_embeddings`), and both CLIP towers as ONNX graphs (:func:`export_onnx`).

Names are imported on first use (PEP 562), so that the command line can register ``simclip export``
without loading torch or ONNX.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "export_embeddings": "embeddings", "read_embeddings": "embeddings",
    "ImageTower": "onnx", "TextTower": "onnx", "example_inputs": "onnx", "export_onnx": "onnx",
    "onnx_max_abs_diff": "onnx", "onnx_session": "onnx",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'simclip.export' has no attribute {name!r}")
    return getattr(importlib.import_module(f"simclip.export.{_HOMES[name]}"), name)
