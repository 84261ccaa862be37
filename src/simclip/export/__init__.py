"""Using simclip models outside simclip: image embeddings as ``.npy``/``.parquet`` files with their
ids (:func:`export_embeddings`), and both CLIP towers as ONNX graphs (:func:`export_onnx`)."""

from simclip.export.embeddings import export_embeddings, read_embeddings
from simclip.export.onnx import (
                                 ImageTower,
                                 TextTower,
                                 example_inputs,
                                 export_onnx,
                                 onnx_max_abs_diff,
                                 onnx_session,
)

__all__ = ["ImageTower", "TextTower", "example_inputs", "export_embeddings", "export_onnx",
           "onnx_max_abs_diff", "onnx_session", "read_embeddings"]
