"""Named CLIP architectures (JSON files in ``model_configs/``) and the factory that builds them."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from simclip.clip.config import CLIPConfig
from simclip.clip.model import CLIP
from simclip.errors import UnknownNameError


def _config_files() -> dict[str, Any]:
    folder = resources.files("simclip.clip").joinpath("model_configs")
    return {p.name[:-len(".json")]: p for p in folder.iterdir() if p.name.endswith(".json")}


def list_models() -> list[str]:
    """Names accepted by :func:`create_model` and :func:`get_model_config`, sorted."""
    return sorted(_config_files())


def get_model_config(name: str) -> CLIPConfig:
    """The :class:`CLIPConfig` of the named architecture."""
    files = _config_files()
    if name not in files:
        raise UnknownNameError(f"unknown CLIP model {name!r}; choose one of: {', '.join(sorted(files))}")
    data = json.loads(files[name].read_text(encoding="utf-8"))
    data.pop("_comment", None)  # the file's explanation of its numbers
    return CLIPConfig.from_dict(data)


def create_model(name: str | CLIPConfig, **overrides: Any) -> CLIP:
    """Build a randomly initialised CLIP by name (or from a config).

    ``overrides`` replace top-level :class:`CLIPConfig` fields (``embed_dim``, ``quick_gelu``,
    ``logit_bias`` for SigLIP, ...); ``vision={...}``/``text={...}`` replace fields of one tower, e.g.
    ``create_model("tiny-vit", text={"vocab_size": tokenizer.vocab_size})``.
    """
    config = name if isinstance(name, CLIPConfig) else get_model_config(name)
    if overrides:
        config = config.with_overrides(**overrides)
    return CLIP(config)
