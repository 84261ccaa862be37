"""A pretrained starting point for an encoder: its weights from a local file or the Hugging Face
cache, checked key by key.

Sources: a ``.safetensors`` file or a ``torch.save`` state dict (``.pth``/``.pt``/``.bin``, also
wrapped as ``{"state_dict": ...}`` or ``{"model": ...}``), or ``hf-hub:ORG/NAME`` when that
repository's weights are already in the local Hugging Face cache (nothing is downloaded: fetch them
first with ``huggingface-cli download ORG/NAME``). The file may hold a classifier the encoder does
not have (timm's published weights do: ``fc.*``, ``head.*``), which is skipped; a first convolution
for 3 channels is adapted to the encoder's channel count as timm does (summed for 1 channel).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from simclip.errors import MissingDependencyError, SimclipError

HF_PREFIX = "hf-hub:"
HF_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_model.safetensors")
_WRAPPERS = ("state_dict", "model")


class EncoderWeightsError(SimclipError, ValueError):
    """Encoder weights that cannot be read or do not fit the encoder; the message names the file
    and the first key at fault."""


def resolve_weights(source: str | Path) -> Path:
    """The local file ``source`` names (a path, or ``hf-hub:REPO`` found in the HF cache)."""
    text = str(source)
    if text.startswith(HF_PREFIX):
        return _from_hf_cache(text[len(HF_PREFIX):])
    path = Path(text).expanduser()
    if not path.is_file():
        raise EncoderWeightsError(f"encoder weights {text}: no such file")
    return path


def _from_hf_cache(repo: str) -> Path:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        raise MissingDependencyError("hf-hub: weights need huggingface_hub: pip install 'simclip[hub]'") from None
    for filename in HF_FILES:
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str):
            return Path(found)
    raise EncoderWeightsError(f"encoder weights hf-hub:{repo}: none of {', '.join(HF_FILES)} is in the "
                              f"Hugging Face cache; nothing is downloaded here, fetch them first with "
                              f"'huggingface-cli download {repo}'")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file or a ``torch.save`` state dict (loaded without code)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a damaged or foreign file: one line naming it
        raise EncoderWeightsError(f"encoder weights {path}: cannot be read ({type(err).__name__}: "
                                  f"{str(err).splitlines()[0] if str(err) else ''})") from None
    for key in _WRAPPERS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EncoderWeightsError(f"encoder weights {path}: not a state dict of tensors")
    return dict(state)


def load_encoder_weights(encoder: nn.Module, source: str | Path) -> Path:
    """Copy the weights ``source`` names into ``encoder`` (every parameter and buffer, shapes
    checked); returns the file read. Raises :class:`EncoderWeightsError` naming the file and the
    first missing, unexpected or mis-shaped key."""
    path = resolve_weights(source)
    state = read_state_dict(path)
    own = encoder.state_dict()
    cfg = getattr(encoder, "pretrained_cfg", None) or {}
    classifiers = cfg.get("classifier") or ()
    classifiers = (classifiers,) if isinstance(classifiers, str) else tuple(classifiers)
    state = {k: v for k, v in state.items()
             if k in own or not any(k.startswith(c + ".") for c in classifiers)}
    first_convs = cfg.get("first_conv") or ()
    first_convs = (first_convs,) if isinstance(first_convs, str) else tuple(first_convs)
    for conv in first_convs:
        key = f"{conv}.weight"
        if key in state and key in own and state[key].shape != own[key].shape:
            state[key] = _adapt_input_conv(state[key], own[key].shape)
    if "pos_embed" in state and "pos_embed" in own and state["pos_embed"].shape != own["pos_embed"].shape:
        state["pos_embed"] = _resample_pos_embed(encoder, state["pos_embed"], own["pos_embed"].shape)
    for key, value in own.items():
        if key not in state:
            if key.endswith("num_batches_tracked"):
                state[key] = value
                continue
            raise EncoderWeightsError(f"encoder weights {path}: missing key {key!r} "
                                      f"({len(set(own) - set(state))} missing in all)")
        if state[key].shape != value.shape:
            raise EncoderWeightsError(f"encoder weights {path}: {key!r} has shape {tuple(state[key].shape)}, "
                                      f"the encoder needs {tuple(value.shape)}")
    unexpected = [k for k in state if k not in own]
    if unexpected:
        raise EncoderWeightsError(f"encoder weights {path}: unexpected key {unexpected[0]!r} "
                                  f"({len(unexpected)} unexpected in all)")
    encoder.load_state_dict(state, strict=True)
    return path


def _adapt_input_conv(weight: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """A first convolution's weights for another input channel count (timm's rule), when only the
    channel count differs; otherwise returned unchanged for the shape check to report."""
    if weight.dim() != 4 or weight.shape[0] != shape[0] or weight.shape[2:] != shape[2:]:
        return weight
    if weight.shape[1] != 3:  # timm's rule starts from RGB weights
        return weight
    from timm.models import adapt_input_conv

    try:
        return adapt_input_conv(int(shape[1]), weight)
    except (ValueError, NotImplementedError, AssertionError):
        return weight


def _resample_pos_embed(encoder: nn.Module, pos: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """A timm ViT's learned positions ``[1, prefix + h*w, D]`` for the encoder's own patch grid
    (bicubic, as timm does for another image size); unchanged when the encoder is not such a ViT."""
    grid = getattr(getattr(encoder, "patch_embed", None), "grid_size", None)
    if grid is None or pos.dim() != 3 or pos.shape[-1] != shape[-1]:
        return pos
    from timm.layers import resample_abs_pos_embed

    prefix = 0 if getattr(encoder, "no_embed_class", False) else int(getattr(encoder, "num_prefix_tokens", 0))
    try:
        return resample_abs_pos_embed(pos, new_size=list(grid), num_prefix_tokens=prefix)
    except (ValueError, RuntimeError, AssertionError):
        return pos
