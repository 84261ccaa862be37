"""The base of every batched augmentation op: per-sample gate and per-sample parameters."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from simclip.augment.batch import apply_to_selected, as_float_batch
from simclip.augment.sampling import bernoulli, check_generator, check_probability


class RandomOp:
    """A batched augmentation with independent random parameters for each sample.

    A call draws, from the CPU ``generator``: first a gate (sample ``b`` is transformed with
    probability ``p``), then the op's parameters for all ``B`` samples. Drawing parameters for
    every sample, gated or not, keeps the random stream a function of ``B`` alone. Only the
    gated samples are computed.

    Subclasses implement :meth:`sample` (CPU parameter tensors with leading dim ``B``) and
    :meth:`apply` (the transform of a sub-batch given the matching parameter rows, already on
    the images' device), and may override :meth:`check_input`.
    """

    def __init__(self, p: float = 1.0) -> None:
        self.p = check_probability(p, "p")

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Transform a batch.

        Args:
            x: ``Tensor[B, C, H, W]``, ``uint8`` or float in ``[0, 1]``, any device.
            generator: CPU generator that supplies all randomness (``None``: torch's global one).

        Returns:
            ``float32`` ``Tensor[B, C, H', W']`` in ``[0, 1]`` on ``x``'s device. It may be ``x``
            itself when no sample is selected and ``x`` is already ``float32``.
        """
        check_generator(generator)
        converted = as_float_batch(x)
        return self.transform(converted, generator, overwrite=converted is not x)

    def transform(self, x: Tensor, generator: torch.Generator | None, overwrite: bool = False) -> Tensor:
        """:meth:`__call__` without validating ``x`` and ``generator``.

        For callers (such as :class:`~simclip.augment.compose.Compose`) that validated once for
        a chain of ops; ``x`` must be ``float32`` ``[B, C, H, W]`` in ``[0, 1]``. With
        ``overwrite``, the caller owns ``x`` and this op may write its result into it.

        Returns:
            ``x`` itself or a new tensor that shares no memory with ``x``.
        """
        self.check_input(x)
        if x.shape[0] == 0:
            return x.new_empty(0, x.shape[1], *self.output_size(x.shape[2], x.shape[3]))
        gate, params = self.draw(x.shape, generator)
        return self.run(x, gate, params, overwrite=overwrite)

    def draw(self, shape: torch.Size, generator: torch.Generator | None) -> tuple[Tensor, dict[str, Tensor]]:
        """The random part of a call on a batch of ``shape``: the ``bool`` CPU gate ``Tensor[B]``,
        then the parameters of :meth:`sample`, in that order from ``generator``."""
        gate = bernoulli(shape[0], self.p, generator)
        return gate, self.sample(shape, generator)

    def run(self, x: Tensor, gate: Tensor, params: dict[str, Tensor], overwrite: bool = False) -> Tensor:
        """The deterministic part: transform the gated rows of ``x`` with their parameter rows.

        ``gate`` and every tensor of ``params`` (from :meth:`draw`) have leading dim ``x.shape[0]``,
        so a caller may run a drawn batch in slices of samples. Returns as :meth:`transform`.
        """

        if overwrite and x.device.type == "cpu" and type(self).apply_row_ is not RandomOp.apply_row_:
            # in place, one sample at a time: no gather of the gated rows and no scatter back
            for i in gate.nonzero().squeeze(1).tolist():
                self.apply_row_(x[i : i + 1], {k: v[i : i + 1] for k, v in params.items()})
            return x

        def apply_rows(x_sub: Tensor, index: Tensor) -> Tensor:
            everyone = index.numel() == x.shape[0]
            rows = {
                k: (v if everyone else v.index_select(0, index)).to(x.device)
                for k, v in params.items()
            }
            return self.apply(x_sub, rows)

        return apply_to_selected(x, gate, apply_rows, overwrite=overwrite)

    def check_input(self, x: Tensor) -> None:
        """Raise ``ValueError`` if this op cannot handle ``x`` (``float32`` ``[B, C, H, W]``)."""

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Spatial size of the output for an input of ``height x width``."""
        return height, width

    def sample(self, shape: torch.Size, generator: torch.Generator | None) -> dict[str, Tensor]:
        """Draw this op's parameters on the CPU: a dict of tensors with leading dim ``B``."""
        return {}

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        """Transform ``x`` (``float32`` ``[b, C, H, W]``) with its rows of the parameters.

        Returns ``x`` itself (unchanged) or a new tensor sharing no memory with ``x``; never a view.
        """
        raise NotImplementedError

    def apply_row_(self, x: Tensor, params: dict[str, Tensor]) -> None:
        """Optional: overwrite one sample ``x`` (``float32`` ``[1, C, H, W]``, a view into the
        batch) with what :meth:`apply` gives for it. Ops that define it are run this way on the
        CPU when the caller owns the batch."""
        raise NotImplementedError

    def repr_fields(self) -> dict[str, Any]:
        """Constructor arguments shown by ``repr``."""
        return {"p": self.p}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.repr_fields().items())
        return f"{type(self).__name__}({fields})"
