"""Text->video retrieval with an image CLIP: frames sampled per video (:func:`sample_frames`),
their embeddings mean-pooled (:func:`embed_video`, CLIP4Clip's "meanP", Luo et al. 2021), and an
index in the image search format (:func:`build_video_index`, :func:`search_videos`).

Names are imported on first use (PEP 562), so that the command line can register ``simclip video``
without loading torch, PyAV or FAISS.
"""

from __future__ import annotations

from simclip.lazy import lazy_exports

_HOMES = {
    "embed_video": "embed", "mean_pool": "embed",
    "STRATEGIES": "frames", "frame_indices": "frames", "sample_frames": "frames",
    "VideoDecodeError": "frames",
    "VIDEO_EXTENSIONS": "index", "build_video_index": "index", "find_videos": "index",
    "model_identity": "index", "search_videos": "index",
}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
