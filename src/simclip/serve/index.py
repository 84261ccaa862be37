"""An on-disk index of image embeddings for text->image and image->image search.

A folder holds four files, all rewritten together:
  ``embeddings.npy``  float32[N, E], unit rows, row i embeds image ``ids[i]``
  ``ids.json``        the N ids: POSIX paths relative to the image root
  ``meta.json``       format version, the model identity, the image root, the FAISS parameters
  ``index.faiss``     the search structure over the embeddings (see :mod:`simclip.serve.vector_index`)
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from tqdm.auto import tqdm

from simclip.errors import SimclipError
from simclip.serve.embedder import Embedder, same_identity
from simclip.serve.images import (ImageDecodeError, find_images, inside_root, open_image_file,
                                  resolve_image_files)
from simclip.serve.vector_index import (build_vector_index, choose_kind, search_vectors,
                                        set_search_param)

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
FILES = {"embeddings": "embeddings.npy", "ids": "ids.json", "meta": "meta.json", "faiss": "index.faiss"}
# An IVF index is retrained once the collection has grown 4x past the vectors its cells were trained
# on: cells fitted to a quarter of the data no longer balance the lists.
RETRAIN_GROWTH = 4


class IndexMismatchError(SimclipError, ValueError):
    """The index was built with other model weights than the embedder that would query it."""


class IndexBuildError(SimclipError, ValueError):
    """An index that cannot be built or opened as asked: its folder already holds one, there are no
    readable images, or the files are of another format version or inconsistent."""


def _check_identity(meta: dict[str, Any], identity: dict[str, Any], index_dir: Path) -> None:
    if not same_identity(meta["identity"], identity):
        raise IndexMismatchError(
            f"index {str(index_dir)!r} was built by model {meta['identity'].get('model')!r} "
            f"(weights sha256 {str(meta['identity'].get('sha256'))[:12]}..., dim "
            f"{meta['identity'].get('embed_dim')}) but the model given is {identity.get('model')!r} "
            f"(sha256 {str(identity.get('sha256'))[:12]}..., dim {identity.get('embed_dim')}); "
            f"rebuild the index with this model or serve it with the model that built it")


def _read_meta(index_dir: Path) -> dict[str, Any]:
    path = index_dir / FILES["meta"]
    if not path.is_file():
        raise FileNotFoundError(f"{str(index_dir)!r} is not an image index (no {FILES['meta']})")
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT_VERSION:
        raise IndexBuildError(f"index {str(index_dir)!r} has format {meta.get('format')!r}; this version of "
                         f"simclip reads format {FORMAT_VERSION}")
    return meta


def write_index_files(index_dir: Path, embeddings: np.ndarray, ids: list[str], meta: dict[str, Any],
                       index: faiss.Index) -> None:
    """Write all four files under temporary names, then rename each into place."""
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = {key: index_dir / f".{name}.tmp" for key, name in FILES.items()}
    with open(tmp["embeddings"], "wb") as f:
        np.save(f, embeddings)
    tmp["ids"].write_text(json.dumps(ids), encoding="utf-8")
    faiss.write_index(index, str(tmp["faiss"]))
    tmp["meta"].write_text(json.dumps(meta, indent=2), encoding="utf-8")
    for key, name in FILES.items():  # meta last: it is what marks the folder as an index
        os.replace(tmp[key], index_dir / name)


def _embed_files(embedder: Embedder, root: Path, ids: Sequence[str], batch_size: int,
                 progress: bool) -> tuple[np.ndarray, list[str], list[str]]:
    """Embed ``root/id`` for each id; returns ``(vectors, embedded ids, unreadable ids)``."""
    dim = int(embedder.identity["embed_dim"])
    chunks, kept, bad = [np.zeros((0, dim), np.float32)], [], []
    with tqdm(total=len(ids), unit="img", desc="embedding", disable=not progress) as bar:
        for start in range(0, len(ids), batch_size):
            images, names = [], []
            for rel in ids[start:start + batch_size]:
                try:
                    images.append(open_image_file(root / rel))
                    names.append(rel)
                except (ImageDecodeError, OSError) as err:
                    log.warning("skipping unreadable image %s: %s", rel, err)
                    bad.append(rel)
            if images:
                vectors = np.asarray(embedder.embed_images(images), dtype=np.float32)
                if vectors.shape != (len(images), dim):
                    raise ValueError(f"embedder returned shape {vectors.shape} for {len(images)} images; "
                                     f"expected ({len(images)}, {dim})")
                chunks.append(vectors)
                kept += names
            bar.update(len(ids[start:start + batch_size]))
    if bad:
        log.warning("%d of %d images could not be read and were skipped", len(bad), len(ids))
    return np.concatenate(chunks), kept, bad


def build_index(embedder: Embedder, images_dir: str | Path, out_dir: str | Path, batch_size: int = 64,
                progress: bool = True, kind: str = "auto", overwrite: bool = False) -> dict[str, Any]:
    """Embed every image under ``images_dir`` (recursively) and write an index to ``out_dir``.

    Unreadable or corrupt files are skipped with a warning and counted. ``kind``: ``"auto"`` (exact
    up to 20,000 images, IVF above), ``"flat"``, ``"ivf"`` or ``"hnsw"``. Returns :func:`index_info`
    plus ``"unreadable"``, the number of files skipped.
    """
    root, out = Path(images_dir).resolve(), Path(out_dir)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    choose_kind(1 << 30, kind)  # validates the name before any work
    if (out / FILES["meta"]).exists() and not overwrite:
        raise IndexBuildError(f"{str(out)!r} already holds an index; add to it with add_to_index or "
                         f"pass overwrite=True to rebuild it")
    ids = find_images(root)
    if not ids:
        raise IndexBuildError(f"no image files under {str(root)!r}")
    vectors, kept, bad = _embed_files(embedder, root, ids, batch_size, progress)
    if not kept:
        raise IndexBuildError(f"none of the {len(ids)} image files under {str(root)!r} could be read")
    index, params = build_vector_index(vectors, kind)
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    meta = {"format": FORMAT_VERSION, "identity": dict(embedder.identity), "image_root": str(root),
            "count": len(kept), "dim": int(vectors.shape[1]), "requested_kind": kind,
            "vector_index": params, "trained_on": len(kept), "created": now, "updated": now}
    write_index_files(out, vectors, kept, meta, index)
    return {**index_info(out), "unreadable": len(bad)}


def add_to_index(index_dir: str | Path, embedder: Embedder, new_images: str | Path | Sequence[str | Path],
                 batch_size: int = 64, progress: bool = True) -> dict[str, Any]:
    """Embed images not yet in the index and add them; ids already indexed are skipped.

    ``new_images``: a folder (walked recursively) or image files, all inside the index's image root.
    Returns ``{"added", "already_indexed", "unreadable", "count"}``. The FAISS structure is rebuilt
    when the collection crosses the exact/approximate threshold or outgrows its IVF training. A
    running service keeps the index it opened; restart it to serve the additions.
    """
    index_dir = Path(index_dir)
    meta = _read_meta(index_dir)
    _check_identity(meta, embedder.identity, index_dir)
    root = Path(meta["image_root"])
    items = [new_images] if isinstance(new_images, (str, Path)) else list(new_images)
    candidates = resolve_image_files(root, items)
    ids = json.loads((index_dir / FILES["ids"]).read_text(encoding="utf-8"))
    known = set(ids)
    fresh = [rel for rel in candidates if rel not in known]
    vectors, kept, bad = _embed_files(embedder, root, fresh, batch_size, progress)
    report = {"added": len(kept), "already_indexed": len(candidates) - len(fresh), "unreadable": len(bad)}
    if not kept:
        return {**report, "count": len(ids)}
    embeddings = np.concatenate([np.load(index_dir / FILES["embeddings"]), vectors])
    ids += kept
    kind, params = meta["vector_index"]["kind"], meta["vector_index"]
    if (choose_kind(len(ids), meta["requested_kind"]) != kind
            or (kind == "ivf" and len(ids) > RETRAIN_GROWTH * meta["trained_on"])):
        index, params = build_vector_index(embeddings, meta["requested_kind"])
        meta["trained_on"] = len(ids)
    else:
        index = faiss.read_index(str(index_dir / FILES["faiss"]))
        index.add(vectors)
    meta.update(count=len(ids), vector_index=params, updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    write_index_files(index_dir, embeddings, ids, meta, index)
    return {**report, "count": len(ids)}


def index_info(index_dir: str | Path) -> dict[str, Any]:
    """What an index holds: count, dimension, model identity, image root, search structure, dates."""
    index_dir = Path(index_dir)
    meta = _read_meta(index_dir)
    keys = ("count", "dim", "identity", "image_root", "vector_index", "created", "updated")
    return {"path": str(index_dir.resolve()), **{key: meta[key] for key in keys}}


class ImageIndex:
    """A loaded index, ready to search; read-only and safe to search from several threads. The FAISS
    file is memory-mapped (the vectors of exact and HNSW indexes, the full-precision copies that an IVF
    index re-ranks with), so several processes serving one index share one copy in memory."""

    def __init__(self, index_dir: str | Path, identity: dict[str, Any] | None = None) -> None:
        """Open ``index_dir``; when ``identity`` is given it must match the one that built the index
        (else :class:`IndexMismatchError`)."""
        self.path = Path(index_dir)
        self.meta = _read_meta(self.path)
        if identity is not None:
            _check_identity(self.meta, identity, self.path)
        self.ids: list[str] = json.loads((self.path / FILES["ids"]).read_text(encoding="utf-8"))
        self._row_of = {rel: row for row, rel in enumerate(self.ids)}
        self.root = Path(self.meta["image_root"])
        # Memory-mapped and read-only: the vectors are paged in from the file on demand and shared
        # through the page cache by every process that serves this index, not copied into each.
        self._index = faiss.read_index(str(self.path / FILES["faiss"]),
                                       faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        if self._index.ntotal != len(self.ids):
            raise IndexBuildError(f"index {str(self.path)!r} is inconsistent: {self._index.ntotal} vectors "
                             f"but {len(self.ids)} ids")
        set_search_param(self._index, self.meta["vector_index"].get("search_param"))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def info(self) -> dict[str, Any]:
        return index_info(self.path)

    def search(self, query_vecs: np.ndarray, k: int) -> tuple[np.ndarray, list[list[str]]]:
        """Top-``k`` by cosine similarity for unit ``query_vecs`` ``[Q, E]``.

        Returns ``(scores float32[Q, k'], ids)`` with ``k' = min(k, len(self))``; each row of ``ids``
        lists image ids best first (a row may be shorter when an approximate search finds fewer).
        """
        scores, rows = search_vectors(self._index, query_vecs, k)
        ids = [[self.ids[r] for r in row if r >= 0] for row in rows]
        return scores, ids

    def has(self, image_id: str) -> bool:
        return image_id in self._row_of

    def file_of(self, image_id: str) -> Path | None:
        """The file of an indexed id, or ``None`` when ``image_id`` is not in the index or its file
        is missing or resolves outside the image root (a symlink swapped in after indexing)."""
        if image_id not in self._row_of:
            return None
        path = self.root / self.ids[self._row_of[image_id]]
        if not path.is_file() or not inside_root(path, self.root):
            return None
        return path
