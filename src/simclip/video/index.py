"""Text->video search: one mean-pooled embedding per video (:func:`simclip.video.embed_video`) in the
image index format of :mod:`simclip.serve.index`, so one reader (:class:`simclip.serve.ImageIndex`)
and one search structure serve both. Ids are the videos' POSIX paths relative to the video folder;
``meta.json`` also records ``"media": "video"`` and how frames were sampled and pooled."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from tqdm.auto import tqdm

from simclip.data.videos.decode import VIDEO_EXTENSIONS
from simclip.errors import UsageError
from simclip.serve.embedder import state_dict_sha256, unit_rows
from simclip.serve.index import (FILES, FORMAT_VERSION, ImageIndex, IndexBuildError, IndexMismatchError,
                                 index_info, write_index_files)
from simclip.serve.vector_index import build_vector_index, choose_kind
from simclip.video.embed import embed_video
from simclip.video.frames import frame_indices, sample_frames

if TYPE_CHECKING:
    from simclip.clip.model import CLIP

log = logging.getLogger(__name__)


def find_videos(root: str | Path) -> list[str]:
    """Video files under ``root`` (recursively, by extension), as sorted relative POSIX paths."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"video folder {str(root)!r} does not exist or is not a folder")
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())


def model_identity(model: CLIP, name: str = "clip") -> dict[str, Any]:
    """The index identity of an in-memory model: its weights' SHA-256 and embedding size."""
    return {"model": name, "checkpoint": None, "sha256": state_dict_sha256(model),
            "embed_dim": int(model.embed_dim)}


def _embed_all(model, preprocess, root: Path, ids: list[str], num_frames: int, strategy: str,
               progress: bool) -> tuple[np.ndarray, list[str], list[str]]:
    vectors, kept, bad = [], [], []
    for rel in tqdm(ids, unit="video", desc="embedding", disable=not progress):
        try:
            frames = sample_frames(root / rel, num_frames, strategy, seed=0)
        except (ValueError, OSError) as err:
            log.warning("skipping unreadable video %s: %s", rel, err)
            bad.append(rel)
            continue
        vectors.append(embed_video(model, frames, preprocess=preprocess).numpy())
        kept.append(rel)
    if bad:
        log.warning("%d of %d videos could not be read and were skipped", len(bad), len(ids))
    return unit_rows(np.stack(vectors)) if vectors else np.zeros((0, 0), np.float32), kept, bad


def build_video_index(model: CLIP, preprocess: Callable[[Image.Image], Tensor] | None,
                      videos_dir: str | Path, out_dir: str | Path, *, num_frames: int = 8,
                      strategy: str = "uniform", identity: dict[str, Any] | None = None,
                      kind: str = "auto", overwrite: bool = False, progress: bool = False) -> dict[str, Any]:
    """Embed every video under ``videos_dir`` and write a search index to ``out_dir``.

    Args:
        model: CLIP-interface model; ``preprocess``: ``PIL.Image -> [C, S, S]`` as for the image
            index, or ``None`` for ``preprocess_tensor`` with ``model.preprocess_cfg``.
        num_frames, strategy: frames per video (:func:`sample_frames`), pooled by their mean.
        identity: the model identity stored in the index (see :mod:`simclip.serve.embedder`);
            default :func:`model_identity`.
        kind: the FAISS structure (``"auto"``, ``"flat"``, ``"ivf"``, ``"hnsw"``).

    Unreadable videos are skipped with a warning. Returns :func:`simclip.serve.index_info` plus
    ``"unreadable"``, the number skipped.
    """
    root, out = Path(videos_dir).resolve(), Path(out_dir)
    frame_indices(1, num_frames, strategy)  # validates before any work
    choose_kind(1 << 30, kind)
    if (out / FILES["meta"]).exists() and not overwrite:
        raise IndexBuildError(f"{str(out)!r} already holds an index; pass overwrite=True to rebuild it")
    ids = find_videos(root)
    if not ids:
        raise IndexBuildError(f"no video files ({', '.join(sorted(VIDEO_EXTENSIONS))}) under {str(root)!r}")
    vectors, kept, bad = _embed_all(model, preprocess, root, ids, num_frames, strategy, progress)
    if not kept:
        raise IndexBuildError(f"none of the {len(ids)} video files under {str(root)!r} could be read")
    index, params = build_vector_index(vectors, kind)
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    meta = {"format": FORMAT_VERSION, "identity": dict(identity or model_identity(model)),
            "image_root": str(root), "count": len(kept), "dim": int(vectors.shape[1]),
            "requested_kind": kind, "vector_index": params, "trained_on": len(kept), "created": now,
            "updated": now, "media": "video",
            "frames": {"num_frames": num_frames, "strategy": strategy, "pooling": "mean"}}
    write_index_files(out, vectors, kept, meta, index)
    return {**index_info(out), "unreadable": len(bad)}


@torch.inference_mode()
def search_videos(index_dir: str | Path, model: CLIP, tokenizer: Callable[[list[str]], Tensor],
                  text: str, k: int = 5, *, identity: dict[str, Any] | None = None,
                  device: str | torch.device = "cpu") -> list[tuple[str, float]]:
    """The ``k`` videos closest to ``text``: ``[(relative path, cosine similarity), ...]``, best first.

    With ``identity`` (the one the index was built with), a different model raises
    :class:`simclip.serve.IndexMismatchError`; without it only the embedding size must agree.
    """
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"text must be a non-empty str, got {text!r}")
    index = ImageIndex(index_dir, identity)
    if index.dim != model.embed_dim:
        raise IndexMismatchError(f"index {str(index_dir)!r} holds {index.dim}-d embeddings but the model gives "
                         f"{model.embed_dim}-d ones: search with the model that built it")
    query = model.encode_text(tokenizer([text]).to(device), normalize=True).float().cpu().numpy()
    scores, ids = index.search(unit_rows(query), k)
    return [(rel, float(s)) for rel, s in zip(ids[0], scores[0])]
