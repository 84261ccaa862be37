"""SimCLR's colour distortion: colour jitter and random grayscale ("colour drop").

SimCLR (Chen et al. 2020, Appendix A, and the official ``data_util.py``) distorts colour with
strength ``s``: with probability 0.8 it jitters brightness, contrast and saturation by ``0.8 s``
and hue by ``0.2 s``, the four in a random order per image; then, with probability 0.2, it
converts the image to grayscale. Here the order is drawn independently for every sample.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from simclip.augment.base import RandomOp
from simclip.augment.colour import (
    _brightness_,
    _contrast_,
    _hue_,
    _saturation_,
    check_colour_channels,
    luma,
    to_grayscale,
)
from simclip.augment.sampling import permutations, uniform

# The adjustments in their fixed order; each overwrites its input (a slice of the working batch).
_ADJUSTMENTS: tuple[tuple[str, Callable[[Tensor, Tensor], Tensor]], ...] = (
    ("brightness", _brightness_),
    ("contrast", _contrast_),
    ("saturation", _saturation_),
    ("hue", _hue_),
)


def _check_strength(value: float, name: str, upper: float = float("inf")) -> float:
    value = float(value)
    if not 0.0 <= value <= upper:
        raise ValueError(f"{name} must be in [0, {upper}], got {value}")
    return value


class ColorJitter(RandomOp):
    """Per-sample random brightness, contrast, saturation and hue, in a random order per sample.

    Factors are drawn uniformly: brightness, contrast and saturation from
    ``[max(0, 1 - v), 1 + v]``, the hue shift from ``[-hue, hue]`` (in turns). Brightness is
    multiplicative as in SimCLR v2's code; contrast and saturation blend towards the mean gray
    level and the grayscale image (torchvision's rules; ``tf.image`` differs slightly: per-channel
    contrast mean, saturation scaled in HSV). On one-channel images saturation and hue are the
    identity.

    Args:
        brightness, contrast, saturation: jitter amplitudes, ``>= 0`` (0 disables).
        hue: hue amplitude in turns, in ``[0, 0.5]`` (0 disables).
        p: probability that a sample is jittered at all (SimCLR: 0.8).
        random_order: draw the order of the four adjustments per sample (SimCLR's official code);
            ``False`` applies them as brightness, contrast, saturation, hue.
    """

    def __init__(
        self,
        brightness: float = 0.8,
        contrast: float = 0.8,
        saturation: float = 0.8,
        hue: float = 0.2,
        p: float = 0.8,
        random_order: bool = True,
    ) -> None:
        super().__init__(p)
        self.brightness = _check_strength(brightness, "brightness")
        self.contrast = _check_strength(contrast, "contrast")
        self.saturation = _check_strength(saturation, "saturation")
        self.hue = _check_strength(hue, "hue", upper=0.5)
        self.random_order = bool(random_order)

    @classmethod
    def from_strength(cls, strength: float, p: float = 0.8) -> ColorJitter:
        """SimCLR's jitter of strength ``s``: (0.8 s, 0.8 s, 0.8 s, 0.2 s) with probability ``p``."""
        s = _check_strength(strength, "strength", upper=2.5)
        return cls(brightness=0.8 * s, contrast=0.8 * s, saturation=0.8 * s, hue=0.2 * s, p=p)

    def check_input(self, x: Tensor) -> None:
        if self.saturation > 0 or self.hue > 0:
            check_colour_channels(x.shape[1], "ColorJitter with saturation or hue")

    def sample(self, shape: torch.Size, generator: torch.Generator | None) -> dict[str, Tensor]:
        b = shape[0]
        params = {
            name: uniform(b, max(0.0, 1.0 - amp), 1.0 + amp, generator)
            for name, amp in (
                ("brightness", self.brightness),
                ("contrast", self.contrast),
                ("saturation", self.saturation),
            )
        }
        params["hue"] = uniform(b, -self.hue, self.hue, generator)
        if self.random_order:
            params["order"] = permutations(b, len(_ADJUSTMENTS), generator)
        return params

    def run(self, x: Tensor, gate: Tensor, params: dict[str, Tensor], overwrite: bool = False) -> Tensor:
        # Overrides the base so that the p-gate joins the per-stage grouping below instead of
        # costing a gather and a scatter of its own.
        if x.shape[0] == 0 or not bool(gate.any()):
            return x
        if x.device.type == "cpu":
            return self._run_per_sample(x if overwrite else x.clone(), params, gate)
        return self._run_stages(x, params, gate, out=x if overwrite else None)

    def _run_per_sample(self, y: Tensor, params: dict[str, Tensor], selected: Tensor) -> Tensor:
        """Adjust the ``selected`` rows of ``y`` in place, each sample's adjustments in its order.

        The CPU's way: one image (600 KB at 224 px) stays in cache through its four adjustments,
        with no gathers; about 40 small calls per image cost less than regrouping the batch at
        every stage. An accelerator takes :meth:`_run_stages` (a few large calls). Both give the
        same values.
        """
        b, n = y.shape[0], len(_ADJUSTMENTS)
        order = params.get("order", torch.arange(n).expand(b, -1)).tolist()
        active = [getattr(self, name) > 0 for name, _ in _ADJUSTMENTS]
        for i in selected.nonzero().squeeze(1).tolist():
            row = y[i : i + 1]
            for k in order[i]:
                if active[k]:
                    name, adjust = _ADJUSTMENTS[k]
                    adjust(row, params[name][i : i + 1])
        return y

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        cpu_params = {k: v.cpu() for k, v in params.items()}
        return self._run_stages(x, cpu_params, torch.ones(x.shape[0], dtype=torch.bool))

    def _run_stages(
        self, x: Tensor, params: dict[str, Tensor], selected: Tensor, out: Tensor | None = None
    ) -> Tensor:
        """Adjust the ``selected`` samples of ``x`` with CPU ``params``; the result is a new tensor
        or ``out``.

        Stage ``t`` gives each sample the adjustment in column ``t`` of its order. Before each
        stage the working batch is reordered (one gather) so that the samples taking the same
        adjustment form a contiguous slice, which is adjusted in place; a gather at the end
        restores the input order. That is 5 gathers instead of a gather and a scatter for each of
        the 16 (stage, adjustment) pairs.
        """
        b, n = x.shape[0], len(_ADJUSTMENTS)
        order = params.get("order", torch.arange(n).expand(b, -1))
        # Sort key per adjustment; n groups the samples that stay unchanged at a stage.
        keys = [k if getattr(self, name) > 0 else n for k, (name, _) in enumerate(_ADJUSTMENTS)]
        key_of = torch.tensor([*keys, n])
        # y's row i holds input sample rows[i]. Gathers write into buffers made once per call and
        # reused (a fresh batch-sized tensor costs more than the copy into it); owned says y may
        # be adjusted in place, and spare holds buffers whose contents are no longer needed.
        y, rows, owned = x, torch.arange(b), out is x
        spare: list[Tensor] = []
        for stage in order.unbind(1):
            key = key_of[torch.where(selected, stage, n)]
            perm = torch.argsort(key, stable=True)
            if not owned or not torch.equal(perm, rows):
                position = torch.empty_like(rows)
                position[rows] = torch.arange(b)
                target = spare.pop() if spare else torch.empty_like(x)
                torch.index_select(y, 0, position[perm].to(x.device), out=target)
                if owned:
                    spare.append(y)
                y, rows, owned = target, perm, True
            bounds = [0, *torch.bincount(key, minlength=n + 1).cumsum(0).tolist()]
            for k, (name, adjust) in enumerate(_ADJUSTMENTS):
                if bounds[k + 1] > bounds[k]:
                    factor = params[name].index_select(0, perm[bounds[k] : bounds[k + 1]])
                    adjust(y[bounds[k] : bounds[k + 1]], factor.to(x.device))
        if torch.equal(rows, torch.arange(b)):
            return y
        position = torch.empty_like(rows)
        position[rows] = torch.arange(b)
        target = spare.pop() if spare else torch.empty_like(x)
        return torch.index_select(y, 0, position.to(x.device), out=target)

    def repr_fields(self) -> dict[str, Any]:
        return {
            "brightness": self.brightness,
            "contrast": self.contrast,
            "saturation": self.saturation,
            "hue": self.hue,
            "p": self.p,
            "random_order": self.random_order,
        }


class RandomGrayscale(RandomOp):
    """Convert each sample to grayscale (luma copied to every channel) with probability ``p``.

    SimCLR's "colour drop", p = 0.2 in its policy. The identity on one-channel images.
    """

    def __init__(self, p: float = 0.2) -> None:
        super().__init__(p)

    def check_input(self, x: Tensor) -> None:
        check_colour_channels(x.shape[1], "RandomGrayscale")

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return to_grayscale(x)

    def apply_row_(self, x: Tensor, params: dict[str, Tensor]) -> None:
        x.copy_(luma(x).expand_as(x))
