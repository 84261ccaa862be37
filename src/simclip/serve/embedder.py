"""What the index and the service need from a model: images and texts in, unit vectors out.

:class:`Embedder` is the whole contract; :class:`ClipEmbedder` fulfils it for any CLIP-interface model
(``encode_image``/``encode_text`` with ``normalize=``, ``logit_scale``). The ``identity`` travels into
every index so that vectors from one model are never searched with queries from another.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image

if TYPE_CHECKING:
    from simclip.clip.model import CLIP

# Fields of ``identity`` that must agree between an index and the model that queries it. The
# checkpoint path is recorded but not compared: the same weights may be moved or copied.
IDENTITY_KEYS = ("model", "sha256", "embed_dim")


@runtime_checkable
class Embedder(Protocol):
    """Maps images and texts into one L2-normalised embedding space of size ``identity["embed_dim"]``.

    ``identity``: ``{"model": str, "checkpoint": str | None, "sha256": str, "embed_dim": int}``.
    ``logit_scale``: the inverse temperature ``exp(t)`` that turns cosine similarities into logits.
    An embedder may also have ``image_size``: the side ``S`` its preprocessing shrinks images to (the
    service then decodes large JPEG uploads at a reduced size, see :func:`input_side`).
    """

    identity: dict[str, Any]
    logit_scale: float

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """``N`` RGB images -> ``float32[N, E]``, rows of unit norm."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """``N`` strings -> ``float32[N, E]``, rows of unit norm."""
        ...


def unit_rows(x: np.ndarray) -> np.ndarray:
    """``float32[N, E]`` with each row scaled to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def trim_padding(tokens: torch.Tensor) -> torch.Tensor:
    """``LongTensor[B, L]`` -> ``[B, L']``: the columns after the last non-zero id of every row (the
    padding, id 0) cut off. Text towers take ``L' <= context_length``; simclip's causal text tower gives
    the same features for the shorter rows, and one that masks its padding does too. A search query
    is a few tokens of the 77 (or 32) it is padded to, so most of the text tower's work goes."""
    used = (tokens != 0).any(dim=0).nonzero()
    length = int(used[-1]) + 1 if len(used) else 1
    return tokens[:, :length]


def input_side(preprocess: object) -> int | None:
    """The side ``S`` that ``preprocess`` resizes images to, when it says so (simclip's
    :class:`~simclip.clip.preprocess.ImagePreprocess` does through its config); else None."""
    size = getattr(getattr(preprocess, "cfg", None), "image_size", None)
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def state_dict_sha256(model: torch.nn.Module) -> str:
    """Hex SHA-256 over parameter names and values, for models that do not come from a file."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def same_identity(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when two identities name the same weights and embedding size (see :data:`IDENTITY_KEYS`)."""
    return all(a.get(key) == b.get(key) for key in IDENTITY_KEYS)


class ClipEmbedder:
    """:class:`Embedder` over a simclip CLIP ``model``, its ``preprocess`` and a ``tokenizer``.

    ``preprocess``: ``PIL.Image -> FloatTensor[3, S, S]``; ``tokenizer``: ``list[str] -> LongTensor[B, L]``.
    Safe to call from several threads at once: the model is put in eval mode and only read.
    """

    def __init__(self, model: CLIP, preprocess: Callable[[Image.Image], torch.Tensor],
                 tokenizer: Callable[[list[str]], torch.Tensor], identity: dict[str, Any],
                 device: str | torch.device = "cpu", batch_size: int = 64) -> None:
        missing = [key for key in IDENTITY_KEYS if key not in identity]
        if missing:
            raise ValueError(f"identity lacks {missing}; it needs {list(IDENTITY_KEYS)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.preprocess = preprocess
        self.image_size = input_side(preprocess)
        self.tokenizer = tokenizer
        self.identity = dict(identity)
        self.batch_size = batch_size
        self.logit_scale = float(math.exp(float(torch.as_tensor(model.logit_scale).detach())))

    @torch.inference_mode()
    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        out = [np.zeros((0, self.identity["embed_dim"]), np.float32)]
        for start in range(0, len(images), self.batch_size):
            batch = torch.stack([self.preprocess(im.convert("RGB"))
                                 for im in images[start:start + self.batch_size]])
            out.append(self.model.encode_image(batch.to(self.device), normalize=True).float().cpu().numpy())
        return unit_rows(np.concatenate(out))

    @torch.inference_mode()
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        out = [np.zeros((0, self.identity["embed_dim"]), np.float32)]
        for start in range(0, len(texts), self.batch_size):
            tokens = trim_padding(self.tokenizer(list(texts[start:start + self.batch_size])))
            out.append(self.model.encode_text(tokens.to(self.device), normalize=True).float().cpu().numpy())
        return unit_rows(np.concatenate(out))


def _tokenizer_for(model: CLIP, tokenizer: str | Path | None) -> Callable:
    """``tokenizer`` when given ("clip" or a trained BPE folder); else the text tower's own."""
    from simclip.text import get_tokenizer

    if tokenizer is None or (tokenizer == "clip" and hasattr(getattr(model, "text", None), "tokenize")):
        from simclip.recipes.clip import tokenizer_for

        return tokenizer_for(model)

    config = getattr(model, "config", None)
    context_length = config.text.context_length if config is not None else 77
    return get_tokenizer(tokenizer, context_length=context_length)


def embedder_from_model_name(name: str, seed: int = 0, tokenizer: str | Path | None = "clip",
                             device: str = "cpu") -> ClipEmbedder:
    """A randomly initialised (seeded) CLIP ``name`` of :func:`simclip.clip.create_model`: scores are
    meaningless, but every code path is the real one. For smoke tests and demos."""
    from simclip.clip.factory import create_model
    from simclip.clip.preprocess import ImagePreprocess

    torch.manual_seed(seed)
    model = create_model(name)
    identity = {"model": name, "checkpoint": None, "sha256": state_dict_sha256(model),
                "embed_dim": model.embed_dim}
    return ClipEmbedder(model, ImagePreprocess(model.preprocess_cfg), _tokenizer_for(model, tokenizer),
                        identity, device)


def embedder_from_checkpoint(checkpoint: str | Path, tokenizer: str | Path | None = "clip",
                             device: str = "cpu") -> ClipEmbedder:
    """Load anything :func:`simclip.clip.load` reads; the identity hashes the weights file."""
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist or is not a file")
    try:
        from simclip.clip import load
    except ImportError as err:
        raise ValueError("loading CLIP checkpoints needs simclip.clip.load, which this installation "
                         "lacks") from err
    model, preprocess = load(str(path))
    name = getattr(model, "name", None) or path.stem
    identity = {"model": name, "checkpoint": str(path.resolve()), "sha256": file_sha256(path),
                "embed_dim": int(model.embed_dim)}
    return ClipEmbedder(model, preprocess, _tokenizer_for(model, tokenizer), identity, device)


def embedder_from_run(run: str | Path, device: str = "cpu") -> ClipEmbedder:
    """A CLIP training run folder: its final ``model.safetensors`` when the run finished, otherwise
    its newest checkpoint (identity: a hash of the weights)."""
    final = Path(run) / "model.safetensors"
    learned = Path(run) / "tokenizer.json"  # a vocabulary the run learned from its captions
    if final.is_file():
        return embedder_from_checkpoint(final, learned if learned.is_file() else None, device)
    from simclip.clip.preprocess import ImagePreprocess
    from simclip.recipes.clip import load_clip_run

    model, cfg = load_clip_run(run, device)
    identity = {"model": cfg.model.get("name", "clip"), "checkpoint": str(Path(run).resolve()),
                "sha256": state_dict_sha256(model), "embed_dim": model.embed_dim}
    return ClipEmbedder(model, ImagePreprocess(model.preprocess_cfg), _tokenizer_for(model, None),
                        identity, device)


def load_embedder(checkpoint: str | Path | None = None, *, run: str | Path | None = None,
                  model: str | None = None, tokenizer: str | Path | None = "clip",
                  device: str = "cpu") -> ClipEmbedder:
    """The embedder named by exactly one of ``checkpoint`` (a file), ``run`` (a training run folder)
    or ``model`` (an architecture name, random initialisation)."""
    given = [name for name, value in (("checkpoint", checkpoint), ("run", run), ("model", model))
             if value is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of checkpoint, run or model; got {given or 'none'}")
    if checkpoint is not None:
        return embedder_from_checkpoint(checkpoint, tokenizer, device)
    if run is not None:
        return embedder_from_run(run, device)
    assert model is not None  # the one given
    return embedder_from_model_name(model, tokenizer=tokenizer, device=device)
