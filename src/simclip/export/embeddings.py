"""Image embeddings written to disk with their ids, for use outside simclip (vector databases,
notebooks, other languages).

``.npy``: float32 ``[N, E]`` (row ``i`` embeds ``ids[i]``) and the ids beside it in
``NAME.ids.json``. ``.parquet``: one row per image with columns ``id`` (string), ``embedding``
(fixed-size list of ``E`` float32) and, for labelled datasets, ``label`` (int64); the schema metadata
``simclip`` holds ``embed_dim``, ``normalized`` and the class names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from simclip.clip.preprocess import preprocess_tensor
from simclip.errors import MissingDependencyError, UsageError
from simclip.eval import extract_features

if TYPE_CHECKING:
    from simclip.clip.model import CLIP

FORMATS = (".npy", ".parquet")


def _images_and_labels(data: Any) -> tuple[Tensor, Tensor | None, list[str]]:
    if isinstance(data, Tensor):
        return data, None, []
    images = getattr(data, "images", None)
    if not isinstance(images, Tensor):
        raise TypeError(f"dataset_or_images must be a uint8 tensor [N, C, H, W] or a dataset with "
                        f".images, got {type(data).__name__}")
    return images, getattr(data, "labels", None), list(getattr(data, "classes", []) or [])


def _check_ids(ids: Sequence[str] | None, n: int) -> list[str]:
    if ids is None:
        return [str(i) for i in range(n)]
    if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
        raise TypeError("ids must be a list of str")
    if len(ids) != n:
        raise ValueError(f"ids has {len(ids)} entries for {n} images")
    if len(set(ids)) != n:
        raise ValueError("ids must be unique")
    return list(ids)


def _ids_path(npy_path: Path) -> Path:
    return npy_path.with_name(npy_path.stem + ".ids.json")


def export_embeddings(model: CLIP, dataset_or_images: Any, out_path: str | Path,
                      ids: Sequence[str] | None = None, *, normalize: bool = True, batch_size: int = 256,
                      device: str | torch.device = "cpu") -> Path:
    """Embed images with ``model.encode_image`` and write them to ``out_path`` (``.npy`` or ``.parquet``).

    Args:
        dataset_or_images: uint8 ``[N, C, H, W]`` or a dataset with ``.images`` (and optionally
            ``.labels``/``.classes``), e.g. from :func:`simclip.data.load_dataset`.
        ids: ``N`` unique strings; default ``"0"``, ``"1"``, ...
        normalize: L2-normalise the embeddings (what cosine search needs).
    Returns ``out_path``.
    """
    out_path = Path(out_path)
    if out_path.suffix not in FORMATS:
        raise UsageError(f"out_path must end in one of {FORMATS}, got {str(out_path)!r}")
    images, labels, classes = _images_and_labels(dataset_or_images)
    ids = _check_ids(ids, images.shape[0] if images.ndim == 4 else -1)
    cfg = model.preprocess_cfg
    features = extract_features(lambda x: model.encode_image(x, normalize=normalize), images, batch_size,
                                device, transform=lambda x: preprocess_tensor(x, cfg)).numpy()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if out_path.suffix == ".npy":
        np.save(out_path, features.astype(np.float32))
        _ids_path(out_path).write_text(json.dumps(ids), encoding="utf-8")
        return out_path
    _write_parquet(out_path, features, ids, labels, classes, normalize)
    return out_path


def _write_parquet(path: Path, features: np.ndarray, ids: list[str], labels: Tensor | None,
                   classes: list[str], normalized: bool) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:
        raise MissingDependencyError("writing .parquet needs pyarrow: pip install pyarrow") from err
    dim = features.shape[1]
    flat = pa.array(features.reshape(-1), pa.float32())
    columns = {"id": pa.array(ids, pa.string()), "embedding": pa.FixedSizeListArray.from_arrays(flat, dim)}
    if labels is not None:
        columns["label"] = pa.array(labels.numpy().astype(np.int64))
    meta = {"embed_dim": dim, "normalized": normalized, "classes": classes}
    table = pa.table(columns).replace_schema_metadata({"simclip": json.dumps(meta)})
    pq.write_table(table, path)


def read_embeddings(path: str | Path) -> tuple[list[str], np.ndarray]:
    """``(ids, float32[N, E])`` from a file :func:`export_embeddings` wrote."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"embeddings file {str(path)!r} does not exist")
    if path.suffix == ".npy":
        ids_file = _ids_path(path)
        if not ids_file.is_file():
            raise FileNotFoundError(f"{str(ids_file)!r} (the ids of {path.name}) does not exist")
        return json.loads(ids_file.read_text(encoding="utf-8")), np.load(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        column = table.column("embedding").combine_chunks()
        vectors = column.values.to_numpy().reshape(len(table), column.type.list_size)
        return table.column("id").to_pylist(), vectors.astype(np.float32, copy=False)
    raise UsageError(f"path must end in one of {FORMATS}, got {str(path)!r}")
