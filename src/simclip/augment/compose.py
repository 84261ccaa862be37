"""A chain of batched augmentation ops, with input conversion and a final output size."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.augment.base import RandomOp
from simclip.augment.batch import as_float_batch, check_size, one_thread
from simclip.augment.geometric import RandomHorizontalFlip, RandomResizedCrop
from simclip.augment.hugepages import empty_cpu
from simclip.augment.sampling import check_generator

BatchOp = Callable[..., Tensor]
"""Anything called as ``op(x, generator=g)`` on a ``float32 Tensor[B, C, H, W]``."""


Drawn = tuple[Tensor, dict[str, Tensor]]


def _fuse_crop_and_flip(steps: list[tuple[RandomOp, Drawn]]) -> list[tuple[RandomOp, Drawn]]:
    """A random resized crop followed by a horizontal flip becomes one crop whose flipped
    samples read their grid right to left: the same values, one pass fewer."""
    fused: list[tuple[RandomOp, Drawn]] = []
    for op, (gate, params) in steps:
        if type(op) is RandomHorizontalFlip and fused and type(fused[-1][0]) is RandomResizedCrop \
                and "mirror" not in fused[-1][1][1]:
            crop, (crop_gate, crop_params) = fused[-1]
            fused[-1] = (crop, (crop_gate, {**crop_params, "mirror": gate}))
        else:
            fused.append((op, (gate, params)))
    return fused


def _stored(x: Tensor, owned: bool, dtype: torch.dtype) -> Tensor:
    """Views ``x`` (float in ``[0, 1]``) as ``dtype``: uint8 holds ``round(255 x)``; ``owned``: ``x``
    may be overwritten."""
    if dtype == torch.float32:
        return x
    scaled = x.mul_(255.0) if owned else x.mul(255.0)
    if x.device.type != "cpu":
        return scaled.round_().to(dtype)
    return _cast_into(torch.empty(x.shape, dtype=dtype), scaled)


def _cast_into(out: Tensor, scaled: Tensor) -> Tensor:
    """``out`` (uint8, contiguous, CPU) ``= round(scaled)`` for ``scaled`` float in ``[0, 255]``,
    overwriting ``scaled``. numpy's cast is vectorised where torch's float-to-uint8 copy runs
    several times slower; after rounding both truncate to the same integers."""
    np.copyto(out.numpy(), scaled.round_().contiguous().numpy(), casting="unsafe")
    return out


def _crops_in_8_bits(x: Tensor, ops: Sequence[object]) -> bool:
    """Whether a chain starting with a random resized crop crops uint8 CPU images in 8 bits
    (:meth:`RandomResizedCrop.run_uint8`): only the crops' output pixels are made float."""
    return x.dtype == torch.uint8 and x.device.type == "cpu" and len(ops) > 0 \
        and type(ops[0]) is RandomResizedCrop and ops[0].p == 1.0


class Compose:
    """Apply ops in order to a batch, each drawing from the same generator.

    The input is validated and converted to ``float32`` in ``[0, 1]`` once (``uint8`` is divided
    by 255). On the CPU, a chain that starts with :class:`RandomResizedCrop` crops ``uint8``
    images in 8 bits and converts only the crops (within one gray level of cropping the float
    image; :func:`~simclip.augment.geometric.resized_crop_uint8`). If ``size`` is set and the ops
    leave another spatial size, the batch is resized bilinearly (antialiased) at the end.

    Args:
        ops: callables ``op(x, generator=g) -> Tensor``, e.g. :class:`RandomOp` instances.
        size: output ``(height, width)`` or side; ``None`` keeps what the ops produce.
        channels: if set, the number of channels the input must have.
        chunk: samples run through the chain together on the CPU when every op is a
            :class:`RandomOp` (their parameters are drawn for the whole batch first, so the
            views do not depend on it); ``None`` runs each op over the whole batch. Chunks run
            with one intra-op thread (torch's thread count is restored afterwards).
    """

    def __init__(
        self,
        ops: Iterable[BatchOp],
        size: int | Sequence[int] | None = None,
        channels: int | None = None,
        chunk: int | None = 16,
    ) -> None:
        self.ops = tuple(ops)
        for i, op in enumerate(self.ops):
            if not callable(op):
                raise TypeError(f"ops[{i}] must be callable as op(x, generator=g), got {op!r}")
        self.size = None if size is None else check_size(size)
        if channels is not None and (not isinstance(channels, int) or channels < 1):
            raise ValueError(f"channels must be None or a positive int, got {channels!r}")
        self.channels = channels
        if chunk is not None and (not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1):
            raise ValueError(f"chunk must be None or a positive int, got {chunk!r}")
        self.chunk = chunk

    def __call__(self, x: Tensor, generator: torch.Generator | None = None, repeats: int = 1,
                 dtype: torch.dtype = torch.float32) -> Tensor:
        """Augment a batch.

        Args:
            x: ``Tensor[B, C, H, W]``, ``uint8`` or float in ``[0, 1]``, CPU or CUDA.
            generator: CPU generator supplying all randomness (``None``: torch's global one).
            repeats: augment ``x`` tiled this many times along the batch (``R * B`` samples,
                sample ``r * B + i`` from image ``i``), without building the tiled batch when
                the chain runs in chunks.
            dtype: ``float32``, or ``uint8`` for views rounded to ``0..255`` (``round(255 v)`` of
                the float views ``v``): a quarter of the bytes to move, the precision of an
                8-bit image.

        Returns:
            ``Tensor[B, C, S_h, S_w]`` of ``dtype`` on ``x``'s device (float in ``[0, 1]``),
            where ``(S_h, S_w)`` is ``size`` if set, else the size the ops produce.
        """
        check_generator(generator)
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise ValueError(f"repeats must be a positive int, got {repeats!r}")
        if dtype not in (torch.float32, torch.uint8):
            raise ValueError(f"dtype must be torch.float32 or torch.uint8, got {dtype!r}")
        if self.chunk is not None and len(self.ops) > 0 and all(isinstance(op, RandomOp) for op in self.ops):
            if isinstance(x, Tensor) and x.ndim == 4 and x.shape[0] > 0:
                return self._in_chunks(x, generator, repeats, dtype)
        if repeats > 1 and isinstance(x, Tensor):
            x = x.repeat(repeats, *[1] * (x.ndim - 1))
        given, ops = x, self.ops
        if isinstance(x, Tensor) and _crops_in_8_bits(x, ops) and x.ndim == 4 and x.shape[0] > 0:
            as_float_batch(x[:0])  # the shape checks
            self._check_channels(x.shape)
            crop = ops[0]
            assert isinstance(crop, RandomResizedCrop)
            crop.check_input(torch.empty(x.shape, device="meta"))
            _, params = crop.draw(x.shape, generator)
            x, ops = crop.run_uint8(x, params, torch.arange(x.shape[0])), ops[1:]
        else:
            x = as_float_batch(x)
            self._check_channels(x.shape)
        # Once x is a tensor made here (converted, or returned new by an op), ops may overwrite
        # it instead of copying; the caller's tensor and outputs of plain callables are not.
        owned = x is not given
        for op in ops:
            if isinstance(op, RandomOp):
                out = op.transform(x, generator, overwrite=owned)
                owned = owned or out is not x
            else:
                out = op(x, generator=generator)
                owned = False
            x = out
        resized = self._resized(x)
        return _stored(resized.contiguous(), owned or resized is not x, dtype)

    def _check_channels(self, shape: Sequence[int]) -> None:
        if self.channels is not None and shape[1] != self.channels:
            raise ValueError(
                f"this policy expects images with {self.channels} channel(s), got x of shape {tuple(shape)}"
            )

    def _resized(self, x: Tensor) -> Tensor:
        if self.size is not None and tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)
            x = x.clamp_(0.0, 1.0)
        return x

    def _in_chunks(self, x: Tensor, generator: torch.Generator | None, repeats: int = 1,
                   dtype: torch.dtype = torch.float32) -> Tensor:
        """The chain of :class:`RandomOp` s with every parameter drawn first, in the order a
        whole-batch pass draws them, then run ``chunk`` samples at a time on the CPU (all at once
        elsewhere). Every op treats each sample on its own, so the views are those of one pass;
        a slice of a few samples stays in the CPU's caches through the chain, where a pass of
        each op over the whole float batch streams it through memory. On the CPU each op runs on
        one thread."""
        source = x if x.dtype == torch.uint8 else as_float_batch(x)
        as_float_batch(source[:0])  # the shape checks, for uint8 too
        self._check_channels(x.shape)
        images = x.shape[0]
        shape = torch.Size((repeats * images, *x.shape[1:]))
        drawn: list[Drawn] = []
        for op in self.ops:
            assert isinstance(op, RandomOp)
            op.check_input(torch.empty(shape, device="meta"))
            drawn.append(op.draw(shape, generator))
            shape = torch.Size((shape[0], shape[1], *op.output_size(shape[2], shape[3])))
        steps = _fuse_crop_and_flip([(op, d) for op, d in zip(self.ops, drawn) if isinstance(op, RandomOp)])
        b = shape[0]
        step = b if self.chunk is None else self.chunk

        crop_uint8 = _crops_in_8_bits(source, [op for op, _ in steps])

        def run(rows: slice) -> tuple[Tensor, bool]:
            """The chunk's views, and whether they are a tensor made here (may be overwritten)."""
            chain = steps
            if crop_uint8:
                crop, (_, params) = steps[0]
                assert isinstance(crop, RandomResizedCrop)
                picked = torch.arange(rows.start, min(rows.stop, b)).remainder_(images)
                y = crop.run_uint8(source, {k: v[rows] for k, v in params.items()}, picked)
                owned, chain = True, steps[1:]
            elif repeats == 1:
                y, owned = as_float_batch(source[rows]), source.dtype == torch.uint8
            else:
                picked = source.index_select(0, torch.arange(rows.start, min(rows.stop, b)).remainder_(images)
                                             .to(source.device))
                y, owned = as_float_batch(picked), True
            for op, (gate, params) in chain:
                z = op.run(y, gate[rows], {k: v[rows] for k, v in params.items()}, overwrite=owned)
                owned = owned or z is not y
                y = z
            resized = self._resized(y)
            return resized, owned or resized is not y

        if x.device.type != "cpu":
            return _stored(*run(slice(0, b)), dtype=dtype)
        # The per-sample ops are too small for intra-op threads, whose barriers stall whenever a
        # core is busy elsewhere (a loader's workers): the chain runs on one thread. (A pool of
        # threads, one chunk each, was no faster: dozens of small ops per sample contend for the
        # GIL.)
        with one_thread():
            out = empty_cpu((b, shape[1], *(self.size or shape[2:])), dtype)
            for start in range(0, b, step):
                y, owned = run(slice(start, start + step))
                if dtype == torch.float32:
                    out[start:start + step] = y
                else:
                    _cast_into(out[start:start + step], y.mul_(255.0) if owned else y.mul(255.0))
        return out

    def __len__(self) -> int:
        return len(self.ops)

    def __repr__(self) -> str:
        lines = [f"    {op!r}," for op in self.ops]
        header = f"Compose(size={self.size}, channels={self.channels}, ops=["
        return "\n".join([header, *lines, "])"])
