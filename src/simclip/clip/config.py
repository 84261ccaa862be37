"""Typed configuration of a CLIP dual encoder (Radford et al. 2021), the single source of truth.

Named architectures are JSON files in ``model_configs/`` holding ``CLIPConfig.to_dict()``; a checkpoint
carries its resolved config, and :meth:`CLIPConfig.from_dict` rebuilds it, rejecting unknown fields.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
VISION_KINDS = ("vit", "resnet", "encoder", "timm")
TEXT_KINDS = ("transformer", "hf")
TEXT_POOLINGS = ("mean", "cls", "pooler", "last")  # of kind "hf" (the transformer pools at end-of-text)
TEXT_PROJ_TYPES = ("linear", "mlp", "none")  # of kind "hf"
INTERPOLATIONS = ("bicubic", "bilinear", "nearest")
RESIZE_MODES = ("shortest", "squash")


def _positive_int(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner}.{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class CLIPVisionConfig:
    """Image tower.

    ``kind="vit"``: ViT (Dosovitskiy et al. 2021) with class token, ``ln_pre`` and ``ln_post``.
    ``kind="resnet"``: OpenAI's ModifiedResNet; ``layers`` is four block counts, ``width`` the stem width.
    ``kind="encoder"``: any encoder of :func:`simclip.models.create_encoder` (``encoder``,
    ``encoder_kwargs``) followed by a linear projection.
    ``kind="timm"``: the timm model ``encoder`` with OpenCLIP's timm head (``encoder_kwargs``: pool,
    proj, ...), as OpenCLIP checkpoints with a ``timm_model_name`` have it
    (:class:`~simclip.clip.timm_tower.TimmTower`).
    Attention heads are ``width // head_width`` (ViT) and ``32 * width // head_width`` (ResNet pool).
    """

    kind: str = "vit"
    image_size: int = 224
    in_channels: int = 3
    width: int = 768
    layers: int | tuple[int, int, int, int] = 12
    head_width: int = 64
    mlp_ratio: float = 4.0
    patch_size: int = 16
    encoder: str | None = None
    encoder_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))
        if self.kind not in VISION_KINDS:
            raise ValueError(f"vision.kind must be one of {VISION_KINDS}, got {self.kind!r}")
        for name in ("image_size", "in_channels", "width", "head_width", "patch_size"):
            _positive_int("vision", name, getattr(self, name))
        if self.kind == "resnet":
            if (not isinstance(self.layers, tuple) or len(self.layers) != 4
                    or not all(isinstance(n, int) and n >= 1 for n in self.layers)):
                raise ValueError(f"vision.layers must be four positive block counts for a ResNet, "
                                 f"got {self.layers!r}")
            if self.image_size % 32 or (32 * self.width) % self.head_width:
                raise ValueError(f"vision.image_size ({self.image_size}) must be a multiple of 32 and "
                                 f"32*width a multiple of head_width for a ResNet")
        elif self.kind == "vit":
            _positive_int("vision", "layers", self.layers)
            if self.image_size % self.patch_size:
                raise ValueError(f"vision.image_size ({self.image_size}) must be a multiple of "
                                 f"vision.patch_size ({self.patch_size})")
            if self.width % self.head_width:
                raise ValueError(f"vision.width ({self.width}) must be a multiple of "
                                 f"vision.head_width ({self.head_width})")
        elif not isinstance(self.encoder, str):
            raise ValueError(f"vision.encoder must name an encoder (a timm model for kind 'timm') when "
                             f"kind={self.kind!r}")

    @property
    def heads(self) -> int:
        """Attention heads of the transformer (ViT) or of the attention pool (ResNet)."""
        return (32 * self.width if self.kind == "resnet" else self.width) // self.head_width


@dataclass(frozen=True)
class CLIPTextConfig:
    """Text tower.

    ``kind="transformer"``: causal text transformer (Radford et al. 2019/2021), pooled at the
    end-of-text token, with CLIP's BPE tokenizer.
    ``kind="hf"``: the Hugging Face model ``hf_model`` (a known name such as ``"all-MiniLM-L6-v2"``,
    a folder or a cached Hub id) with its own tokenizer, ``pooling`` (``"mean"``, ``"cls"``,
    ``"pooler"``, ``"last"``; ``None``: ``"last"`` for decoder-only models, else ``"mean"``) and a
    new projection (``proj_type``: ``"linear"``, ``"mlp"``, ``"none"``;
    :class:`~simclip.clip.hf_text.HFTextTower`); its weights come from the folder when
    ``hf_pretrained`` (else a random start, or a checkpoint). It is locked as in LiT (Zhai et al.
    2022) except its top ``unlocked_layers`` layers (all of them: the whole model trains).
    ``vocab_size``, ``width``, ``heads``, ``layers`` and ``mlp_ratio`` must then state the
    pretrained model's (checked when the tower is built); ``context_length`` is where its tokenizer
    truncates. ``unlocked_layers`` is also what ``CLIP.lock_text_tower()`` leaves trainable by
    default.
    """

    context_length: int = 77
    vocab_size: int = 49408
    width: int = 512
    heads: int = 8
    layers: int = 12
    mlp_ratio: float = 4.0
    kind: str = "transformer"
    hf_model: str | None = None
    pooling: str | None = None
    unlocked_layers: int = 0
    proj_type: str = "linear"
    hf_pretrained: bool = True

    def __post_init__(self) -> None:
        for name in ("context_length", "vocab_size", "width", "heads", "layers"):
            _positive_int("text", name, getattr(self, name))
        if self.width % self.heads:
            raise ValueError(f"text.width ({self.width}) must be a multiple of text.heads ({self.heads})")
        if self.kind not in TEXT_KINDS:
            raise ValueError(f"text.kind must be one of {TEXT_KINDS}, got {self.kind!r}")
        if (self.kind == "hf") != isinstance(self.hf_model, str):
            raise ValueError(f"text.hf_model must name a pretrained model when text.kind='hf' and be "
                             f"null otherwise, got kind={self.kind!r}, hf_model={self.hf_model!r}")
        if self.kind == "hf" and self.pooling is not None and self.pooling not in TEXT_POOLINGS:
            raise ValueError(f"text.pooling must be one of {TEXT_POOLINGS}, got {self.pooling!r}")
        if self.proj_type not in TEXT_PROJ_TYPES:
            raise ValueError(f"text.proj_type must be one of {TEXT_PROJ_TYPES}, got {self.proj_type!r}")
        if self.kind == "transformer" and self.pooling is not None:
            raise ValueError(f"text.pooling applies to kind 'hf' only (the transformer pools at the "
                             f"end-of-text token), got {self.pooling!r}")
        if (not isinstance(self.unlocked_layers, int) or isinstance(self.unlocked_layers, bool)
                or not 0 <= self.unlocked_layers <= self.layers):
            raise ValueError(f"text.unlocked_layers must be an integer in [0, text.layers="
                             f"{self.layers}], got {self.unlocked_layers!r}")


@dataclass(frozen=True)
class PreprocessConfig:
    """How images become model input: resize (shortest side, or both sides when ``"squash"``), centre
    crop to ``image_size``, scale to [0, 1], normalise with ``mean``/``std`` (one value per channel)."""

    image_size: int = 224
    mean: tuple[float, ...] = OPENAI_MEAN
    std: tuple[float, ...] = OPENAI_STD
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        _positive_int("preprocess", "image_size", self.image_size)
        if len(self.mean) != len(self.std) or not self.mean:
            raise ValueError(f"preprocess mean {self.mean} and std {self.std} must have one value "
                             f"per channel")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"preprocess std must be positive, got {self.std}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {self.interpolation!r}")
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {self.resize_mode!r}")


@dataclass(frozen=True)
class CLIPConfig:
    """A dual encoder: towers, shared embedding size, activation, logit scale/bias and preprocessing.

    ``quick_gelu``: ``x * sigmoid(1.702 x)`` as OpenAI trained with, else exact GELU.
    ``logit_bias``: add a learned bias to the logits (SigLIP, Zhai et al. 2023); the scale then starts
    at ln(10) and the bias at ``init_logit_bias`` (-10). Otherwise the scale starts at ln(1/0.07).
    """

    embed_dim: int = 512
    vision: CLIPVisionConfig = field(default_factory=CLIPVisionConfig)
    text: CLIPTextConfig = field(default_factory=CLIPTextConfig)
    quick_gelu: bool = False
    logit_bias: bool = False
    init_logit_scale: float | None = None
    init_logit_bias: float = -10.0
    image_mean: tuple[float, ...] = OPENAI_MEAN
    image_std: tuple[float, ...] = OPENAI_STD
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"

    def __post_init__(self) -> None:
        if isinstance(self.vision, dict):
            object.__setattr__(self, "vision", _from_dict(CLIPVisionConfig, self.vision, "vision"))
        if isinstance(self.text, dict):
            object.__setattr__(self, "text", _from_dict(CLIPTextConfig, self.text, "text"))
        _positive_int("config", "embed_dim", self.embed_dim)
        preprocess = self.preprocess  # validates mean/std/interpolation/resize mode
        object.__setattr__(self, "image_mean", preprocess.mean)
        object.__setattr__(self, "image_std", preprocess.std)
        if len(preprocess.mean) != self.vision.in_channels:
            raise ValueError(f"image_mean/image_std have {len(preprocess.mean)} values but "
                             f"vision.in_channels is {self.vision.in_channels}")

    @property
    def preprocess(self) -> PreprocessConfig:
        """The preprocessing this model's images need (image size from the vision tower)."""
        return PreprocessConfig(self.vision.image_size, self.image_mean, self.image_std,
                                self.interpolation, self.resize_mode)

    @property
    def logit_scale_init(self) -> float:
        if self.init_logit_scale is not None:
            return float(self.init_logit_scale)
        return math.log(10.0) if self.logit_bias else math.log(1 / 0.07)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``CLIPConfig.from_dict(cfg.to_dict()) == cfg``."""
        out = dataclasses.asdict(self)
        out["vision"]["layers"] = (list(self.vision.layers) if isinstance(self.vision.layers, tuple)
                                   else self.vision.layers)
        for key in ("image_mean", "image_std"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CLIPConfig:
        """Build from a dict such as a ``model_configs/*.json`` file; unknown fields raise ``ValueError``."""
        return _from_dict(cls, data, "config")

    def with_overrides(self, **overrides: Any) -> CLIPConfig:
        """A copy with top-level fields replaced; ``vision=``/``text=`` dicts update those fields only."""
        data = self.to_dict()
        for key, value in overrides.items():
            if key in ("vision", "text") and isinstance(value, dict):
                _check_fields(CLIPVisionConfig if key == "vision" else CLIPTextConfig, value, key)
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return CLIPConfig.from_dict(data)


def _check_fields(cls: type, data: dict[str, Any], where: str) -> None:
    if not isinstance(data, dict):
        raise TypeError(f"{where} must be a dict, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown field(s) {unknown} in {where}; known: {sorted(known)}")


_T = TypeVar("_T")


def _from_dict(cls: type[_T], data: dict[str, Any], where: str) -> _T:
    _check_fields(cls, data, where)
    return cls(**data)
