"""Typed configs of the generator, its training and the two CLIP-guided edits (StyleCLIP).

Each config is validated once, in ``__post_init__``, with a :class:`ConfigError` naming the field;
``from_dict`` rejects unknown fields, so a saved ``config.json`` replays exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from simclip.errors import SimclipError


class ConfigError(SimclipError, ValueError):
    """A generator or edit setting is out of range; the message names the field."""


_C = TypeVar("_C")

_WHERE = ("on the left", "on the right", "at the top", "at the bottom", "in the center")

PROMPT_SETS: dict[str, tuple[str, ...]] = {
    # the text as given
    "plain": ("{}",),
    # the phrasings of the built-in shapes captions around a text such as "a blue star": the text
    # alone, and at each of the five positions in three word orders
    "shapes": ("{}",) + tuple(t.format("{}", w) for w in _WHERE
                              for t in ("{} {}", "there is {} {}", "{1}, {0}")),
}


def resolve_prompts(name_or_templates: str | Sequence[str]) -> tuple[str, ...]:
    """A prompt set by name (``PROMPT_SETS``), one template with ``{}``, or a sequence of them."""
    if isinstance(name_or_templates, str):
        if name_or_templates in PROMPT_SETS:
            return PROMPT_SETS[name_or_templates]
        if "{}" not in name_or_templates:
            raise ConfigError(f"prompts must be one of {', '.join(PROMPT_SETS)} or a template with {{}}, "
                          f"got {name_or_templates!r}")
        return (name_or_templates,)
    templates = tuple(name_or_templates)
    if not templates or not all(isinstance(t, str) and "{}" in t for t in templates):
        raise ConfigError(f"templates must be a non-empty list of strings with {{}}, got {templates!r}")
    return templates


def _check(owner: str, name: str, value: Any, *, minimum: float = 0, positive: bool = True,
           kind: type = float) -> None:
    ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    if not ok or value < minimum or (positive and value <= 0):
        need = "> 0" if positive else f">= {minimum}"
        raise ConfigError(f"{owner}.{name} must be {'an int' if kind is int else 'a number'} {need}, "
                          f"got {value!r}")


def _from_dict(cls: type[_C], d: dict[str, Any], owner: str) -> _C:
    if not isinstance(d, dict):
        raise ConfigError(f"{owner} must be a JSON object of fields, got {type(d).__name__}")
    unknown = set(d) - {f.name for f in fields(cls)}  # type: ignore[arg-type]
    if unknown:
        raise ConfigError(f"unknown {owner} field(s): {', '.join(sorted(unknown))}")
    return cls(**d)


@dataclass(frozen=True)
class GeneratorConfig:
    """A VAE (Kingma & Welling 2014) whose decoder is the generator ``G: z -> image``.

    ``image_size`` is a power of two >= 16: the decoder doubles a 4x4 map ``log2(S) - 2`` times, with
    ``width`` channels at the 4x4 map halving at each doubling (at least 16). The encoder mirrors it
    and gives the start latent of an edit of a given image (as e4e does for StyleGAN).
    """

    latent_dim: int = 24
    image_size: int = 32
    channels: int = 3
    width: int = 96

    def __post_init__(self) -> None:
        for name in ("latent_dim", "width"):
            _check("generator", name, getattr(self, name), kind=int)
        size = self.image_size
        if not isinstance(size, int) or size < 16 or size & (size - 1):
            raise ConfigError(f"generator.image_size must be a power of two >= 16, got {size!r}")
        if self.channels not in (1, 3):
            raise ConfigError(f"generator.channels must be 1 or 3, got {self.channels!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeneratorConfig:
        return _from_dict(cls, d, "generator")


GENERATOR_SPLITS = ("train", "test", "all")
"""The data a generator may be trained on: a dataset's train split, its test split, or both."""


@dataclass(frozen=True)
class GeneratorTrainConfig:
    """How the generator is trained: Adam on the negative ELBO, with the KL term weighted by ``beta``
    (beta-VAE, Higgins et al. 2017: above 1 it trades reconstruction for a smoother latent; the
    default 0.05, below 1, favours reconstruction; the settings compared are in BENCHMARKS.md).
    ``edge_weight`` weights a Sobel-gradient term in the reconstruction loss (0 turns it off): it
    sharpens the outlines that tell the shapes apart, so that an edit that changes the colour keeps
    a shape the judge can still read.

    ``split`` is the part of ``data`` trained on: ``"train"``, ``"test"`` or ``"all"`` (both; for the
    built-in shapes, ``all`` adds the colour x shape pairs that the train split holds out).
    ``benchmarks/styleclip_edits.py`` trains with these defaults on ``shapes``, split ``all``."""

    data: str = "shapes"
    split: str = "train"
    out: str = "runs/generator"
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    epochs: int = 32
    batch_size: int = 128
    lr: float = 2e-3
    beta: float = 0.05
    edge_weight: float = 1.0
    seed: int = 0
    time_budget: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.generator, dict):
            object.__setattr__(self, "generator", GeneratorConfig.from_dict(self.generator))
        if self.split not in GENERATOR_SPLITS:
            raise ConfigError(f"train.split must be one of {', '.join(GENERATOR_SPLITS)}, got {self.split!r}")
        _check("train", "epochs", self.epochs, kind=int)
        _check("train", "batch_size", self.batch_size, kind=int)
        _check("train", "lr", self.lr)
        _check("train", "beta", self.beta, positive=False)
        _check("train", "edge_weight", self.edge_weight, positive=False)
        _check("train", "seed", self.seed, kind=int, positive=False)
        if self.time_budget is not None:
            _check("train", "time_budget", self.time_budget)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeneratorTrainConfig:
        return _from_dict(cls, d, "generator train config")


@dataclass(frozen=True)
class LatentEditConfig:
    """StyleCLIP's latent optimisation (Patashnik et al. 2021, Eq. 1, without the identity term):
    ``argmin_z D_CLIP(G(z), t) + l2_weight * ||z - z_start||^2``, by Adam for ``steps`` steps.

    ``prompts``: the text embedding ``t`` is the prompt ensemble of the text under these templates
    (a ``PROMPT_SETS`` name or templates with ``{}``; "plain" is the text alone).
    ``direction_weight``: when the edit is given a neutral text (what the start shows), that weight
    times the directional CLIP loss of StyleGAN-NADA (Gal et al. 2022), ``1 - cos(E_I(G(z)) -
    E_I(G(z_start)), E_T(t) - E_T(neutral))``, joins the objective: the image should change the way
    the text changes. Without a neutral text the term is off.
    ``restarts``: the objective is optimised from that many starts per image, the start latent and
    ``restarts - 1`` points around it (``restart_noise`` times a normal draw under ``restart_seed``,
    in units of each latent channel's spread), all in one batch; the image keeps the result with
    the lowest objective (an optimisation that stalls in a local minimum near its start is
    replaced by one that does not).
    ``views``: at each step CLIP reads that many random crops (80-100% of the area) and flips of
    each generated image and the CLIP terms are averaged over them (as CLIPDraw and VQGAN+CLIP
    do): an image that one view of CLIP reads as the text while a classifier does not (an
    adversarial solution) scores worse than one every view reads as the text. 1: the image alone."""

    steps: int = 100
    lr: float = 0.2
    l2_weight: float = 0.0
    prompts: str | tuple[str, ...] = "plain"
    direction_weight: float = 0.5
    restarts: int = 4
    restart_noise: float = 1.0
    restart_seed: int = 0
    views: int = 2

    def __post_init__(self) -> None:
        _check("edit", "steps", self.steps, kind=int)
        _check("edit", "views", self.views, kind=int)
        _check("edit", "lr", self.lr)
        _check("edit", "l2_weight", self.l2_weight, positive=False)
        _check("edit", "direction_weight", self.direction_weight, positive=False)
        _check("edit", "restarts", self.restarts, kind=int)
        _check("edit", "restart_noise", self.restart_noise, positive=False)
        _check("edit", "restart_seed", self.restart_seed, kind=int, positive=False)
        resolve_prompts(self.prompts)


@dataclass(frozen=True)
class DirectionConfig:
    """StyleCLIP's global directions (Patashnik et al. 2021, Sec. 6) in the generator's latent.

    Each latent channel's effect on CLIP's image embedding is measured once on ``samples`` latents
    moved by +-``probe`` (in units of the channel's spread); an edit keeps the channels whose
    relevance to the text direction reaches ``threshold`` (the paper's beta) and moves by
    ``strength`` (the paper's alpha) along them.
    """

    samples: int = 256
    probe: float = 1.0
    threshold: float = 0.2
    strength: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        _check("directions", "samples", self.samples, minimum=2, positive=False, kind=int)
        _check("directions", "probe", self.probe)
        _check("directions", "threshold", self.threshold, positive=False)
        _check("directions", "seed", self.seed, kind=int, positive=False)
        if not isinstance(self.strength, (int, float)) or isinstance(self.strength, bool):
            raise ConfigError(f"directions.strength must be a number, got {self.strength!r}")
