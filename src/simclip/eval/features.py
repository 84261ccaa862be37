"""Frozen-feature extraction: run an encoder over a dataset once, in batches, without gradients."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence

import torch
from torch import Tensor, nn

from simclip.eval._checks import check_positive_int
from simclip.progress import ProgressReporter

Encode = Callable[[Tensor], Tensor]


def extract_features(
    encode: Encode,
    images: Tensor | Iterable[Tensor],
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    transform: Callable[[Tensor], Tensor] | None = None,
    progress: bool | str = False,
) -> Tensor:
    """Encode ``images`` with ``encode`` and return the features as float32 CPU ``[N, F]``.

    Args:
        encode: maps a float batch ``[B, C, H, W]`` to features ``[B, F]``; callers pass
            ``model.encode_image``. If it is a method of an ``nn.Module`` (or a ``partial`` of one)
            that is in training mode, the module is put in eval mode for the extraction (batch-norm
            statistics must not move) and restored afterwards.
        images: uint8 ``[N, C, H, W]`` (converted to float in [0, 1]), or an iterable of such
            batches (a batch may also be a tuple/list whose first element is the image tensor, as
            a ``DataLoader`` yields). Floating-point batches are taken as already converted.
        batch_size: rows per forward pass when ``images`` is a single tensor.
        device: where the batches are sent; ``encode``'s module must live there.
        transform: applied to each float batch on ``device`` after the [0, 1] conversion
            (e.g. CLIP's resize + mean/std normalisation). SimCLR models normalise internally.
        progress: report progress on stderr (a bar on a terminal, a line every 10 s elsewhere);
            a string names the task in the report (default ``"features"``).
    """
    if not callable(encode):
        raise TypeError(f"encode must be callable, got {type(encode).__name__}")
    check_positive_int("batch_size", batch_size)
    batches = _batches(images, batch_size)
    total = images.shape[0] if isinstance(images, Tensor) else None
    report = ProgressReporter(total, progress if isinstance(progress, str) else "features", unit="img",
                              enabled=bool(progress))
    outputs: list[Tensor] = []
    with report, torch.inference_mode(), eval_mode(encode):
        for batch in batches:
            x = _to_float(batch.to(device, non_blocking=True))
            if transform is not None:
                x = transform(x)
            outputs.append(_check_output("encode", encode(x), x.shape[0]))
            report.advance(x.shape[0])
    if not outputs:
        raise ValueError("images is empty: no batches to encode")
    widths = {o.shape[1] for o in outputs}
    if len(widths) > 1:
        raise ValueError(f"encode returned different feature widths across batches: {widths}")
    return torch.cat(outputs)


def extract_text_features(
    encode_text: Callable[[Tensor], Tensor],
    tokenizer: Callable[[list[str]], Tensor],
    texts: Sequence[str],
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> Tensor:
    """Tokenize and encode ``texts`` in batches; returns float32 CPU ``[len(texts), E]``.

    ``tokenizer`` maps a list of strings to int token ids ``[B, L]``; ``encode_text`` (callers pass
    ``model.encode_text``) maps those to ``[B, E]``.
    """
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"texts must be a list of str, got {type(texts).__name__}")
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must contain only str")
    if not texts:
        raise ValueError("texts is empty")
    check_positive_int("batch_size", batch_size)
    outputs = []
    with torch.inference_mode(), eval_mode(encode_text):
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            tokens = tokenizer(chunk)
            if not isinstance(tokens, Tensor) or tokens.ndim != 2 or tokens.shape[0] != len(chunk):
                shape = tuple(tokens.shape) if isinstance(tokens, Tensor) else type(tokens).__name__
                raise ValueError(f"tokenizer must return token ids [{len(chunk)}, L], got {shape}")
            outputs.append(_check_output("encode_text", encode_text(tokens.to(device)), len(chunk)))
    return torch.cat(outputs)


def _batches(images: Tensor | Iterable[Tensor], batch_size: int) -> Iterator[Tensor]:
    if isinstance(images, Tensor):
        if images.ndim != 4:
            raise ValueError(f"images must have shape [N, C, H, W], got {tuple(images.shape)}")
        if images.shape[0] == 0:
            raise ValueError("images is empty (0 rows)")
        yield from images.split(batch_size)
        return
    if not isinstance(images, Iterable):
        kind = type(images).__name__
        raise TypeError(f"images must be a Tensor or an iterable of batches, got {kind}")
    for i, batch in enumerate(images):
        if isinstance(batch, (tuple, list)) and batch:
            batch = batch[0]
        if not isinstance(batch, Tensor) or batch.ndim != 4:
            shape = tuple(batch.shape) if isinstance(batch, Tensor) else type(batch).__name__
            raise ValueError(f"images batch {i} must be a tensor [B, C, H, W], got {shape}")
        yield batch


def _to_float(x: Tensor) -> Tensor:
    if x.dtype == torch.uint8:
        return x.float().div_(255.0)
    if x.is_floating_point():
        return x
    raise TypeError(f"images must be uint8 or floating point, got dtype {x.dtype}")


def _check_output(name: str, features: object, rows: int) -> Tensor:
    if not isinstance(features, Tensor) or features.ndim != 2 or features.shape[0] != rows:
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"{name} must return features [{rows}, F] for {rows} inputs, got {shape}")
    return features.float().cpu()


@contextlib.contextmanager
def eval_mode(encode: Callable) -> Iterator[None]:
    """Within the block, the ``nn.Module`` that ``encode`` is a method of (if any) is in eval mode.

    ``functools.partial(model.encode_image, normalize=True)`` counts as a method of ``model``.
    """
    while isinstance(encode, functools.partial):
        encode = encode.func
    owner = getattr(encode, "__self__", None)
    if not isinstance(owner, nn.Module) or not owner.training:
        yield
        return
    owner.eval()
    try:
        yield
    finally:
        owner.train()
