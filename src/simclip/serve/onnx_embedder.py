"""An :class:`~simclip.serve.embedder.Embedder` that runs both towers in ONNX Runtime.

The graphs come from :func:`simclip.export.onnx.export_onnx` (with the L2 normalisation inside them,
and its parity check against PyTorch), written once when the service starts; preprocessing and
tokenisation stay those of the :class:`~simclip.serve.embedder.ClipEmbedder` the graphs were exported
from, and so do its identity and ``logit_scale``: the same weights, so an index built with PyTorch is
searched with ONNX Runtime queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from simclip.errors import UsageError
from simclip.export.onnx import export_onnx, onnx_session
from simclip.serve.embedder import ClipEmbedder, input_side, trim_padding, unit_rows

FILES = ("image.onnx", "text.onnx")


class OnnxEmbedder:
    """Images and texts through ONNX Runtime sessions of ``image.onnx`` and ``text.onnx``.

    ``image.onnx``: ``images float32[B, C, S, S]`` -> ``float32[B, E]``; ``text.onnx``:
    ``tokens int64[B, L]`` -> ``float32[B, E]`` (``L`` dynamic: padding is cut, see
    :func:`~simclip.serve.embedder.trim_padding`). ``preprocess``, ``tokenizer`` and ``identity`` as
    for :class:`~simclip.serve.embedder.ClipEmbedder`. Sessions may be run from several threads.
    """

    def __init__(self, image_session: Any, text_session: Any, preprocess: Callable[[Image.Image], torch.Tensor],
                 tokenizer: Callable[[list[str]], torch.Tensor], identity: dict[str, Any],
                 logit_scale: float, batch_size: int = 64) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.sessions = {"image": image_session, "text": text_session}
        self.preprocess, self.tokenizer = preprocess, tokenizer
        self.image_size = input_side(preprocess)
        # graphs exported before the token length was dynamic take the full context length only
        self.trims_padding = not isinstance(text_session.get_inputs()[0].shape[1], int)
        self.identity = dict(identity)
        self.logit_scale = float(logit_scale)
        self.batch_size = batch_size

    def _run(self, tower: str, x: np.ndarray) -> np.ndarray:
        session = self.sessions[tower]
        out: np.ndarray = session.run(None, {session.get_inputs()[0].name: x})[0]
        return out

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """``N`` RGB images -> ``float32[N, E]``, rows of unit norm."""
        out = [np.zeros((0, self.identity["embed_dim"]), np.float32)]
        for start in range(0, len(images), self.batch_size):
            batch = torch.stack([self.preprocess(im.convert("RGB"))
                                 for im in images[start:start + self.batch_size]])
            out.append(self._run("image", batch.numpy().astype(np.float32, copy=False)))
        return unit_rows(np.concatenate(out))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """``N`` strings -> ``float32[N, E]``, rows of unit norm."""
        out = [np.zeros((0, self.identity["embed_dim"]), np.float32)]
        for start in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(list(texts[start:start + self.batch_size]))
            tokens = trim_padding(tokens) if self.trims_padding else tokens
            out.append(self._run("text", tokens.numpy().astype(np.int64, copy=False)))
        return unit_rows(np.concatenate(out))


def export_towers(clip: ClipEmbedder, out_dir: str | Path) -> Path:
    """Write ``image.onnx`` and ``text.onnx`` of ``clip``'s model (normalising) to ``out_dir``, checked
    against PyTorch by :func:`~simclip.export.onnx.export_onnx`; returns ``out_dir``."""
    if not hasattr(clip.model, "config"):
        raise UsageError(f"--backend onnx needs a simclip CLIP model; {clip.identity.get('model')!r} "
                         f"({type(clip.model).__name__}) cannot be exported")
    export_onnx(clip.model, out_dir, normalize=True, check=True)
    return Path(out_dir)


def onnx_embedder(clip: ClipEmbedder, onnx_dir: str | Path, threads: int | None = None) -> OnnxEmbedder:
    """An :class:`OnnxEmbedder` over the graphs :func:`export_towers` wrote from ``clip`` to ``onnx_dir``,
    each session with ``threads`` intra-op threads (default: ONNX Runtime's)."""
    paths = [Path(onnx_dir) / name for name in FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"ONNX graphs {missing} do not exist; write them with export_towers")
    return OnnxEmbedder(onnx_session(paths[0], threads), onnx_session(paths[1], threads), clip.preprocess,
                        clip.tokenizer, clip.identity, clip.logit_scale, clip.batch_size)
